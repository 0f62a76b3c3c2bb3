"""Compliance against a written policy: every rule passing and failing on real evidence, the gates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from arrests_helpers import FEATURES, SENSITIVE, loaded_frames, model, version_split

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main
from jupyter_mlops.errors import InvalidInput, ReviewRuleViolation
from jupyter_mlops.governance.policy import parse_policy

RULES = Path(__file__).resolve().parents[1] / "example_notebooks" / "rules" / "arrests.yaml"
POLICY = {
    "name": "public-sector-high-impact",
    "metrics": {"balanced_accuracy": {"min": 0.55}, "roc_auc": {"min": 0.6}},
    "fairness": {"demographic_parity_ratio": {"min": 0.5}, "equalized_odds_difference": {"max": 0.5}},
    "card": {"required": ["intended_use", "out_of_scope_uses", "ethical_considerations"]},
    "data": {"quality": "passed", "sensitive_declared": True},
    "approvals": {"min": 1},
    "oversight": {"stop_procedure_documented": True},
    "retention": {"audit_log_days": 180},
    "impact_level": {"recorded": True},
}


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding arrests-clf@1: checked data, evaluation with fairness, a written card, approved."""
    root = tmp_path_factory.mktemp("compliance") / "project"
    ws = mlops.init(root, user="alice")
    config = ws.settings.home / "config.toml"
    config.write_text(config.read_text().replace("reviewers = []", 'reviewers = ["bob"]'))
    mlops.use(root, user="alice")
    train, _ = version_split()
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rules["min_rows"] = 3000  # the training split holds three quarters of the 5,226 rows
    (root / "train-rules.yaml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    assert mlops.check_data(train.spec, root / "train-rules.yaml").passed
    frames = loaded_frames()
    with mlops.start_run("train"):
        fitted = model().fit(frames["X_train"], frames["y_train"])
        mlops.log_model(fitted, "arrests-clf", X_example=frames["X_train"].head(5))
    X_test = frames["X_test"]
    mlops.evaluate("arrests-clf@1", X_test[FEATURES], frames["y_test"], sensitive_features=X_test[list(SENSITIVE)], n_bootstrap=0)
    mlops.build_card("arrests-clf@1")
    for section in ("intended_use", "out_of_scope_uses", "ethical_considerations", "risk_management"):
        mlops.edit_card("arrests-clf@1", section, f"{section}: written by alice; stop with `jupyter-mlops serve stop`.")
    mlops.request_review("arrests-clf@1")
    mlops.Workspace.open(root, user="bob").models.approve("arrests-clf@1", "ok")
    mlops.Workspace.open(root, user="alice").compliance.set_impact_level("arrests-clf@1", "II")
    mlops.Workspace.open(root).db.dispose()
    return root


@pytest.fixture
def ws(reviewed: Path, tmp_path: Path) -> mlops.Workspace:
    shutil.copytree(reviewed / ".mlops", tmp_path / "project" / ".mlops")
    return mlops.Workspace.open(tmp_path / "project", user="alice")


def _policy(tmp_path: Path, **changes: object) -> Path:
    data = {**POLICY, **changes}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_the_full_policy_passes_with_evidence_for_every_rule(ws: mlops.Workspace, tmp_path: Path) -> None:
    report = ws.compliance.check("arrests-clf@1", _policy(tmp_path))
    assert report.passed, [(r.rule, r.actual) for r in report.failed]
    assert [r.rule for r in report.rules] == [
        "metrics.balanced_accuracy",
        "metrics.roc_auc",
        "fairness.demographic_parity_ratio",
        "fairness.equalized_odds_difference",
        "card.intended_use",
        "card.out_of_scope_uses",
        "card.ethical_considerations",
        "data.quality",
        "data.sensitive_declared",
        "approvals.min",
        "oversight.stop_procedure_documented",
        "retention.audit_log_days",
        "impact_level.recorded",
    ]
    assert all(r.evidence and r.references for r in report.rules)
    by = {r.rule: r for r in report.rules}
    assert by["approvals.min"].actual == "1 (bob)" and "EU AI Act Art. 14" in by["approvals.min"].references
    assert by["impact_level.recorded"].actual == "level II"
    assert by["data.quality"].evidence[0]["type"] == "quality_report"
    event = ws.audit_events(action="compliance.check", limit=1)[0]
    assert event.seq == report.audit_seq and event.payload["passed"] is True
    assert ws.compliance.latest_for("arrests-clf@1") == report


FAILING = {
    "metrics.roc_auc": {"metrics": {"roc_auc": {"min": 0.99}}},
    "fairness.equalized_odds_difference": {"fairness": {"equalized_odds_difference": {"max": 0.0001}}},
    "card.caveats_and_recommendations": {"card": {"required": ["caveats_and_recommendations"]}},
    "approvals.min": {"approvals": {"min": 2}},
    "retention.audit_log_days": {"retention": {"audit_log_days": 400}},
}


def test_each_rule_fails_on_its_own(ws: mlops.Workspace, tmp_path: Path) -> None:
    config = ws.settings.home / "config.toml"
    config.write_text(config.read_text() + "\n[audit]\nretention_days = 365\n")
    ws = mlops.Workspace.open(ws.settings.root, user="alice")
    for rule, change in FAILING.items():
        report = ws.compliance.check("arrests-clf@1", _policy(tmp_path, **change))
        assert [r.rule for r in report.failed] == [rule], (rule, [(r.rule, r.actual) for r in report.failed])


def test_missing_evidence_fails_the_rules_that_need_it(ws: mlops.Workspace, tmp_path: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    ws.models.log_model(LogisticRegression(max_iter=300).fit(X, y), "iris", X_example=X[:5])
    report = ws.compliance.check("iris@1", _policy(tmp_path))
    assert not report.passed and report.passed is False
    by = {r.rule: r for r in report.rules}
    assert by["metrics.roc_auc"].actual == "no evaluation of this version"
    assert by["card.intended_use"].actual == "no model card"
    assert by["approvals.min"].actual == "0 (none)" and by["impact_level.recorded"].actual == "not recorded"


def test_unknown_keys_are_refused_with_did_you_mean() -> None:
    with pytest.raises(InvalidInput, match="unknown key 'fairnes'") as err:
        parse_policy({**POLICY, "fairnes": {}})
    assert err.value.hint == "did you mean 'fairness'?"
    with pytest.raises(InvalidInput, match="unknown key 'minimum' in metrics.accuracy") as err:
        parse_policy({"name": "x", "metrics": {"accuracy": {"minimum": 0.7}}})
    assert err.value.hint == "did you mean 'min'?"
    with pytest.raises(InvalidInput, match="did you mean 'audit_log_days'"):
        parse_policy({"name": "x", "retention": {"audit_log_day": 180}})


def test_cli_exit_codes_and_self_contained_html(ws: mlops.Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(ws.settings.root)
    good, bad = _policy(tmp_path), tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**POLICY, "approvals": {"min": 3}}), encoding="utf-8")
    assert main(["-C", root, "compliance", "check", "arrests-clf@1", "--policy", str(good)]) == 0
    assert "PASSED" in capsys.readouterr().out
    assert main(["-C", root, "compliance", "check", "arrests-clf@1", "--policy", str(bad), "--format", "md"]) == 1
    assert "| `approvals.min` | **FAIL** |" in capsys.readouterr().out
    out = tmp_path / "report.html"
    assert (
        main(["-C", root, "compliance", "check", "arrests-clf@1", "--policy", str(good), "--format", "html", "--out", str(out)])
        == 0
    )
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "@media print" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page and "src=" not in page


def test_require_compliance_gates_promotion_and_serving(ws: mlops.Workspace, tmp_path: Path) -> None:
    from jupyter_mlops.serving.gate import require_servable

    policy = _policy(tmp_path)
    config = ws.settings.home / "config.toml"
    config.write_text(config.read_text().replace("reviewers = [", f'require_compliance = "{policy}"\nreviewers = ['))
    ws = mlops.Workspace.open(ws.settings.root, user="alice")
    with pytest.raises(ReviewRuleViolation, match="has no compliance report against it"):
        ws.models.promote("arrests-clf@1")
    with pytest.raises(ReviewRuleViolation, match="has no compliance report against it"):
        require_servable(ws, "arrests-clf@1")
    ws.compliance.check("arrests-clf@1", _policy(tmp_path, approvals={"min": 2}))  # a failing report
    with pytest.raises(ReviewRuleViolation, match=r"failed it \(approvals.min\)"):
        ws.models.promote("arrests-clf@1")
    ws.compliance.check("arrests-clf@1", _policy(tmp_path))
    assert ws.models.promote("arrests-clf@1").alias == "champion"
    assert require_servable(ws, "arrests-clf@1").ref == "arrests-clf@1"
    assert ws.verify_audit().ok


def test_four_eyes_generalised_to_n_distinct_approvers(ws: mlops.Workspace) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    config = ws.settings.home / "config.toml"
    config.write_text(config.read_text().replace('reviewers = ["bob"]', 'reviewers = ["bob", "dave"]\napprovals_required = 2'))
    alice = mlops.Workspace.open(ws.settings.root, user="alice")
    X, y = load_iris(return_X_y=True)
    alice.models.log_model(LogisticRegression(max_iter=300).fit(X, y), "iris", X_example=X[:5])
    alice.evaluation.evaluate("iris@1", X, y, n_bootstrap=0, plots=False)
    alice.cards.build_card("iris@1")
    alice.models.request_review("iris@1")
    bob, dave = (mlops.Workspace.open(ws.settings.root, user=u) for u in ("bob", "dave"))
    assert bob.models.approve("iris@1").status_after == "pending"
    with pytest.raises(ReviewRuleViolation, match="bob already approved iris@1 in this review; it needs 2"):
        bob.models.approve("iris@1")
    with pytest.raises(ReviewRuleViolation, match="four eyes"):
        alice.models.approve("iris@1")
    assert alice.models.get("iris@1").status == "pending"
    assert dave.models.approve("iris@1").status_after == "approved"
    assert [e.payload["approvals"] for e in alice.audit_events(action="model.approve", object_id="iris@1")] == [2, 1]


def test_in_toto_statement_names_the_signed_digests_run_data_and_approvals(
    ws: mlops.Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert main(["-C", str(ws.settings.root), "compliance", "attest", "arrests-clf@1"]) == 0
    found = json.loads(capsys.readouterr().out)
    mv = ws.models.get("arrests-clf@1")
    assert found["_type"] == "https://in-toto.io/Statement/v1"
    assert {s["name"]: s["digest"]["sha256"] for s in found["subject"]} == {
        f"arrests-clf@1/{k}": v["sha256"] for k, v in mv.manifest.items()
    }
    pred = found["predicate"]
    assert pred["training_run"]["run_id"] == mv.run_id and pred["approved"] is True
    assert pred["data"][0]["fingerprint"] == ws.data.get(mv.data_versions[0]).fingerprint
    assert [(r["action"], r["actor"]) for r in pred["reviews"]] == [("request", "alice"), ("approve", "bob")]


def test_atrs_export_fills_tiers_from_the_record_and_says_unknown_otherwise(
    ws: mlops.Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert main(["-C", str(ws.settings.root), "card", "export", "arrests-clf@1", "--format", "atrs"]) == 0
    record = json.loads(capsys.readouterr().out)
    tier1, tier2 = record["tier_1"], record["tier_2"]
    assert tier1["name"] == "arrests-clf@1" and tier1["description"].startswith("intended_use: written by alice")
    assert tier1["contact_email"] == "unknown"
    assert tier2["owner_and_responsibility"]["model_author"] == "alice"
    assert tier2["decision_making_process"]["human_decisions_and_review"][1].startswith("approve by bob")
    assert tier2["risks_mitigations_and_impact_assessments"]["impact_assessment"].startswith("Canada DADM impact level II")
    assert tier2["tool_specification"]["phase"] == "approved"
    assert tier2["tool_specification"]["model_performance"]["roc_auc"] > 0.5
