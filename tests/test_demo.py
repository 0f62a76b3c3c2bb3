"""``make demo`` tells the product's story: one verifiable chain, reviewed with four eyes, served.

The demo runs once per session (the ``demo_run`` fixture, shared with the README test); these tests
read its workspace back through the public API and stock MLflow.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DemoRun

import jupyter_mlops as mlops

MODEL = "arrests-clf"


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> DemoRun:
    assert demo_run.returncode == 0, f"{demo_run.stdout[-3000:]}\n{demo_run.stderr[-3000:]}"
    return demo_run


def _ws(demo: DemoRun) -> mlops.Workspace:
    return mlops.Workspace.open(demo.root, user="auditor")


def _rows(card: Any, section: str, title: str) -> list[dict[str, Any]]:
    table = next(t for t in card.section(section).tables if t.title.startswith(title))
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def test_the_champion_was_approved_with_four_eyes(demo: DemoRun) -> None:
    ws = _ws(demo)
    champion = ws.models.get(f"{MODEL}@champion")
    assert champion.status == "approved" and champion.author == "alice"
    actions = [(r.action, r.actor) for r in ws.models.reviews(champion.ref)]
    assert actions == [("request", "alice"), ("approve", "bob")]
    audit = {(e.action, e.actor) for e in ws.audit_events(object_id=champion.ref, limit=100)}
    assert {("model.review_request", "alice"), ("model.approve", "bob"), ("model.promote", "alice")} <= audit
    assert "bob" in ws.settings.reviewers and ws.verify_audit().ok


def test_the_champion_is_the_sweep_winner_logged_in_its_train_variant_run(demo: DemoRun) -> None:
    ws = _ws(demo)
    selected = ws.audit_events(action="pipeline.sweep_select")[0].payload
    assert selected["stage"] == "train" and selected["metric"] == "cv_balanced_accuracy"
    champion = ws.models.get(f"{MODEL}@champion")
    assert selected["outputs"] == {f"model:{MODEL}": champion.ref}
    in_mlflow = ws.tracking.client.get_model_version_by_alias(MODEL, "champion")
    assert in_mlflow.run_id == champion.run_id == selected["run_id"]  # MLflow's model version -> the variant run
    variants = [r for r in ws.list_runs(limit=100) if r.name == "train"]
    scores = sorted(r.metrics["cv_balanced_accuracy"] for r in variants)
    assert len(variants) == 4 and scores[-1] == selected["value"]
    assert scores[-1] - scores[0] > 0.1  # the variants really differ (unweighted ones predict 'released' for nearly all)
    assert len(ws.models.list_models(MODEL)) == 4  # every variant logged its model


def test_the_evaluation_is_of_the_selected_version_and_meets_the_policy(demo: DemoRun) -> None:
    ws = _ws(demo)
    report = ws.evaluation.latest_for(f"{MODEL}@champion")
    assert report is not None and report.model_version == ws.models.get(f"{MODEL}@champion").ref
    assert report.metrics["balanced_accuracy"]["value"] >= 0.6
    assert report.passed is True and {t["name"] for t in report.thresholds} == {
        "balanced_accuracy",
        "roc_auc",
        "equalized_odds_difference[colour]",
        "equalized_odds_difference[sex]",
    }
    assert report.data["X"]["data_version"] == "arrests-test@1" and report.data["X"]["target"] == "released"
    rates = {g["label"]: g["selection_rate"] for g in report.fairness["by_feature"]["colour"]["groups"]}
    assert set(rates) == {"colour=Black", "colour=White"} and all(0.2 < r < 0.9 for r in rates.values())
    # evaluate loaded the version: no model was fitted in the evaluate stage
    assert not [v for v in ws.models.list_models(MODEL) if v.run_id == report.run_id]


def test_the_card_names_both_data_versions_with_fingerprints_and_the_review(demo: DemoRun) -> None:
    ws = _ws(demo)
    card = ws.cards.get_card(f"{MODEL}@champion")
    train, test = ws.data.get("arrests-train@1"), ws.data.get("arrests-test@1")
    trained = _rows(card, "training_data", "Training data versions")
    evaluated = _rows(card, "evaluation_data", "Evaluation data versions")
    assert [(r["data version"], r["fingerprint"].split()[0]) for r in trained] == [("arrests-train@1", train.fingerprint)]
    assert [(r["data version"], r["fingerprint"].split()[0]) for r in evaluated] == [("arrests-test@1", test.fingerprint)]
    assert trained[0]["sensitive columns"] == evaluated[0]["sensitive columns"] == "colour, sex"
    details = dict(card.section("model_details").facts)
    assert details["Training run"] == ws.models.get(f"{MODEL}@champion").run_id
    assert dict(card.section("factors").facts)["Sensitive columns in the data"] == "colour, sex"
    checks = _rows(card, "metrics", "Thresholds declared")
    assert len(checks) == 4 and all(c["passed"] is True for c in checks)
    review = [(r["who"], r["action"]) for r in _rows(card, "review", "Review history")]
    assert ("alice", "request") in review and ("bob", "approve") in review
    assert card.section("intended_use").known and card.section("caveats_and_recommendations").known
    html = (demo.root / "output" / f"{MODEL}-champion-card.html").read_text(encoding="utf-8")
    assert "arrests-train@1" in html and test.fingerprint in html


def test_the_demo_scores_a_row_and_says_where_to_look(demo: DemoRun) -> None:
    assert "released with a summons:" in demo.stdout
    assert f"{MODEL}-champion-card.html" in demo.stdout
    assert "%mlops dashboard models" in demo.stdout and "mlflow ui --backend-store-uri" in demo.stdout


def test_the_audit_stage_checked_the_policy_signed_a_checkpoint_and_its_notebook_is_chained(demo: DemoRun) -> None:
    from jupyter_mlops.audit import verifier

    ws = _ws(demo)
    champion = ws.models.get(f"{MODEL}@champion")
    checks = ws.audit_events(action="compliance.check", object_id=champion.ref, newest_first=False)
    assert [e.payload["passed"] for e in checks] == [False, True]  # before the review (no approval), after it
    assert "approvals.min" in checks[0].payload["failed"] and checks[0].payload["policy"] == "demo-review-policy"
    audit_end = next(e for e in ws.audit_events(action="stage.end", limit=100) if e.payload.get("stage") == "audit")
    executed = audit_end.payload["output_sha256"]
    assert ws.objects.verify(executed) is None and b"compliance" in ws.objects.open_verified(executed)
    notes = (demo.root / ".mlops" / "audit" / "checkpoints.log").read_text(encoding="utf-8")
    sizes = [int(body.split("\n")[1]) for body, _, _ in verifier.parse_notes(notes)]
    assert any(checks[0].seq <= size < audit_end.seq for size in sizes)  # the notebook's own checkpoint
    assert (demo.root / "output" / "compliance.html").read_text(encoding="utf-8").count("class='fail'") == 0
    assert ws.verify_audit().ok
