"""REST routes over the registry, cards and data services: review as the Jupyter user, cards, data diffs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dashboard_scenario import MODEL, make_reviewed_model, set_reviewers
from harness import TestAuthorizer, UserTokensIdentityProvider

import jupyter_mlops as mlops

pytest_plugins = ("pytest_jupyter.jupyter_server",)

API = "jupyter-mlops/api/v1"
TOKENS = {"bob-token": "bob", "alice-token": "alice", "carol-token": "carol"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import pandas as pd

    ws = mlops.init(tmp_path_factory.mktemp("reviews") / "project", user="alice")
    set_reviewers(ws, "bob", "carol")
    first = make_reviewed_model(ws)
    second = make_reviewed_model(ws)
    df = pd.DataFrame({"id": [1, 2, 3], "score": [0.1, 0.2, 0.3]})
    ws.data.version(df, "scores", key="id")
    ws.data.version(pd.DataFrame({"id": [1, 2, 4], "score": [0.1, 0.25, 0.4], "extra": [1, 1, 1]}), "scores", key="id")
    return {"ws": ws, "first": first, "second": second}


@pytest.fixture
def jp_server_config(project: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlops": True},
            "allow_unauthenticated_access": False,
            "identity_provider_class": UserTokensIdentityProvider,
            "authorizer_class": TestAuthorizer,
        },
        "UserTokensIdentityProvider": {"user_tokens": TOKENS},
        "TestAuthorizer": {"read_only": ["carol"]},
        "JupyterMlops": {"root": str(project["ws"].settings.root)},
    }


async def call(
    jp_fetch: Any, path: str, *, user: str = "bob", method: str = "GET", body: Any = None, params: Any = None
) -> tuple[int, Any]:
    token = {v: k for k, v in TOKENS.items()}[user]
    kwargs: dict[str, Any] = {
        "method": method,
        "raise_error": False,
        "headers": {"Authorization": f"token {token}"},
        "params": params,
    }
    if method == "POST":
        kwargs["body"] = json.dumps(body or {})
    r = await jp_fetch(*[API, *path.split("/")], **kwargs)
    return r.code, json.loads(r.body.decode() or "null")


async def test_models_cards_and_pending_reviews(jp_fetch: Any, project: dict[str, Any]) -> None:
    code, body = await call(jp_fetch, "models")
    assert code == 200 and {v["name"] for v in body["versions"]} == {MODEL}
    code, body = await call(jp_fetch, "reviews")
    assert code == 200 and body["reviewer"] is True
    assert sorted(f"{v['name']}@{v['version']}" for v in body["pending"]) == sorted([project["first"], project["second"]])
    name, version = project["first"].split("@")
    code, body = await call(jp_fetch, f"models/{name}/versions/{version}")
    assert code == 200 and body["version"]["status"] == "pending" and body["reviews"][0]["action"] == "request"
    code, card = await call(jp_fetch, f"cards/{project['first']}")
    assert code == 200 and card["model_name"] == MODEL and len(card["sections"]) > 3
    code, body = await call(jp_fetch, f"cards/{MODEL}@99")
    assert code == 404 and body["error"] == "NotFound"


async def test_review_evidence_and_lineage_story_routes(jp_fetch: Any, project: dict[str, Any]) -> None:
    """The review page's one read, for the acting user: evidence, story, and why they may not decide."""
    name, version = project["second"].split("@")
    code, ev = await call(jp_fetch, f"models/{name}/versions/{version}/review")
    assert code == 200, ev
    assert ev["ref"] == project["second"] and ev["actor"] == "bob" and ev["may_decide"] is True and ev["blockers"] == []
    assert {m["name"] for m in ev["metrics"]} >= {"accuracy", "log_loss"}
    accuracy = next(m for m in ev["metrics"] if m["name"] == "accuracy")
    assert accuracy["threshold"] == ">= 0.5" and accuracy["passed"] is True and accuracy["ci_low"] < accuracy["value"]
    assert {f["feature"] for f in ev["fairness"]} >= {"colour", "sex"}
    kinds = [s["kind"] for s in ev["story"]["steps"]]
    assert kinds.index("run") < kinds.index("model") < kinds.index("evaluation")
    code, ev = await call(jp_fetch, f"models/{name}/versions/{version}/review", user="alice")
    assert code == 200 and ev["may_decide"] is False and any("author" in b for b in ev["blockers"])
    code, story = await call(jp_fetch, f"lineage/story/{project['second']}")
    assert code == 200 and story["model"] == project["second"] and story["summary"]
    code, body = await call(jp_fetch, f"models/{name}/versions/99/review")
    assert code == 404 and body["error"] == "NotFound"
    with project["ws"].start_run("directions", experiment="directions") as run:
        run.log_metrics({"log_loss": 0.4, "accuracy": 0.8})
    code, page = await call(jp_fetch, "runs", params={"experiment": "directions"})
    mine = {k: v for k, v in page["lower_is_better"].items() if not k.startswith("mlops.")}
    assert code == 200 and mine == {"accuracy": False, "log_loss": True}


async def test_approve_as_the_jupyter_user_is_recorded_and_audited(jp_fetch: Any, project: dict[str, Any]) -> None:
    ws = project["ws"]
    name, version = project["first"].split("@")
    code, body = await call(jp_fetch, f"reviews/{name}/{version}/approve", user="alice", method="POST", body={"comment": "mine"})
    assert code in (403, 409) and body["error"] in ("PermissionDenied", "ReviewRuleViolation")
    assert ws.models.get(project["first"]).status == "pending"
    code, body = await call(jp_fetch, f"reviews/{name}/{version}/approve", user="carol", method="POST", body={"comment": "x"})
    assert code == 403  # read-only in Jupyter, although a reviewer in the workspace
    code, body = await call(jp_fetch, f"reviews/{name}/{version}/approve", method="POST", body={"comment": "looks fair"})
    assert code == 200, body
    assert body["actor"] == "bob" and body["status_after"] == "approved" and body["text"] == "looks fair"
    assert ws.models.get(project["first"]).status == "approved"
    events = ws.audit_events(action="model.approve", object_id=project["first"]) or ws.audit_events(action="model.approve")
    assert events and events[0].actor == "bob"
    assert ws.verify_audit().ok
    code, body = await call(jp_fetch, f"reviews/{name}/{version}/approve", method="POST", body={})
    assert code == 409 and body["error"] == "ReviewRuleViolation"


async def test_reject_and_bad_review_requests(jp_fetch: Any, project: dict[str, Any]) -> None:
    name, version = project["second"].split("@")
    code, body = await call(jp_fetch, f"reviews/{name}/{version}/reject", method="POST", body={"comment": 7})
    assert code == 400 and body["field"] == "comment"
    code, body = await call(jp_fetch, f"reviews/{name}/0/reject", method="POST", body={})
    assert code == 400 and body["field"] == "version"
    code, body = await call(jp_fetch, f"reviews/{name}/999/reject", method="POST", body={})
    assert code == 404
    code, body = await call(jp_fetch, f"reviews/{name}/{version}/reject", method="POST", body={"comment": "threshold too low"})
    assert code == 200 and body["status_after"] == "rejected" and body["actor"] == "bob"


async def test_data_versions_and_diff(jp_fetch: Any, project: dict[str, Any]) -> None:
    code, body = await call(jp_fetch, "data")
    assert code == 200 and [v["version"] for v in body["versions"]] == [2, 1]
    code, body = await call(jp_fetch, "data/scores/versions")
    assert code == 200 and body["versions"][0]["n_cols"] == 3
    code, diff = await call(jp_fetch, "data/diff", params={"a": "scores@1", "b": "scores@2"})
    assert code == 200 and diff["columns_added"] == ["extra"] and diff["rows_added"] == 1 and diff["rows_removed"] == 1
    code, body = await call(jp_fetch, "data/diff", params={"a": "scores@1", "b": "nope@1"})
    assert code == 404
    code, body = await call(jp_fetch, "data/diff", params={"a": "scores@1"})
    assert code == 400 and body["field"] == "b"
