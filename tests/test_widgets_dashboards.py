"""Kernel-side dashboard tests: real workspace, real runs, real model review; widget state checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard_scenario import MODEL, make_reviewed_model, make_runs, set_reviewers

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.widgets import dashboard
from jupyter_mlops.widgets.audit import AuditDashboard
from jupyter_mlops.widgets.charts import bar_chart, layout_lineage, nice_ticks
from jupyter_mlops.widgets.experiments import ExperimentsDashboard, mlflow_filter
from jupyter_mlops.widgets.models import ModelsDashboard, review_blockers


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One recorded project per module: 12 runs, a model version waiting for review (author alice)."""
    root = tmp_path_factory.mktemp("dash") / "project"
    ws = mlops.init(root, user="alice")
    set_reviewers(ws, "bob")
    make_runs(ws, 12)
    make_reviewed_model(ws, card_text="<script>alert('card')</script> for <b>triage</b> only")
    return root


def test_experiments_pages_sorts_and_filters_through_the_store(project: Path) -> None:
    ws = mlops.Workspace.open(project, user="alice")
    d = ExperimentsDashboard(ws, experiment="arrests", page_size=25)
    assert d.last_error is None
    assert len(d.table.rows) == 13  # 12 sweep runs + the final training run
    d.page_size.value = 25
    d.table.sort = "metrics.accuracy DESC"
    accs = [r["m:accuracy"] for r in d.table.rows if r["m:accuracy"] is not None]
    assert accs == sorted(accs, reverse=True) and accs[0] == pytest.approx(0.71)
    # paging with the store's page token
    d.page_size.value = 25
    d.table.sort = "metrics.accuracy ASC"
    d.page_size.options = [5, 25]
    d.page_size.value = 5
    first = [r["id"] for r in d.table.rows]
    assert len(first) == 5 and not d.next_button.disabled and d.prev_button.disabled
    d.next_page()
    second = [r["id"] for r in d.table.rows]
    assert len(second) == 5 and not set(first) & set(second)
    assert "page 2" in d.page_label.value and "runs 6\u201310 of 13" in d.page_label.value
    d.prev_page()
    assert [r["id"] for r in d.table.rows] == first
    # filters: the run filter grammar, name box, status
    d.page_size.value = 25
    d.query.value = "metrics.accuracy > 0.65"
    assert {round(r["m:accuracy"], 2) for r in d.table.rows} == {0.66, 0.67, 0.68, 0.69, 0.7, 0.71}
    d.query.value = ""
    d.name_filter.value = "final"
    assert [r["name"] for r in d.table.rows] == ["train-final"]
    d.name_filter.value = ""
    d.status_filter.value = "FAILED"
    assert d.table.rows == [] and "no runs" in d.page_label.value
    d.status_filter.value = "any"
    d.query.value = "metrics.accuracy >> 1"
    assert d.last_error is not None and "unknown token '>>' in filter 'metrics.accuracy >> 1'" in d.last_error
    assert "error" in d.status.value


def test_experiments_detail_and_compare(project: Path) -> None:
    ws = mlops.Workspace.open(project, user="alice")
    d = ExperimentsDashboard(ws, experiment="arrests")
    sweep = [r for r in d.table.rows if r["name"].startswith("sweep-")]
    d.table.active = sweep[0]["id"]
    html = d.detail.value
    assert d.last_error is None
    assert sweep[0]["name"] in html and "FINISHED" in html
    assert "model = LogisticRegression(C=" in html  # the cell source artifact
    assert "Environment" in html and "python" in html and "scikit-learn" in html
    assert len(d.detail_charts.children) == 1  # loss has a 4-step history
    assert d.detail_charts.children[0].spec["series"][0]["values"][0] == pytest.approx(
        1.0 + int(sweep[0]["name"].split("-")[1]) / 100
    )
    d.table.selected = [sweep[0]["id"], sweep[1]["id"], sweep[2]["id"]]
    assert "Compare (3)" in d.tabs.get_title(1)
    assert "class='diff'" in d.compare.value  # C differs between the runs
    charts = {c.spec["title"]: c.spec for c in d.compare_charts.children}
    assert {"accuracy", "f1", "loss"} <= set(charts)
    assert len(charts["accuracy"]["series"][0]["values"]) == 3


def test_experiment_filters_refuse_quotes() -> None:
    assert mlflow_filter(status="FAILED", name_contains="abc", query="metrics.a > 1") == (
        "attributes.status = 'FAILED' and attributes.run_name ILIKE '%abc%' and metrics.`a` > 1"
    )
    with pytest.raises(InvalidInput):
        mlflow_filter(name_contains="x' or 1=1")
    with pytest.raises(InvalidInput):
        mlflow_filter(status="DROP")


def test_models_dashboard_review_as_second_user(project: Path) -> None:
    alice = mlops.Workspace.open(project, user="alice")
    author_view = ModelsDashboard(alice)
    ref = f"{MODEL}@1"
    assert [r["id"] for r in author_view.table.rows] == [ref]
    author_view.table.active = ref
    assert author_view.approve_button.disabled and author_view.reject_button.disabled
    assert "you (alice) are the author" in author_view.decision.value
    assert "not in the reviewers list" in author_view.decision.value
    # one page: story, card summary, metrics with threshold verdicts, fairness with charts, data, history
    assert f"{ref} was trained on" in author_view.story.value and "mlops-step-model" in author_view.story.value
    assert "Model card (version" in author_view.card.value
    assert "\u2713 pass" in author_view.evaluation.value and "&gt;= 0.5" in author_view.evaluation.value
    assert "Fairness by colour" in author_view.fairness.value and "Fairness by sex" in author_view.fairness.value
    assert {c.spec["title"] for c in author_view.eval_charts.children} == {"Group rates by colour", "Group rates by sex"}
    assert "Review history" in author_view.overview.value and "ready for review" in author_view.overview.value
    assert "Approve is not available" in author_view.approve_button.tooltip
    # details open on demand: the whole card (user text shown as text), plots, the full graph
    assert author_view.card_full.value == "" and author_view.lineage.graph == {}
    author_view.more.selected_index = 3
    assert "&lt;script&gt;alert(" in author_view.card_full.value and "<script>alert" not in author_view.card_full.value
    author_view.more.selected_index = 2
    assert len(author_view.eval_plots.children) >= 1
    author_view.more.selected_index = 0
    types = {n["type"] for n in author_view.lineage.graph["nodes"]}
    assert {"run", "model_version", "evaluation", "card"} <= types
    assert any(n["root"] and n["id"] == ref for n in author_view.lineage.graph["nodes"])
    assert not any(n["type"] == "run" and n["label"] == n["id"] for n in author_view.lineage.graph["nodes"])  # named
    boxes = [(e["lx"], e["ly"], len(e["relation"])) for e in author_view.lineage.graph["edges"] if "lx" in e]
    for i, (x, y, n) in enumerate(boxes):  # no two edge labels overlap
        for x2, y2, n2 in boxes[i + 1 :]:
            assert abs(y - y2) >= 12 or abs(x - x2) >= 3.2 * (n + n2) + 6

    bob = mlops.Workspace.open(project, user="bob")
    d = ModelsDashboard(bob)
    d.table.active = ref
    assert not d.approve_button.disabled and "you (bob) may approve" in d.decision.value
    seq_before = bob.audit_events(limit=1)[0].seq
    d.ask("approve")  # no comment: refused before anything is asked or written
    assert "write a comment before you approve" in d.decision.value and d.confirm_box.layout.display == "none"
    d.comment.value = "fairness gaps within policy"
    d.ask("approve")
    assert d.confirm_box.layout.display == "flex" and f"Approve {ref}?" in d.confirm_text.value
    assert bob.models.get(ref).status == "pending"  # nothing happens before the confirmation
    d.confirm_button.click()
    assert d.last_error is None
    assert bob.models.get(ref).status == "approved"
    assert d.table.rows == []  # no longer waiting for review
    assert "approved" in d.header.value and d.approve_button.disabled
    assert "fairness gaps within policy" in d.overview.value
    events = bob.audit_events(limit=5)
    approve = [e for e in events if e.action == "model.approve"]
    assert approve and approve[0].actor == "bob" and approve[0].seq > seq_before
    assert bob.verify_audit().ok
    # deciding twice is refused by the registry and the reason is shown, nothing is written
    d.decide("approve")
    assert bob.audit_events(limit=1)[0].seq == approve[0].seq
    assert review_blockers(bob, "alice", "approved", ref) == [f"{ref} is not waiting for review (status: approved)"]
    d.status_filter.value = "approved"
    assert [r["id"] for r in d.table.rows] == [ref]


def test_audit_dashboard_filters_pages_and_badge(project: Path) -> None:
    ws = mlops.Workspace.open(project, user="alice")
    d = AuditDashboard(ws, page_size=10)
    assert "audit chain intact" in d.badge.value
    assert len(d.table.rows) == 10 and not d.next_button.disabled
    top = d.table.rows[0]["seq"]
    d.move(1)
    assert d.table.rows[0]["seq"] == top - 10
    d.action.value = "run.*"
    assert d.table.rows and all(r["action"].startswith("run.") for r in d.table.rows)
    d.actor.value = "nobody"
    assert d.table.rows == []
    d.clear_filters()
    assert d.actor.value == "" and len(d.table.rows) == 10
    d.table.active = d.table.rows[0]["id"]
    assert "previous hash" in d.detail.value
    # tamper with one event: the badge names the first bad event
    import sqlalchemy as sa

    from jupyter_mlops.audit.chain import audit_events

    with ws.db.write() as conn:
        conn.execute(sa.update(audit_events).where(audit_events.c.seq == 3).values(actor="mallory"))
    try:
        d.refresh()
        assert "BROKEN at event #3" in d.badge.value
    finally:
        with ws.db.write() as conn:
            conn.execute(sa.update(audit_events).where(audit_events.c.seq == 3).values(actor="alice"))
    d.refresh()
    assert "intact" in d.badge.value


def test_dashboard_factory_names_and_fluent(project: Path) -> None:
    mlops.use(project, user="alice")
    board = mlops.dashboard("audit")
    assert isinstance(board, AuditDashboard)
    with pytest.raises(InvalidInput, match="did you mean 'models'"):
        dashboard("modles")
    for name in ("experiments", "data", "models", "audit"):
        b = dashboard(name)
        assert b.last_error is None, (name, b.last_error)


def test_auto_refresh_picks_up_new_records(project: Path) -> None:
    import time

    ws = mlops.Workspace.open(project, user="alice")
    d = AuditDashboard(ws, page_size=5)
    top = d.table.rows[0]["seq"]
    d.start_auto_refresh(2)
    try:
        make_runs(ws, 1, experiment="other")
        deadline = time.time() + 10
        while time.time() < deadline and d.table.rows[0]["seq"] == top:
            time.sleep(0.2)
        assert d.table.rows[0]["seq"] > top
    finally:
        d.stop_auto_refresh()


def test_chart_specs_and_lineage_layout() -> None:
    assert nice_ticks(0, 0.83) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0] or nice_ticks(0, 0.83)[-1] >= 0.83
    spec = bar_chart("t", ["a", "b"], {"m": [1.0, float("nan")]})
    assert spec["series"][0]["values"] == [1.0, None] and spec["ticks"][0] == 0
    g = layout_lineage(
        ["notebook:n", "run:r", "model_version:m@1", "alias:champion"],
        [
            ("notebook:n", "run:r", "source_of"),
            ("run:r", "model_version:m@1", "produced"),
            ("model_version:m@1", "alias:champion", "holds"),
        ],
        root="model_version:m@1",
    )
    xs = {n["key"]: n["x"] for n in g["nodes"]}
    assert xs["notebook:n"] < xs["run:r"] < xs["model_version:m@1"] < xs["alias:champion"]
    big = layout_lineage(
        [f"run:{i}" for i in range(100)], [(f"run:{i}", f"run:{i + 1}", "next") for i in range(99)], root="run:0", max_nodes=20
    )
    assert len(big["nodes"]) == 20 and big["hidden"] == 80


def test_data_dashboard_lists_versions_and_diffs_them_without_sensitive_values(tmp_path: Path) -> None:
    import pandas as pd

    from jupyter_mlops.widgets.data import DataDashboard

    ws = mlops.init(tmp_path / "data-project", user="alice")
    secret = "Very-Private-Value"
    first = pd.DataFrame({"id": [1, 2, 3], "age": [30, 40, 50], "group": [secret, "b", "c"]})
    ws.data.version(first, "people", key="id", sensitive=("group",))
    ws.data.version(first.assign(age=[30, 41, 50]), "people", key="id", sensitive=("group",))
    board = DataDashboard(ws)
    assert board.last_error is None
    assert board.names.value == "people"
    assert [row["id"] for row in board.table.rows] == ["people@2", "people@1"]
    assert board.table.rows[0]["sensitive"] == "group"
    assert (board.diff_a.value, board.diff_b.value) == ("people@1", "people@2")
    board.show_diff()
    assert board.last_error is None
    html = board.diff_out.value
    assert "people@1" in html and "people@2" in html and "age" in html
    assert secret not in html
