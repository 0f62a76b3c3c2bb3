"""Registry and review: evidence before review, four eyes, reviewer role, approval before serving.

Each refused step must leave the registry, the reviews and the audit chain as they were (a
missing role is itself audited as ``access.denied``, and nothing else is written).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main
from jupyter_mlops.errors import Conflict, PermissionDenied, ReviewRuleViolation, TrackingError


def _with_reviewers(ws: mlops.Workspace, *names: str) -> mlops.Workspace:
    config = ws.settings.home / "config.toml"
    text = config.read_text()
    assert "reviewers = []" in text
    config.write_text(text.replace("reviewers = []", f"reviewers = {json.dumps(list(names))}"))
    return mlops.use(mlops.Workspace.open(ws.settings.root, user=ws.actor))


def _arrests() -> tuple[Any, Any]:
    from sklego.datasets import load_arrests

    df = load_arrests(as_frame=True)
    return df.drop(columns="released"), (df["released"] == "Yes").astype(int)


def _pipeline(X: Any, y: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour", "sex", "employed", "citizen"]),
            ("num", StandardScaler(), ["year", "age", "checks"]),
        ]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)


def _iris_model() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    return LogisticRegression(max_iter=300).fit(X, y), X, y


def _snapshot(ws: mlops.Workspace) -> tuple[Any, ...]:
    from jupyter_mlops.registry.schema import model_alias_history, model_reviews, model_versions

    with ws.db.read() as conn:
        versions = conn.execute(sa.select(model_versions.c.name, model_versions.c.version, model_versions.c.status)).all()
        reviews = conn.execute(sa.select(model_reviews)).all()
        aliases = conn.execute(sa.select(model_alias_history)).all()
    return tuple(versions), tuple(reviews), tuple(aliases), ws.verify_audit().head_seq


def _evidence(ws: mlops.Workspace, ref: str, X: Any, y: Any) -> None:
    ws.evaluation.evaluate(ref, X, y, n_bootstrap=20, plots=False)
    ws.cards.build_card(ref)


def test_full_review_flow_and_every_refusal(ws: mlops.Workspace) -> None:
    ws = _with_reviewers(ws, "bob", "dave")
    X, y = _arrests()
    with ws.start_run("train"):
        mlops.log_model(_pipeline(X, y), "arrests-clf", X_example=X)
    ref = "arrests-clf@1"

    # 1. no evaluation, no card: refused, nothing written
    before = _snapshot(ws)
    with pytest.raises(ReviewRuleViolation, match="it has no completed evaluation") as err:
        mlops.request_review(ref, note="first try")
    assert "model card" in err.value.message and "evaluation" in err.value.message
    assert _snapshot(ws) == before

    ws.evaluation.evaluate(ref, X, y, sensitive_features=["colour"], n_bootstrap=20, plots=False)
    with pytest.raises(ReviewRuleViolation) as err:
        mlops.request_review(ref)
    assert "model card" in err.value.message and "evaluation" not in err.value.message
    ws.cards.build_card(ref)

    # 2. the request
    before = _snapshot(ws)
    review = mlops.request_review(ref, note="ready <b>for</b> review")
    assert (review.action, review.actor, review.status_before, review.status_after) == ("request", "alice", "none", "pending")
    event = ws.audit_events(action="model.review_request")[0]
    assert (
        event.object_id == ref
        and event.payload["before"] == {"status": "none"}
        and event.payload["after"] == {"status": "pending"}
    )
    assert event.payload["note"] == "ready <b>for</b> review" and "eval_id" in event.payload["evaluation"]
    with pytest.raises(Conflict, match="already waiting for review"):
        mlops.request_review(ref)

    # 3. serving alias refused while pending
    before = _snapshot(ws)
    with pytest.raises(ReviewRuleViolation, match="still pending: it needs an approval"):
        mlops.promote(ref)
    # 4. self-approval refused
    with pytest.raises(ReviewRuleViolation, match="alice logged arrests-clf@1 and cannot approve it"):
        mlops.approve(ref, comment="looks fine to me")
    assert _snapshot(ws) == before

    # 5. a non-reviewer is refused; only the denial is audited
    carol = ws.as_user("carol")
    with pytest.raises(PermissionDenied, match="carol may not model.approve"):
        carol.models.approve(ref, comment="ok")
    after = _snapshot(ws)
    assert after[:3] == before[:3] and after[3] == before[3] + 1
    assert ws.audit_events(limit=1)[0].action == "access.denied"

    # 6. a reviewer approves; approving again is refused, for anyone
    bob = ws.as_user("bob")
    approval = bob.models.approve(ref, comment="fairness gaps documented")
    assert (approval.actor, approval.status_after) == ("bob", "approved")
    before = _snapshot(ws)
    with pytest.raises(ReviewRuleViolation, match=r"already approved \(by bob\)"):
        bob.models.approve(ref)
    with pytest.raises(ReviewRuleViolation, match="already approved"):
        ws.as_user("dave").models.approve(ref)
    with pytest.raises(Conflict, match="already approved"):
        mlops.request_review(ref)
    assert _snapshot(ws) == before

    # 7. promotion to the serving alias, recorded with who approved it
    move = mlops.promote(ref)
    assert (move.alias, move.from_version, move.to_version, move.actor, move.approved_by) == ("champion", None, 1, "alice", "bob")
    assert int(ws.tracking.client.get_model_version_by_alias("arrests-clf", "champion").version) == 1
    promoted = ws.audit_events(action="model.promote")[0]
    assert promoted.payload["before"] == {"version": None} and promoted.payload["after"] == {"version": 1}
    with pytest.raises(Conflict, match="already points at version 1"):
        mlops.promote(ref, alias="champion")
    assert (mlops.load_model("arrests-clf@champion").predict(X[:20]) == _pipeline(X, y).predict(X[:20])).all()
    assert [r.action for r in ws.models.reviews(ref)] == ["request", "approve"]
    assert mlops.list_models().versions[0].status == "approved" and mlops.list_models().versions[0].aliases == ("champion",)
    history = mlops.alias_history("arrests-clf", alias="champion")
    assert [(m.from_version, m.to_version, m.actor, m.approved_by) for m in history.moves] == [(None, 1, "alice", "bob")]
    assert "<td>bob</td>" in history._repr_html_()
    assert ws.verify_audit().ok


def test_rejected_and_unreviewed_versions_cannot_serve_other_aliases_move_freely(ws: mlops.Workspace) -> None:
    ws = _with_reviewers(ws, "bob")
    model, X, y = _iris_model()
    ws.models.log_model(model, "iris", X_example=X)
    ws.models.log_model(model, "iris", X_example=X)

    before = _snapshot(ws)
    with pytest.raises(ReviewRuleViolation, match="never reviewed: it needs a review request") as err:
        ws.models.promote("iris@1")
    assert err.value.details["missing"] == ["approval"]
    with pytest.raises(ReviewRuleViolation, match="no pending review to approve"):
        ws.as_user("bob").models.approve("iris@1")
    with pytest.raises(mlops.InvalidInput, match="invalid alias"):
        ws.models.promote("iris@1", alias="latest")
    with pytest.raises(mlops.NotFound):
        ws.models.promote("iris@9", alias="staging")
    assert _snapshot(ws) == before

    # a non-serving alias needs no approval and moves with full history
    ws.models.promote("iris@1", alias="staging")
    ws.as_user("carol").models.promote("iris@2", alias="staging")
    moves = ws.models.alias_history("iris").moves
    assert [(m.alias, m.from_version, m.to_version, m.actor, m.approved_by) for m in moves] == [
        ("staging", None, 1, "alice", None),
        ("staging", 1, 2, "carol", None),
    ]
    assert int(ws.tracking.client.get_model_version_by_alias("iris", "staging").version) == 2
    assert ws.models.get("iris@staging").version == 2

    # rejection: it cannot serve, cannot be approved afterwards, and can be submitted again
    _evidence(ws, "iris@1", X, y)
    ws.models.request_review("iris@1", note="please look")
    bob = ws.as_user("bob")
    with pytest.raises(PermissionDenied):
        ws.as_user("carol").models.reject("iris@1", comment="no")
    rejected = bob.models.reject("iris@1", comment="calibration is poor")
    assert rejected.status_after == "rejected"
    assert ws.audit_events(action="model.reject")[0].payload["comment"] == "calibration is poor"
    before = _snapshot(ws)
    with pytest.raises(ReviewRuleViolation, match="it was rejected by bob"):
        ws.models.promote("iris@1")
    with pytest.raises(ReviewRuleViolation, match=r"was rejected \(by bob\)"):
        bob.models.approve("iris@1")
    assert _snapshot(ws) == before
    again = ws.models.request_review("iris@1", note="recalibrated the report")
    assert (again.status_before, again.status_after) == ("rejected", "pending")
    assert bob.models.approve("iris@1").status_after == "approved"
    assert ws.models.promote("iris@1").approved_by == "bob"
    assert [m.alias for m in ws.models.alias_history("iris").moves] == ["staging", "staging", "champion"]


def test_mlflow_failure_rolls_the_promotion_back(ws: mlops.Workspace) -> None:
    model, X, _ = _iris_model()
    ws.models.log_model(model, "iris", X_example=X)
    ws.tracking.client.delete_registered_model("iris")  # MLflow can no longer set the alias
    before = _snapshot(ws)
    with pytest.raises(TrackingError, match="set alias 'staging'"):
        ws.models.promote("iris@1", alias="staging")
    assert _snapshot(ws) == before
    assert len(ws.models.alias_history("iris")) == 0


def test_cli_lists_shows_and_refuses_with_exit_codes(ws: mlops.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    model, X, _ = _iris_model()
    ws.models.log_model(model, "iris", X_example=X)
    root = str(Path(ws.settings.root))

    assert main(["-C", root, "--user", "alice", "--json", "model", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)["versions"]
    assert [(v["ref"], v["author"], v["status"]) for v in listed] == [("iris@1", "alice", "none")]

    assert main(["-C", root, "model", "show", "iris@latest"]) == 0
    assert "iris@1 LogisticRegression by alice" in capsys.readouterr().out

    assert main(["-C", root, "--user", "alice", "model", "promote", "iris@1"]) == 5
    assert "cannot take the serving alias 'champion'" in capsys.readouterr().err

    assert main(["-C", root, "--user", "alice", "model", "promote", "iris@1", "--alias", "staging"]) == 0
    capsys.readouterr()
    assert main(["-C", root, "--json", "model", "history", "iris"]) == 0
    moves = json.loads(capsys.readouterr().out)["moves"]
    assert [(m["alias"], m["to_version"], m["actor"]) for m in moves] == [("staging", 1, "alice")]

    assert main(["-C", root, "model", "request-review", "iris@1", "--note", "x"]) == 5
    assert "no completed evaluation" in capsys.readouterr().err
