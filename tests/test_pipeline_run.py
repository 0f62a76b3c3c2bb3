"""Pipelines on the local process pool: DAG, sweep selection, caching, skipping, rerun, CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pipeline_helpers import write_notebook

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main

# The selection metric is logged at the notebook's top level (onto the stage run), beside a child run.
FIT = "import jupyter_mlops as mlops\nwith mlops.start_run('fit'):\n    pass\nmlops.log_metric('score', -(C - 1.0) ** 2)"


def make_pipeline(root: Path, *, fail_eval: bool = False) -> Path:
    write_notebook(root / "prep.ipynb", ["open('clean.txt', 'w').write(str(seed))"], "seed = 0")
    write_notebook(root / "train.ipynb", [FIT], "C = 0.0\nsrc = ''")
    # Top-level metrics in a stage notebook land on the stage run: rerun compares them.
    evaluate = "assert best == 1.0, best\nimport jupyter_mlops as mlops\nmlops.log_metric('best', best)"
    write_notebook(root / "evaluate.ipynb", ["1/0" if fail_eval else evaluate], "best = 0.0")
    write_notebook(root / "report.ipynb", ["print('report')"], "x = 0")
    path = root / "pipeline.yaml"
    path.write_text(
        """
name: demo
params: {seed: 3}
stages:
  prep:
    notebook: prep.ipynb
    parameters: {seed: "${params.seed}"}
    outputs: [{file: clean.txt}]
  train:
    notebook: train.ipynb
    parameters: {src: "${stages.prep.outputs.file:clean.txt}"}
    sweep: {grid: {C: [0.5, 1.0]}, select: {metric: score, mode: max}}
  evaluate:
    notebook: evaluate.ipynb
    parameters: {best: "${stages.train.params.C}"}
  report:
    notebook: report.ipynb
    needs: [evaluate]
""",
        encoding="utf-8",
    )
    return path


def test_pipeline_runs_selects_caches_and_reruns(ws: mlops.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_pipeline(ws.settings.root)
    first = ws.pipelines.run_pipeline(path, max_parallel=2)
    assert first.status == "SUCCEEDED", str(first)
    assert first.selected["train"]["params"]["C"] == 1.0
    assert sorted(s.outcome for s in first.stages) == ["SUCCEEDED"] * 5
    stage_runs = {s.run_id for s in first.stages}
    children = [r for r in ws.list_runs() if r.parent_run_id in stage_runs]
    assert len(children) == 2  # one `fit` run inside each sweep variant
    assert all(r.parent_run_id == first.run_id for r in ws.list_runs() if r.run_id in stage_runs)

    t0 = time.perf_counter()
    second = ws.pipelines.run_pipeline(path)
    elapsed = time.perf_counter() - t0
    assert second.status == "SUCCEEDED"
    assert [s.outcome for s in second.stages] == ["CACHED"] * 5
    assert {s.source_run_id for s in second.stages} == stage_runs
    assert second.run_id is None  # nothing executed, no kernel, no pipeline run in MLflow
    assert elapsed < 5
    assert ws.audit_events(action="stage.reuse")

    (ws.settings.root / "clean.txt").write_text("tampered")
    plan = ws.pipelines.run_pipeline(path, dry_run=True)
    assert [s["action"] for s in plan.steps][0] == "run"

    check = ws.pipelines.rerun(first.stage("evaluate")[0].run_id or "")
    assert check.passed, str(check)
    assert check.compared["best"]["recorded"] == check.compared["best"]["now"] == 1.0
    assert ws.audit_events(action="stage.rerun_check")[0].payload["passed"] is True

    # The stage_run_id printed by `run --json` is a run id too; a run with no metrics does not "reproduce".
    report = first.stage("report")[0]
    root = str(ws.settings.root)
    capsys.readouterr()
    assert main(["-C", root, "runs", "show", report.stage_run_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == report.run_id
    assert main(["-C", root, "rerun", report.stage_run_id, "--json"]) == 1
    nothing = json.loads(capsys.readouterr().out)
    assert nothing["passed"] is False and nothing["compared"] == {} and nothing["source_run_id"] == report.run_id
    assert "nothing to compare: the recorded run logged no metrics" in nothing["message"]


def test_failed_stage_skips_downstream_and_cli_exit_codes(ws: mlops.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_pipeline(ws.settings.root, fail_eval=True)
    code = main(["-C", str(ws.settings.root), "run", str(path), "--stage", "report", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    outcomes = {(s["stage"], s["outcome"]) for s in out["stages"]}
    assert ("evaluate", "FAILED") in outcomes and ("report", "SKIPPED") in outcomes
    assert "cell 1 raised ZeroDivisionError" in next(s["message"] for s in out["stages"] if s["stage"] == "evaluate")
    assert ws.audit_events(action="stage.skipped")[0].payload["stage"] == "report"
    assert ws.audit_events(action="pipeline.end")[0].payload["status"] == "FAILED"

    assert main(["-C", str(ws.settings.root), "run", str(ws.settings.root / "nope.ipynb")]) == 2
    assert main(["-C", str(ws.settings.root), "run", str(path), "-p", "a", "1"]) == 2
    (ws.settings.root / "cycle.yaml").write_text("stages:\n  a: {notebook: prep.ipynb, needs: [a]}\n")
    assert main(["-C", str(ws.settings.root), "run", str(ws.settings.root / "cycle.yaml"), "--dry-run"]) == 2


def test_declared_output_not_produced_fails(ws: mlops.Workspace) -> None:
    write_notebook(ws.settings.root / "noop.ipynb", ["x = 1"])
    path = ws.settings.root / "p.yaml"
    path.write_text("stages:\n  only: {notebook: noop.ipynb, outputs: [{file: missing.csv}]}\n")
    result = ws.pipelines.run_pipeline(path)
    assert result.status == "FAILED"
    assert "declared output(s) not produced: missing.csv" in result.stages[0].message


def test_local_pool_starts_from_inside_ipython(ws: mlops.Workspace) -> None:
    """IPython replaces __main__ with a module that has no __spec__; spawn must still work."""
    import sys
    import types

    from jupyter_mlops.executors.local import LocalExecutor

    saved = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")  # what IPython leaves: no __spec__, no __file__
    del sys.modules["__main__"].__spec__
    try:
        pool = LocalExecutor(max_workers=1)
        try:
            assert pool.submit(sum, [1, 2, 3]).result(timeout=120) == 6
        finally:
            pool.close()
    finally:
        sys.modules["__main__"] = saved
