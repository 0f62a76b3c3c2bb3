"""Running one notebook: tracked stage run, child runs, our own outcome classification."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from pipeline_helpers import write_notebook

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.pipelines.tracked import UnknownParameterWarning
from jupyter_mlops.tracking.schema import runs


def _statuses(ws: mlops.Workspace) -> list[str]:
    with ws.db.read() as conn:
        return [r.status for r in conn.execute(sa.select(runs.c.status))]


def test_success_tracks_children_metrics_and_output(ws: mlops.Workspace) -> None:
    nb = write_notebook(
        ws.settings.root / "train.ipynb",
        [
            "import jupyter_mlops as mlops\nwith mlops.start_run('fit') as r:\n    r.log_metric('score', a * 2)",
            "import os\nprint('parent', os.environ['JUPYTER_MLOPS_PARENT_RUN_ID'])",  # set while the kernel booted
        ],
        "a = 1",
    )
    with pytest.warns(UnknownParameterWarning, match="zz"):
        rec = mlops.run_notebook(nb, {"a": 3, "zz": 1}, output=ws.settings.root / "out" / "train.out.ipynb")
    assert rec.outcome == "SUCCEEDED"
    assert rec.metrics == {"score": 6.0}
    assert rec.unknown_parameters == ("zz",)
    assert Path(rec.output_path or "").is_file()
    assert f"parent {rec.run_id}" in Path(rec.output_path or "").read_text()
    assert rec.output_object_id and ws.objects.verify(rec.output_object_id) is None
    children = [r for r in ws.list_runs() if r.parent_run_id == rec.run_id]
    assert [c.name for c in children] == ["fit"]
    ev = ws.audit_events(action="stage.end")[0]
    assert ev.payload["outcome"] == "SUCCEEDED" and ev.payload["unknown_parameters"] == ["zz"]
    lineage = ws.lineage("run", rec.run_id or "")
    assert any(e.relation == "produced" and e.dst_id == rec.output_object_id for e in lineage.edges)
    assert set(_statuses(ws)) == {"FINISHED"}


@pytest.mark.parametrize(
    ("cells", "outcome", "ename"),
    [
        (["x = 1", "1/0", "print('never')"], "FAILED", "ZeroDivisionError"),
        (["import sys; sys.exit(0)", "print('never')"], "EXITED_EARLY", "SystemExit"),
        (["import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "print('never')"], "KILLED", "DeadKernelError"),
        (["import time; time.sleep(60)", "print('never')"], "TIMED_OUT", "CellTimeoutError"),
    ],
    ids=["error", "sys-exit", "kernel-dies", "timeout"],
)
def test_bad_endings_are_classified_and_output_kept(ws: mlops.Workspace, cells: list[str], outcome: str, ename: str) -> None:
    nb = write_notebook(ws.settings.root / "bad.ipynb", cells)
    rec = ws.pipelines.run_notebook(nb, timeout=3)
    assert rec.outcome == outcome
    assert rec.ename == ename
    assert rec.cell_index == (1 if outcome == "FAILED" else 0)
    assert rec.exit_code == 1
    assert Path(rec.output_path or "").is_file()
    assert "RUNNING" not in _statuses(ws)
    assert _statuses(ws) == ["FAILED"]


def test_parameters_without_parameters_cell_write_nothing(ws: mlops.Workspace) -> None:
    nb = write_notebook(ws.settings.root / "plain.ipynb", ["print(1)"])
    before = len(ws.audit_events(limit=1000))
    with pytest.raises(InvalidInput, match="no cell tagged 'parameters'"):
        ws.pipelines.run_notebook(nb, {"a": 1})
    with pytest.raises(InvalidInput, match="no such file: .*missing.ipynb"):
        ws.pipelines.run_notebook(ws.settings.root / "missing.ipynb")
    assert len(ws.audit_events(limit=1000)) == before
    assert _statuses(ws) == []


def test_a_stage_run_that_cannot_open_stops_its_kernel_and_records_nothing(tmp_path: Path) -> None:
    # The kernel is launched before the stage run opens (the two overlap); when opening fails,
    # the kernel must not outlive the error and nothing may be recorded.
    import os

    from jupyter_mlops.errors import WorkspaceCorrupt

    mlops.init(tmp_path / "p", user="alice")
    nb = write_notebook(tmp_path / "p" / "nb.ipynb", ["print('never')"])
    (tmp_path / "p" / ".mlops" / "mlflow.db").write_bytes(b"not a database" * 100)
    ws = mlops.Workspace.open(tmp_path / "p", user="alice")
    before = len(ws.audit_events(limit=1000))

    def children() -> set[str]:
        return set(Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split())

    others = children()
    with pytest.raises(WorkspaceCorrupt, match="mlflow.db"):
        ws.pipelines.run_notebook(nb)
    assert children() <= others  # no kernel left behind
    assert len(ws.audit_events(limit=1000)) == before
    assert _statuses(ws) == []
    assert not list((tmp_path / "p" / ".mlops").glob("outputs/*.ipynb"))
