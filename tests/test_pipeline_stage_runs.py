"""A stage notebook is a tracked run: what it logs at the top level, and what a sweep does with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pipeline_helpers import write_notebook

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main
from jupyter_mlops.pipelines.dag import resolve_parameters
from jupyter_mlops.pipelines.execute import DefaultKernelWarning, kernel_for

FIT = """%load_ext jupyter_mlops
import jupyter_mlops as mlops
from sklearn.linear_model import LogisticRegression
train = mlops.load_data("toy-train@latest")
X, y = train[["a", "b"]], train["label"]
mlops.log_param("features", "a,b")
mlops.log_metric("cv", 0.5 + C / 10)
model = LogisticRegression(C=C).fit(X, y)
report = mlops.evaluate(model, X, y, n_bootstrap=0)  # before the model is logged: attached when it is
version = mlops.log_model(model, "toy-clf", X_example=X.head())"""

TRACKED = """%%track inner --params C
mlops.log_metric("inner", 1.0)"""


def _toy(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "label": (a + b > 0).astype(int)})


def _jupytext_notebook(path: Path, cells: list[tuple[str, str, list[str]]]) -> Path:
    """A notebook with no kernelspec in its metadata, as jupytext writes one."""
    nb = {
        "cells": [
            {"id": cid, "cell_type": "code", "metadata": {"tags": tags}, "source": src, "outputs": [], "execution_count": None}
            for cid, src, tags in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_top_level_of_a_sub_folder_stage_without_kernelspec_is_its_tracked_run(ws: mlops.Workspace) -> None:
    root = ws.settings.root
    mlops.version_data(_toy(60, 1), "toy-train")
    mlops.version_data(_toy(20, 2), "toy-test")  # declared as an input, never loaded
    _jupytext_notebook(root / "stages" / "fit.ipynb", [("p", "C = 1.0", ["parameters"]), ("fit", FIT, []), ("t", TRACKED, [])])
    (root / "pipeline.yaml").write_text(
        "stages:\n  fit:\n    notebook: stages/fit.ipynb\n    inputs: [toy-test]\n    outputs: [{model: toy-clf}]\n"
    )
    result = ws.pipelines.run_pipeline(root / "pipeline.yaml")
    assert result.status == "SUCCEEDED", str(result)
    rec = result.stages[0]
    assert rec.outputs == {"model:toy-clf": "toy-clf@1"}
    # the top level's (its own, and the evaluation's eval_*) and the %%track child's
    assert rec.metrics["cv"] == 0.6 and rec.metrics["inner"] == 1.0 and rec.metrics["eval_accuracy"] == 1.0
    stage = ws.tracking.get_run(rec.run_id or "")
    assert stage["params"] == {"features": "a,b"}  # logged by the notebook at its top level
    assert "no kernelspec" in stage["tags"]["mlops.notes"] and "'python3'" in stage["tags"]["mlops.notes"]

    mv = ws.models.get("toy-clf@1")  # logged at the top level: the stage run is the training run
    assert mv.run_id == rec.run_id
    assert ws.tracking.client.get_model_version("toy-clf", "1").run_id == rec.run_id
    assert mv.data_versions == ("toy-train@1", "toy-test@1")  # X_example's version, then the declared input
    report = ws.evaluation.latest_for("toy-clf@1")
    assert report is not None and report.run_id == rec.run_id
    assert report.data["X"]["data_version"] == "toy-train@1" and report.data["X"]["derived"]["columns"] == ["a", "b"]

    inner = next(r for r in ws.list_runs() if r.name == "inner")
    assert inner.parent_run_id == rec.run_id
    assert (inner.notebook, inner.cell_id) == ("stages/fit.ipynb", "t")  # sub-folder stage: cell found in the file


def test_a_sweep_that_cannot_select_fails_its_stage_with_the_reason(
    ws: mlops.Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ws.settings.root
    write_notebook(root / "pick.ipynb", ["import jupyter_mlops as mlops\nmlops.log_metric('other', x)"], "x = 0")
    (root / "sweep.yaml").write_text(
        "stages:\n  pick:\n    notebook: pick.ipynb\n    sweep: {grid: {x: [1]}, select: {metric: nope}}\n"
    )
    assert main(["-C", str(root), "run", str(root / "sweep.yaml"), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "FAILED"
    assert [(s["variant"], s["outcome"]) for s in out["stages"]] == [(0, "SUCCEEDED"), (None, "FAILED")]
    reason = out["stages"][1]["message"]
    assert reason.startswith("sweep selection failed: no sweep run recorded the selection metric 'nope'")
    assert "(they recorded: other)" in reason
    again = ws.pipelines.run_pipeline(root / "sweep.yaml")  # the variant is reused; the stage still fails
    text = str(again)
    assert "pick[0]" in text and "CACHED" in text and "sweep selection failed" in text and "1 failed" in text
    assert ws.audit_events(action="stage.end")[0].payload["message"].startswith("sweep selection failed")


def test_outputs_model_names_the_one_model_a_stage_declares() -> None:
    results = {"train": {"outputs": {"model:arrests-clf": "arrests-clf@3", "arrests-train": "ab12"}}}
    assert resolve_parameters("${stages.train.outputs.model}", {}, results) == "arrests-clf@3"
    assert resolve_parameters("${stages.train.outputs.model:arrests-clf}", {}, results) == "arrests-clf@3"


def test_a_notebook_without_kernelspec_gets_python3_with_a_warning(tmp_path: Path) -> None:
    with pytest.warns(DefaultKernelWarning, match="names no kernel"):
        kernel, note = kernel_for({"metadata": {}}, None, tmp_path / "x.ipynb")
    assert kernel == "python3" and note is not None and note.startswith("x.ipynb names no kernel")
    assert kernel_for({"metadata": {"kernelspec": {"name": "ir"}}}, None, tmp_path / "x.ipynb") == (None, None)
    assert kernel_for({"metadata": {}}, "julia", tmp_path / "x.ipynb") == ("julia", None)
