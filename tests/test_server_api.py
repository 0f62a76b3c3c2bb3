"""REST server extension, in-process (pytest-jupyter's jp_fetch): routes, auth, errors, OpenAPI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from harness import TestAuthorizer, UserTokensIdentityProvider

import jupyter_mlops as mlops
from jupyter_mlops.server.handlers import ROUTES

pytest_plugins = ("pytest_jupyter.jupyter_server",)

API = "jupyter-mlops/api/v1"
TOKENS = {"bob-token": "bob", "mallory-token": "mallory", "carol-token": "carol", "alice-token": "alice"}


def set_reviewers(ws: mlops.Workspace, *names: str) -> None:
    cfg = ws.settings.home / "config.toml"
    text = cfg.read_text()
    cfg.write_text(re.sub(r"(?m)^reviewers = \[\]$", "reviewers = " + json.dumps(list(names)), text))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> mlops.Workspace:
    """One workspace for the module (creating MLflow's store costs seconds); tests use their own experiments."""
    ws = mlops.init(tmp_path_factory.mktemp("server") / "project", user="alice")
    set_reviewers(ws, "bob")
    return ws


@pytest.fixture
def ws(project: mlops.Workspace) -> mlops.Workspace:
    return project


@pytest.fixture
def jp_server_config(ws: mlops.Workspace) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlops": True},
            "allow_unauthenticated_access": False,
            "identity_provider_class": UserTokensIdentityProvider,
            "authorizer_class": TestAuthorizer,
        },
        "UserTokensIdentityProvider": {"user_tokens": TOKENS},
        "TestAuthorizer": {"denied": ["mallory"], "read_only": ["carol"]},
        "JupyterMlops": {"root": str(ws.settings.root)},
    }


def as_user(name: str) -> dict[str, str]:
    token = {v: k for k, v in TOKENS.items()}[name]
    return {"Authorization": f"token {token}"}


async def call(
    jp_fetch: Any, path: str, *, user: str = "bob", method: str = "GET", body: Any = None, params: dict[str, Any] | None = None
) -> tuple[int, Any]:
    headers = as_user(user) if user else {"Authorization": ""}
    kwargs: dict[str, Any] = {"method": method, "raise_error": False, "headers": headers, "params": params}
    if method == "POST":
        kwargs["body"] = json.dumps(body if body is not None else {})
    r = await jp_fetch(*[API, *path.split("/")], **kwargs)
    text = r.body.decode()
    return r.code, (json.loads(text) if text else None)


def make_runs(ws: mlops.Workspace, n: int, *, experiment: str, notebook: str | None = None) -> list[str]:
    ids = []
    for i in range(n):
        source = {"notebook": notebook} if notebook else None
        with ws.start_run(f"train-{i}", experiment=experiment, params={"C": i}, source=source, tags={"team": "risk"}) as run:
            run.log_metric("accuracy", 0.5 + i / 100)
        ids.append(run.run_id)
    return ids


async def test_status_names_the_authenticated_user(jp_fetch: Any, ws: mlops.Workspace) -> None:
    code, body = await call(jp_fetch, "status", user="bob")
    assert code == 200
    assert body["user"] == "bob" and body["version"] == mlops.__version__ and body["reviewer"] is True
    code, body = await call(jp_fetch, "status", user="alice")
    assert body["user"] == "alice" and body["reviewer"] is False


async def test_runs_are_paged_and_sorted_by_a_metric(jp_fetch: Any, ws: mlops.Workspace) -> None:
    ids = make_runs(ws, 5, experiment="paging")
    q = {"experiment": "paging", "sort": "metrics.accuracy"}
    code, page1 = await call(jp_fetch, "runs", params={**q, "order": "desc", "limit": 2})
    assert code == 200
    assert [r["metrics"]["accuracy"] for r in page1["runs"]] == [0.54, 0.53]
    assert page1["runs"][0]["run_id"] == ids[4] and page1["runs"][0]["experiment"] == "paging"
    assert page1["runs"][0]["actor"] == "alice" and page1["runs"][0]["tags"] == {"team": "risk"}
    assert page1["next_page_token"]
    _, page2 = await call(jp_fetch, "runs", params={**q, "limit": 2, "page_token": page1["next_page_token"]})
    assert [r["metrics"]["accuracy"] for r in page2["runs"]] == [0.52, 0.51]
    _, asc = await call(jp_fetch, "runs", params={**q, "order": "asc", "limit": 1})
    assert asc["runs"][0]["run_id"] == ids[0]
    _, named = await call(jp_fetch, "runs", params={"experiment": "paging", "name": "train-3"})
    assert [r["run_id"] for r in named["runs"]] == [ids[3]]
    _, finished = await call(jp_fetch, "runs", params={"experiment": "paging", "status": "FAILED"})
    assert finished["runs"] == []


async def test_run_filters_refuse_injection_and_bad_values(jp_fetch: Any, ws: mlops.Workspace) -> None:
    make_runs(ws, 1, experiment="filters")
    for params, field in (
        ({"name": "x' OR 1=1 --"}, "name"),
        ({"sort": "metrics.`a`"}, "sort"),
        ({"sort": "drop table"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"page_token": "!!"}, "page_token"),
        ({"experiment": "../etc"}, "experiment"),
    ):
        code, body = await call(jp_fetch, "runs", params=params)
        assert code == 400, (params, body)
        assert body["field"] == field and body["error"] in ("InvalidInput", "UnsafePath")
    code, body = await call(jp_fetch, "runs", params={"experiment": "nope"})
    assert code == 404 and body["error"] == "NotFound"
    code, body = await call(jp_fetch, "runs", params={"page_token": "bm90LWEtdG9rZW4="})
    assert code == 400 and body["field"] == "page_token"


async def test_run_detail_and_errors(jp_fetch: Any, ws: mlops.Workspace) -> None:
    (run_id,) = make_runs(ws, 1, experiment="detail", notebook="analysis/train.ipynb")
    code, body = await call(jp_fetch, f"runs/{run_id}")
    assert code == 200
    assert body["params"] == {"C": "0"} and body["metrics"]["accuracy"] == 0.5
    assert body["record"]["actor"] == "alice" and body["record"]["notebook"] == "analysis/train.ipynb"
    assert "notebook:analysis/train.ipynb" in body["inputs"]
    code, body = await call(jp_fetch, "runs/" + "0" * 32)
    assert code == 404 and body["error"] == "NotFound" and "Traceback" not in json.dumps(body)
    code, body = await call(jp_fetch, "runs/not-a-run")
    assert code == 400 and body["field"] == "run_id"


async def test_errors_never_echo_raw_input(jp_fetch: Any, ws: mlops.Workspace) -> None:
    payload = "<script>alert(1)</script>"
    for path, params in (
        ("runs", {"experiment": payload}),
        ("runs", {"name": payload + "'"}),
        ("lineage", {"type": payload, "id": "x"}),
        ("audit/events", {"since": payload}),
        ("notebook-context", {"path": "../" + payload}),
    ):
        code, body = await call(jp_fetch, path, params=params)
        assert code == 400, (path, body)
        text = json.dumps(body)
        assert "<script" not in text and "alert(1)" not in text, text
        assert set(body) <= {"error", "message", "field", "hint"}
    code, body = await call(jp_fetch, f"cards/{payload.replace('/', '')}")
    assert code == 400 and "<script" not in json.dumps(body)


async def test_audit_events_verify_and_lineage(jp_fetch: Any, ws: mlops.Workspace) -> None:
    (run_id,) = make_runs(ws, 1, experiment="audit", notebook="nb.ipynb")
    code, body = await call(jp_fetch, "audit/events", params={"action": "run.*", "object_id": run_id, "limit": 10})
    assert code == 200
    assert [e["action"] for e in body["events"]] == ["run.end", "run.start"]
    assert all(e["object_id"] == run_id and e["actor"] == "alice" for e in body["events"])
    code, body = await call(jp_fetch, "audit/events", params={"actor": "nobody"})
    assert body["events"] == []
    code, body = await call(jp_fetch, "audit/verify")
    assert code == 200 and body["ok"] is True and body["checked"] >= 3
    code, body = await call(jp_fetch, "lineage", params={"type": "run", "id": run_id})
    assert code == 200 and set(body["nodes"]) == {f"run:{run_id}", "notebook:nb.ipynb"}


async def test_notebook_context_finds_the_notebooks_runs(jp_fetch: Any, ws: mlops.Workspace, jp_root_dir: Path) -> None:
    mine = make_runs(ws, 2, experiment="ctx", notebook="work/train.ipynb")
    make_runs(ws, 1, experiment="ctx", notebook="other.ipynb")
    code, body = await call(jp_fetch, "notebook-context", params={"path": "work/train.ipynb"})
    assert code == 200
    assert [r["run_id"] for r in body["runs"]] == mine[::-1]
    code, body = await call(jp_fetch, "notebook-context", params={"path": "nothing.ipynb"})
    assert body["runs"] == []


async def test_openapi_document_declares_every_route(jp_fetch: Any, ws: mlops.Workspace) -> None:
    code, doc = await call(jp_fetch, "openapi.json")
    assert code == 200 and doc["openapi"].startswith("3.")
    ops = {(p, v) for p, item in doc["paths"].items() for v in item}
    expected = {(f"/{API}/{r.path}", verb.lower()) for r in ROUTES for verb in r.permissions}
    assert ops == expected
    for item in doc["paths"].values():
        for op in item.values():
            assert op["x-permission"].startswith("jupyter_mlops:")


def _registered(app: Any) -> list[tuple[str, type]]:
    """Every (pattern, handler) the tornado application routes, walking nested routers."""
    found: list[tuple[str, type]] = []

    def walk(router: Any) -> None:
        for rule in getattr(router, "rules", []):
            target = rule.target
            if hasattr(target, "rules"):
                walk(target)
            elif isinstance(target, type):
                regex = getattr(rule.matcher, "regex", None)
                found.append((regex.pattern if regex is not None else "", target))

    walk(app.default_router)
    walk(app.wildcard_router)
    return [(p, h) for p, h in found if "jupyter-mlops" in p or h.__module__.startswith("jupyter_mlops")]


def _example_path(pattern: str) -> str:
    values = {"run_id": "0" * 32, "name": "m", "version": "1", "spec": "m@1"}
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values.get(m.group(1), "x"), pattern)
    return path.rstrip("$").split("jupyter-mlops/api/v1/", 1)[1]


async def test_route_inventory_every_route_is_authenticated_and_authorized(
    jp_fetch: Any, jp_serverapp: Any, ws: mlops.Workspace
) -> None:
    registered = _registered(jp_serverapp.web_app)
    declared = {r.handler: r for r in ROUTES}
    assert len(registered) == len(ROUTES) >= 19
    verbs = ("get", "post", "put", "patch", "delete")
    from tornado.web import RequestHandler

    for pattern, handler in registered:
        route = declared.get(handler)
        assert route is not None, f"{pattern} -> {handler.__name__} is registered but not in ROUTES"
        assert route.permissions, f"{route.path} declares no permission"
        implemented = {v.upper() for v in verbs if getattr(handler, v) is not getattr(RequestHandler, v)}
        assert implemented == set(route.permissions), (route.path, implemented)
        for verb, permission in route.permissions.items():
            area = permission.rsplit(":", 1)[0]
            action = permission.rsplit(":", 1)[1]
            assert handler.auth_resource == area, (route.path, handler.auth_resource, permission)
            path = _example_path(pattern)
            body = {"path": "x.ipynb"} if verb == "POST" else None
            code, _ = await call(jp_fetch, path, user="", method=verb, body=body)
            assert code in (401, 403), f"unauthenticated {verb} {path} -> {code}"
            code, err = await call(jp_fetch, path, user="mallory", method=verb, body=body)
            assert code == 403, f"unauthorized {verb} {path} -> {code}"
            assert "Traceback" not in json.dumps(err)
            code, _ = await call(jp_fetch, path, user="carol", method=verb, body=body)
            if action == "read":
                assert code != 403, f"read-only user refused on {verb} {path}"
            else:
                assert code == 403, f"read-only user allowed to {action} on {verb} {path} -> {code}"


async def test_post_needs_json_object_body(jp_fetch: Any, ws: mlops.Workspace) -> None:
    r = await jp_fetch(
        API, "pipelines", "run-notebook", method="POST", body="not json", headers=as_user("bob"), raise_error=False
    )
    assert r.code == 400 and json.loads(r.body)["field"] == "body"
    code, body = await call(jp_fetch, "pipelines/run-notebook", method="POST", body={"path": "../../etc/passwd.ipynb"})
    assert code == 400 and body["field"] == "path"
    code, body = await call(jp_fetch, "pipelines/run-notebook", method="POST", body={"path": "missing.ipynb"})
    assert code == 404
