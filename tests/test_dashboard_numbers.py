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


def test_audit_since_reads_words_or_refuses_clearly(project: Path) -> None:
    from datetime import UTC, datetime

    from jupyter_mlops.audit.queries import parse_time
    from jupyter_mlops.errors import InvalidInput
    from jupyter_mlops.widgets.audit import AuditDashboard

    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_time("2h", now=now) == "2026-03-10T10:00:00.000000+00:00"
    assert parse_time("7 days ago", now=now) == "2026-03-03T12:00:00.000000+00:00"
    assert parse_time("2026-03-01T09:00+01:00") == "2026-03-01T08:00:00.000000+00:00"
    assert parse_time("yesterday", now=now) < parse_time("yesterday", field="until", now=now) < parse_time("today", now=now)
    ws = mlops.Workspace.open(project, user="alice")
    assert len(ws.audit_events(since="yesterday", limit=1000)) == len(ws.audit_events(limit=1000)) > 0
    assert ws.audit_events(until="yesterday") == []
    with pytest.raises(InvalidInput, match="cannot read 'last tuesday' as a time for since") as err:
        ws.audit_events(since="last tuesday")
    assert "yesterday" in (err.value.hint or "")
    d = AuditDashboard(ws)
    assert len(d.table.rows) > 0
    d.since.value = "last tuesday"
    assert d.table.rows == [] and "cannot read 'last tuesday'" in d.table.caption
    d.since.value = "yesterday"
    assert d.last_error is None and len(d.table.rows) > 0 and d.table.rows[0]["ts"][-6] in "+-"


def test_data_diff_counts_rows_says_what_was_masked_and_keeps_precision(tmp_path: Path) -> None:
    import pandas as pd

    from jupyter_mlops.widgets.data import DataDashboard, profile_html

    ws = mlops.init(tmp_path / "p", user="alice")
    secret = "Very-Private-Value"
    first = pd.DataFrame({"id": [1, 2, 3, 4], "year": [1999, 2000, 1999, 2001], "group": [secret, "b", "c", "c"]})
    second = pd.concat(
        [first.assign(year=[1999, 2000, 2002, 2001]).iloc[1:], pd.DataFrame({"id": [9], "year": [2000], "group": ["d"]})]
    )
    ws.data.version(first, "people", key="id", sensitive=("group",))
    ws.data.version(pd.DataFrame({"x": [1.0]}), "other")
    ws.data.version(second, "people", key="id", sensitive=("group",))
    board = DataDashboard(ws, name="people")
    # two versions of the same data set, with the declared key
    assert (board.diff_a.value, board.diff_b.value, board.diff_key.value) == ("people@1", "people@2", "id")
    board.show_diff()
    html = board.diff_out.value
    assert board.last_error is None and secret not in html
    assert "<td class='num'>1</td><td class='num'>1</td><td class='num'>1</td><td>id</td>" in html  # +1 -1 ~1
    assert "sensitive columns group: their values are never shown" in html
    # a profile keeps significant digits and shows "top" values as words with counts
    profile = ws.data.get("people@1").profile
    text = profile_html(profile, ())
    assert "1999.75" in text and "2000</td>" not in text.split("year", 1)[1].split("</tr>", 1)[0]
    year = next(c for c in profile["columns"] if c["name"] == "year")
    if year.get("top"):
        assert "1999 (2)" in text
