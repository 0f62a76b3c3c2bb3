"""Progress in notebooks: the widget follows the scheduler's events (synthetic and from a real kernel)."""

from __future__ import annotations

import io
import json

from pipeline_helpers import write_notebook

import jupyter_mlops as mlops
from jupyter_mlops.pipelines.progress import TerminalProgress
from jupyter_mlops.widgets.progress import RunProgress


def test_widget_values_follow_pipeline_events() -> None:
    widget = RunProgress(tick=0)
    seen: list[str] = []
    widget.status.observe(lambda change: seen.append(change["new"]), names="value")
    widget({"event": "pipeline_start", "pipeline": "demo<x>", "pipeline_run_id": "p", "stages": ["prep", "train"]})
    assert "pipeline demo&lt;x&gt;" in widget.title.value
    assert widget.state == "RUNNING"
    widget({"event": "stage_end", "stage": "prep", "variant": None, "outcome": "CACHED", "seconds": 0.0, "message": "reused"})
    widget({"event": "stage_start", "stage": "train", "variant": 0, "params": {"C": 1}})
    widget({"event": "stage_start", "stage": "train", "variant": 1, "params": {"C": 2}})
    assert widget.rows()["train[0]"]["outcome"] == "RUNNING"
    assert "running: train[0], train[1]" in widget.current.value
    widget({"event": "stage_end", "stage": "train", "variant": 0, "outcome": "SUCCEEDED", "seconds": 1.5, "message": ""})
    widget({"event": "stage_end", "stage": "train", "variant": 1, "outcome": "FAILED", "seconds": 2.0, "message": "cell 1 <b>"})
    rows = widget.rows()
    assert rows["prep"]["outcome"] == "CACHED"
    assert (rows["train[0]"]["outcome"], rows["train[0]"]["seconds"]) == ("SUCCEEDED", 1.5)
    assert rows["train[1]"]["outcome"] == "FAILED"
    assert "cell 1 &lt;b&gt;" in widget.table.value and "<b>" not in widget.table.value
    widget({"event": "pipeline_end", "pipeline_run_id": "p", "status": "FAILED"})
    assert widget.state == "FAILED"
    assert [s.split(">")[1].split("<")[0] for s in seen] == ["RUNNING", "FAILED"]
    assert "running:" not in widget.current.value


def test_terminal_progress_plain_lines() -> None:
    out = io.StringIO()
    show = TerminalProgress(out)  # not a terminal: plain lines
    show({"event": "pipeline_start", "pipeline": "demo", "stages": ["a"]})
    show({"event": "stage_start", "stage": "a", "variant": None})
    show({"event": "stage_end", "stage": "a", "variant": None, "outcome": "FAILED", "seconds": 1.25, "message": "boom"})
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("pipeline demo: 1 stage(s)")
    assert lines[1].endswith("a started")
    assert lines[2].endswith("a FAILED (1.2s) - boom")


def test_widget_in_a_kernel_tracks_a_notebook_run(ws: mlops.Workspace) -> None:
    """A notebook (run in a real kernel) runs another one with progress="widget" and checks the widget."""
    write_notebook(ws.settings.root / "inner.ipynb", ["x = 1", "y = x + 1"])
    check = (
        "import json\n"
        "import jupyter_mlops as mlops\n"
        "from jupyter_mlops.widgets import progress as wp\n"
        "made = []\n"
        "orig = wp.show_progress\n"
        "def spy(**kw):\n"
        "    w = orig(tick=0)\n"
        "    states = []\n"
        "    w.status.observe(lambda c: states.append(c['new']), names='value')\n"
        "    made.append((w, states))\n"
        "    return w\n"
        "wp.show_progress = spy\n"
        "rec = mlops.run_notebook('inner.ipynb', progress='widget')\n"
        "w, states = made[0]\n"
        "result = {'outcome': rec.outcome, 'state': w.state, 'rows': w.rows(), 'cell': w.cell,\n"
        "          'states': [s.split('>')[1].split('<')[0] for s in states]}\n"
        "open('widget.json', 'w').write(json.dumps(result))"
    )
    outer = write_notebook(ws.settings.root / "outer.ipynb", [check])
    rec = ws.pipelines.run_notebook(outer, timeout=120)
    assert rec.outcome == "SUCCEEDED", rec.message
    got = json.loads((ws.settings.root / "widget.json").read_text())
    assert got["outcome"] == "SUCCEEDED"
    assert got["state"] == "SUCCEEDED"
    assert got["states"] == ["RUNNING", "SUCCEEDED"]
    assert got["rows"]["inner"]["outcome"] == "SUCCEEDED"
    assert got["rows"]["inner"]["seconds"] > 0
    assert got["cell"] == 1  # the last cell it saw start


def test_a_failed_stage_names_its_cell_and_error_and_links_the_output_notebook(ws: mlops.Workspace) -> None:
    root = ws.settings.root
    write_notebook(root / "bad.ipynb", ["x = 1", "raise ValueError('no rows <left>')"])
    (root / "fail.yaml").write_text("name: fail\nstages:\n  bad:\n    notebook: bad.ipynb\n")
    widget = RunProgress(tick=0)
    result = ws.pipelines.run_pipeline(root / "fail.yaml", progress=widget)
    assert result.status == "FAILED"
    row = widget.rows()["bad"]
    stage = result.stages[0]
    assert row["cell_index"] == stage.cell_index == 1
    assert row["error"] == "ValueError: no rows <left>"
    out = row["output_notebook"]
    assert out and not out.startswith("/") and (root / out).is_file()  # relative to the project, and there
    html = widget.table.value
    assert "<b>cell 1</b>: ValueError: no rows &lt;left&gt;" in html
    assert f"<a href='{out}' target='_blank' rel='noopener'>output notebook {out}</a>" in html
