"""A workspace on team services, configured only: a real mlflow server (basic-auth, workspaces) on PostgreSQL."""

from __future__ import annotations

import contextlib
import io
import json
import urllib.request
from pathlib import Path

import pytest
from team_services import TeamServices, make_team_workspace

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main
from jupyter_mlops.errors import PermissionDenied

pytestmark = pytest.mark.team

ROLES = {"researcher": ["alice"], "viewer": ["victor"]}


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def team_ws(team_services: TeamServices, tmp_path: Path) -> tuple[Path, dict[str, object]]:
    return make_team_workspace(team_services, tmp_path, roles=ROLES, reviewers=("bob",))


def test_init_against_team_services_makes_no_local_store(team_services: TeamServices, team_ws: tuple[Path, dict]) -> None:
    root, info = team_ws
    home = root / ".mlops"
    assert not list(home.rglob("*.db")) and not (home / "artifacts").exists()
    config = (home / "config.toml").read_text()
    assert team_services.mlflow.url in config and str(info["db"]) in config
    assert team_services.pg.app_password not in config and team_services.pg.superuser_password not in config
    ws = mlops.Workspace.open(root, user="alice")
    assert ws.settings.team_mode and ws.settings.metadata_url.startswith("postgresql+psycopg://")
    assert ws.db.status().current == ws.db.status().head
    events = ws.audit_events(newest_first=False)
    assert [e.action for e in events][:2] == ["workspace.init", "access.sync"]
    assert events[0].payload["team"] is True


def test_runs_on_the_server_read_by_the_stock_client_and_ui(
    team_services: TeamServices, team_ws: tuple[Path, dict], monkeypatch
) -> None:
    root, info = team_ws
    for k, v in team_services.mlflow.user_env("alice").items():
        monkeypatch.setenv(k, v)
    mlops.use(root, user="alice")
    with mlops.start_run("train", experiment="arrests", params={"C": 0.5}) as run:
        mlops.log_metric("accuracy", 0.83)
    assert mlops.audit.verify().ok
    assert list(mlops.current_workspace().list_runs(experiment="arrests"))[0].metrics["accuracy"] == 0.83

    from mlflow import MlflowClient
    from mlflow.utils.workspace_context import WorkspaceContext

    with WorkspaceContext(info["mlflow_workspace"]):  # the stock client, as a team member would point it
        client = MlflowClient(team_services.mlflow.url)
        seen = client.get_run(run.run_id)
        assert seen.data.params["C"] == "0.5" and seen.data.metrics["accuracy"] == 0.83
        assert seen.info.artifact_uri.startswith("mlflow-artifacts:")
        assert any(f.path == "mlops" for f in client.list_artifacts(run.run_id))
    request = urllib.request.Request(team_services.mlflow.url + "/")
    request.add_header("Authorization", "Basic " + _basic("alice", team_services.mlflow.passwords["alice"]))
    with urllib.request.urlopen(request, timeout=30) as page:
        html = page.read().decode()
    assert page.status == 200 and "<title>MLflow</title>" in html


def test_a_user_without_edit_is_refused_with_a_clear_message(
    team_services: TeamServices, team_ws: tuple[Path, dict], monkeypatch
) -> None:
    root, _ = team_ws
    for k, v in team_services.mlflow.user_env("alice").items():
        monkeypatch.setenv(k, v)
    ws = mlops.Workspace.open(root, user="alice")
    with ws.start_run("first", experiment="arrests"):
        pass
    for k, v in team_services.mlflow.user_env("victor").items():
        monkeypatch.setenv(k, v)
    viewer = mlops.Workspace.open(root, user="victor")
    before = len(viewer.audit_events(limit=1000))
    with pytest.raises(PermissionDenied) as refused:
        with viewer.start_run("not-allowed", experiment="arrests"):
            pass
    message = str(refused.value)
    assert "'victor' lacks EDIT permission" in message and "researcher" in message and "access sync" in message
    runs = viewer.list_runs(limit=100)
    assert [r.name for r in runs] == ["first"] and all(r.status != "RUNNING" for r in runs)
    assert viewer.verify_audit().ok and len(viewer.audit_events(limit=1000)) == before
    code, _, err = cli("--root", str(root), "--user", "victor", "run", str(_notebook(root)))
    assert code == 6 and "lacks EDIT permission" in err


def test_access_sync_check_reports_drift(team_services: TeamServices, team_ws: tuple[Path, dict], monkeypatch) -> None:
    root, _ = team_ws
    for k, v in team_services.mlflow.admin_env().items():
        monkeypatch.setenv(k, v)
    code, out, _ = cli("--root", str(root), "--user", "admin", "--json", "access", "sync", "--check")
    assert code == 0 and json.loads(out)["in_sync"] is True
    toml = root / ".mlops" / "config.toml"
    toml.write_text(toml.read_text().replace('viewer = ["victor"]', 'viewer = ["victor", "carol"]'))
    code, out, _ = cli("--root", str(root), "--user", "admin", "--json", "access", "sync", "--check")
    report = json.loads(out)
    assert code == 5 and report["unknown_users"] == ["carol"] and report["applied"] is False


def test_credentials_never_shown(team_services: TeamServices, team_ws: tuple[Path, dict], monkeypatch, tmp_path: Path) -> None:
    root, info = team_ws
    url = str(info["db"]).replace("mlops@", "mlops:wrong-secret-pw@")
    monkeypatch.setenv("JUPYTER_MLOPS_METADATA_URL", url)
    monkeypatch.setenv("JUPYTER_MLOPS_METADATA_PASSFILE", str(tmp_path / "no-such-passfile"))
    code, out, err = cli("--root", str(root), "--json", "runs", "list")
    assert code == 3 and "wrong-secret-pw" not in out + err and "mlops:***@" in err
    code, out, _ = cli("--root", str(root), "config", "show")
    assert "wrong-secret-pw" not in out and "mlops:***@" in out
    toml = root / ".mlops" / "config.toml"
    toml.write_text(toml.read_text().replace(f'url = "{info["db"]}"', f'url = "{url}"'))
    monkeypatch.delenv("JUPYTER_MLOPS_METADATA_URL")
    code, _, err = cli("--root", str(root), "runs", "list")
    assert code == 3 and "holds a password in [metadata] url" in err and "wrong-secret-pw" not in err and ".pgpass" in err


def _basic(user: str, password: str) -> str:
    import base64

    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _notebook(root: Path) -> Path:
    from pipeline_helpers import write_notebook

    return write_notebook(root / "nb.ipynb", ["import jupyter_mlops as mlops\nmlops.log_metric('x', 1.0)"], "a = 1")


def test_a_wrong_password_is_refused_clearly_and_never_shown(
    team_services: TeamServices, team_ws: tuple[Path, dict], monkeypatch
) -> None:
    root, _ = team_ws
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-alices-password-42")
    ws = mlops.Workspace.open(root, user="alice")
    before = ws.verify_audit().head_seq
    with pytest.raises(PermissionDenied) as refused:
        with ws.start_run("wrong-password", experiment="arrests"):
            pass
    message = f"{refused.value} {refused.value.hint}"
    assert "did not accept the password of user 'alice'" in message and "MLFLOW_TRACKING_PASSWORD" in message
    assert "not-alices-password-42" not in message
    assert ws.verify_audit().head_seq == before  # nothing half written
    code, out, err = cli("--root", str(root), "--user", "alice", "run", str(_notebook(root)))
    assert code == 6 and "did not accept the password" in err and "not-alices-password-42" not in out + err
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    with pytest.raises(PermissionDenied, match="it needs a user name and password"):
        with mlops.Workspace.open(root, user="alice").start_run("no-credentials", experiment="arrests"):
            pass
