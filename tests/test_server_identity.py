"""Who the REST API acts as (issue 12, point 1), in-process with pytest-jupyter's real server.

Under jupyter_server's default token login every browser profile is a random anonymous user, so
the server acts as its owner (``JUPYTER_MLOPS_USER``, else the OS user), as a kernel of the server
does; a provider that names users is believed. Every audit event says where its identity came
from, and reviewers added to config.toml count on the next request, without a restart.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from dashboard_scenario import make_reviewed_model, set_reviewers

import jupyter_mlops as mlops
from jupyter_mlops.server.identity import request_identity

pytest_plugins = ("pytest_jupyter.jupyter_server",)

API = "jupyter-mlops/api/v1"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ws = mlops.init(tmp_path_factory.mktemp("identity") / "project", user="alice")
    return {"ws": ws, "model": make_reviewed_model(ws)}


@pytest.fixture
def jp_server_config(project: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("JUPYTER_MLOPS_USER", "dana.owner")  # the owner of this single-user server
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}, "allow_unauthenticated_access": False},
        "JupyterMlops": {"root": str(project["ws"].settings.root)},
    }


async def call(jp_fetch: Any, path: str, *, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"method": method, "raise_error": False}
    if method == "POST":
        kwargs["body"] = json.dumps(body or {})
    r = await jp_fetch(*[API, *path.split("/")], **kwargs)  # pytest-jupyter sends the server's token
    return r.code, json.loads(r.body.decode() or "null")


async def test_token_login_acts_as_the_server_owner_and_reviewers_reload(
    jp_fetch: Any, project: dict[str, Any], jp_serverapp: Any
) -> None:
    ws, model = project["ws"], project["model"]
    from jupyter_server.auth.identity import PasswordIdentityProvider

    assert type(jp_serverapp.identity_provider) is PasswordIdentityProvider  # jupyter_server's default
    code, status = await call(jp_fetch, "status")
    assert code == 200
    assert (status["user"], status["identity_source"], status["reviewer"]) == ("dana.owner", "server-owner", False)
    name, version = model.split("@")
    code, body = await call(jp_fetch, f"reviews/{name}/{version}/approve", method="POST", body={"comment": "ok"})
    assert code == 403 and body["error"] == "PermissionDenied" and "dana.owner" in body["message"]
    set_reviewers(ws, "dana.owner")  # no restart: the next request reads the file again
    code, status = await call(jp_fetch, "status")
    assert status["reviewer"] is True
    code, review = await call(jp_fetch, f"reviews/{name}/{version}/approve", method="POST", body={"comment": "ok"})
    assert code == 200 and review["actor"] == "dana.owner"
    (event,) = [e for e in ws.audit_events(action="model.approve") if e.object_id == model]
    assert event.actor == "dana.owner" and event.payload["identity_source"] == "server-owner"
    denied = ws.audit_events(action="access.denied", actor="dana.owner")
    assert len(denied) == 1 and denied[0].payload["identity_source"] == "server-owner"
    local = ws.audit_events(action="model.review_request")[0]
    assert local.actor == "alice" and local.payload["identity_source"] == "local"
    assert ws.verify_audit().ok


def test_a_kernel_resolves_the_same_owner(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook side: a workspace opened without a user is the owner, source ``local``."""
    mlops.init(tmp_path / "p", user="x")
    monkeypatch.setenv("JUPYTER_MLOPS_USER", "dana.owner")
    ws = mlops.Workspace.open(tmp_path / "p")
    assert (ws.actor, ws.identity_source) == ("dana.owner", "local")
    with pytest.raises(mlops.errors.InvalidInput, match="unknown identity source 'root'"):
        ws.as_user("eve", source="root")


def test_providers_that_name_users_are_believed() -> None:
    from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider, User

    class NamingProvider(IdentityProvider):
        pass

    hub = type("JupyterHubIdentityProvider", (IdentityProvider,), {"__module__": "jupyterhub.singleuser.extension"})
    named = User(username="ravi")
    anonymous = User(username="a5365c2446da43f0a7f2b5be2f8af47e", name="Anonymous Io")
    assert request_identity(PasswordIdentityProvider(), named, "owner") == ("owner", "server-owner")
    assert request_identity(NamingProvider(), named, "owner") == ("ravi", "identity-provider")
    assert request_identity(NamingProvider(), anonymous, "owner") == ("owner", "server-owner")
    assert request_identity(hub(), named, "owner") == ("ravi", "jupyterhub")
