"""Dashboards: errors that clear stale rows, one time format, metric directions, a fresh kernel's first page.

Real workspace and runs; the fresh-kernel check starts a new Python process so that MLflow is not
imported yet, as in a kernel that has just started.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dashboard_scenario import make_runs

import jupyter_mlops as mlops
from jupyter_mlops.core.direction import lower_is_better
from jupyter_mlops.widgets.common import iso_time, plural
from jupyter_mlops.widgets.experiments import ExperimentsDashboard, sort_caption


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("numbers") / "project"
    ws = mlops.init(root, user="alice")
    make_runs(ws, 3)
    with ws.start_run("one", experiment="single") as run:
        run.log_metrics({"brier": 0.2, "log_loss": 0.5, "accuracy": 0.8, "mlops.overhead_s": 0.01})
    return root


def test_metric_directions_and_captions() -> None:
    lower = [
        "loss",
        "val_loss",
        "brier",
        "log_loss",
        "rmse",
        "demographic_parity_difference",
        "false_positive_rate",
        "fit_seconds",
    ]
    higher = ["accuracy", "f1", "roc_auc", "recall", "demographic_parity_ratio", "selection_rate"]
    assert all(lower_is_better(m) for m in lower) and not any(lower_is_better(m) for m in higher)
    assert sort_caption("attributes.start_time DESC") == "sorted by start time, newest first"
    assert sort_caption("metrics.`brier` ASC") == "sorted by brier, lowest first (best first)"
    assert sort_caption("metrics.accuracy DESC") == "sorted by accuracy, highest first (best first)"
    assert iso_time("2026-03-01T09:30:00.123456+00:00").startswith("2026-03-01T") and iso_time("x") == "x"
    assert iso_time("2026-03-01T09:30:00+00:00")[-6] in "+-"  # always with an offset
    assert (plural(1, "run"), plural(3, "run")) == ("1 run", "3 runs")


def test_experiments_table_directions_hidden_metrics_and_bad_filter(project: Path) -> None:
    ws = mlops.Workspace.open(project, user="alice")
    d = ExperimentsDashboard(ws, experiment="single")
    labels = dict(d.experiment.options)
    assert "single (1 run)" in labels and "arrests (3 runs)" in labels
    cols = {c["label"]: c for c in d.table.columns}
    assert "mlops.overhead_s" not in cols  # bookkeeping hidden by default
    assert (cols["brier"]["first"], cols["log_loss"]["first"], cols["accuracy"]["first"]) == ("ASC", "ASC", "DESC")
    assert d.table.rows[0]["started"][-6] in "+-" and "sorted by start time, newest first" in d.table.caption
    d.show_internal.value = True
    assert "mlops.overhead_s" in {c["label"] for c in d.table.columns}
    # a bad filter: one line naming the token and the accepted form; the old rows are gone
    d.query.value = "accuracy > 0.8"
    assert d.last_error is not None and "unknown key 'accuracy'" in d.last_error and "metrics.accuracy > 0.8" in d.last_error
    assert "\n" not in d.last_error and "tracking URI" not in d.last_error
    assert d.table.rows == [] and "no runs shown" in d.table.caption and d.next_button.disabled
    d.query.value = "metrics.accuracy > 0.5"
    assert d.last_error is None and [r["name"] for r in d.table.rows] == ["one"]


def test_fresh_process_paints_the_first_page_before_mlflow_is_imported(project: Path) -> None:
    code = """
import json, sys, time
import jupyter_mlops as mlops
from jupyter_mlops.widgets import dashboard
ws = mlops.Workspace.open(sys.argv[1], user="alice")
t0 = time.perf_counter()
d = dashboard("experiments", ws, experiment="arrests")
first = {"rows": len(d.table.rows), "mlflow": "mlflow" in sys.modules, "caption": d.table.caption,
         "s": time.perf_counter() - t0}
assert d.ready.wait(120)
full = {"rows": len(d.table.rows), "accuracy": sorted(r["m:accuracy"] for r in d.table.rows), "caption": d.table.caption}
print(json.dumps({"first": first, "full": full}))
"""
    out = subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["first"]["rows"] == 3 and result["first"]["mlflow"] is False
    assert "loading metrics" in result["first"]["caption"]
    assert result["full"]["accuracy"] == pytest.approx([0.6, 0.61, 0.62]) and "loading" not in result["full"]["caption"]
