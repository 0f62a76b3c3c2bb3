"""The magics through a real InteractiveShell."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from mlflow import MlflowClient

import jupyter_mlops as mlops


@pytest.fixture
def ip(ws: mlops.Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.chdir(ws.settings.root)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_mlops")
    shell.user_ns.clear()
    shell.init_user_ns()
    yield shell
    shell.run_line_magic("unload_ext", "jupyter_mlops")


def _last_run(ws: mlops.Workspace) -> object:
    run = ws.list_runs(limit=1).runs[0]
    return MlflowClient(tracking_uri=ws.settings.tracking_uri).get_run(run.run_id)


def test_load_ext_imports_nothing_heavy() -> None:
    code = (
        "import sys, time; from IPython.core.interactiveshell import InteractiveShell; ip = InteractiveShell.instance();"
        "t = time.perf_counter(); ip.run_line_magic('load_ext', 'jupyter_mlops'); dt = time.perf_counter() - t;"
        "heavy = [m for m in ('mlflow', 'pandas', 'sqlalchemy', 'sklearn', 'papermill') if m in sys.modules];"
        "print(heavy, 'track' in ip.magics_manager.magics['cell'], 'mlops' in ip.magics_manager.magics['line'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] True True"


def test_track_records_params_metrics_and_source(
    ip: InteractiveShell, ws: mlops.Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    cell = "C = 0.5\npenalty = 'l2'\nimport jupyter_mlops as mlops\nmlops.log_metric('acc', 0.8)\nC * 2\n"
    result = ip.run_cell(f"%%track train --params C,penalty --tags team=risk stage=dev\n{cell}")
    assert result.error_in_exec is None
    assert result.result == 1.0  # the trailing expression is still the cell's value
    run = _last_run(ws)
    # one line says what was recorded: run, experiment, key metrics (no bookkeeping metrics)
    out = capsys.readouterr().out.strip().splitlines()
    line = f"\u2713 run 'train' ({run.info.run_id[:8]}) in experiment '{ws.settings.default_experiment}': acc=0.8"
    assert out == [line, "Out[0]: 1.0"]
    assert run.info.status == "FINISHED" and run.info.run_name == "train"
    assert run.data.params == {"C": "0.5", "penalty": "l2"}
    assert run.data.metrics["acc"] == 0.8 and set(run.data.metrics) == {"acc", "mlops.wall_time_s"}
    assert run.data.tags["team"] == "risk" and run.data.tags["stage"] == "dev"
    import hashlib

    assert run.data.tags["mlops.source_sha256"] == hashlib.sha256(cell.encode()).hexdigest()
    cell_file = Path(MlflowClient(tracking_uri=ws.settings.tracking_uri).download_artifacts(run.info.run_id, "mlops/cell.py"))
    assert cell_file.read_text() == cell


def test_failing_cell_raises_unchanged_and_run_is_failed(ip: InteractiveShell, ws: mlops.Workspace) -> None:
    result = ip.run_cell("%%track\nx = 1\nraise ZeroDivisionError('nope')\n")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    assert str(result.error_in_exec) == "nope"
    run = _last_run(ws)
    assert run.info.status == "FAILED"
    assert run.data.tags["mlops.error"] == "ZeroDivisionError: nope"
    assert ip.user_ns["x"] == 1


def test_interrupted_cell_is_killed(ip: InteractiveShell, ws: mlops.Workspace) -> None:
    ip.run_cell("%%track\nraise KeyboardInterrupt\n")
    assert _last_run(ws).info.status == "KILLED"


def test_missing_param_is_noted_and_the_run_still_logged(ip: InteractiveShell, ws: mlops.Workspace) -> None:
    result = ip.run_cell("%%track --params alpha,beta\nalpha = 3\n")
    assert result.error_in_exec is None
    run = _last_run(ws)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "3"}
    assert "'beta' was not defined" in run.data.tags["mlops.notes"]


def test_unknown_option_is_a_usage_error_not_an_exit(ip: InteractiveShell, ws: mlops.Workspace) -> None:
    from IPython.core.error import UsageError

    before = len(ws.list_runs().runs)
    result = ip.run_cell("%%track --bogus\n1\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert "usage: %%track" in str(result.error_in_exec)
    result = ip.run_cell("%mlops runs frobnicate")
    assert isinstance(result.error_in_exec, UsageError)
    assert len(ws.list_runs().runs) == before


def test_line_magic_lists_runs_and_verifies(ip: InteractiveShell, ws: mlops.Workspace) -> None:
    ip.run_cell("%%track first\npass\n")
    table = ip.run_cell("%mlops runs list --limit 5").result
    assert [r.name for r in table] == ["first"]
    bare = ip.run_cell("%mlops runs --limit 5").result  # the short form
    assert [r.run_id for r in bare] == [r.run_id for r in table]
    assert "first" in table._repr_html_()
    verified = ip.run_cell("%mlops audit verify").result
    assert verified.ok and verified.checked == 3


def test_mlops_errors_show_one_line(ip: InteractiveShell, ws: mlops.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    result = ip.run_cell("%mlops runs show 0123456789abcdef0123456789abcdef")
    assert isinstance(result.error_in_exec, mlops.NotFound)
    out = capsys.readouterr().out
    assert "NotFound: no run with id" in out
    assert "Traceback" not in out


def test_mlops_init_makes_the_workspace_current(ip: InteractiveShell, tmp_path: Path) -> None:
    target = tmp_path / "other"
    ip.run_cell(f"%mlops init {target}")
    assert (target / ".mlops" / "config.toml").exists()
    assert mlops.current_workspace().settings.root == target.resolve()
