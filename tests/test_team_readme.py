"""The README's team-mode deployment guide, run as written against the session's team services.

Every block marked ``<!-- readme-test: fixture=team-services -->`` runs here, in README order, in
one project folder:

- the ```toml block is the team file: its example hosts are replaced by the session's services
  (SERVICES below: the MLflow server, PostgreSQL with a new database, a shared folder, the Dask
  scheduler; a new MLflow workspace), nothing else, and it is written as ``team.toml``;
- the ```bash block runs as a ``bash -e`` script (see test_serving_readme.run_bash) with MLflow's
  admin credentials in the environment, as the guide says;
- the ```python block runs in this process, as alice with her own MLflow credentials.

The service commands the guide's bullets show (``mlflow server ...``, ``dask worker ...``) are
the ones tests/team_services.py starts: every option the README names is checked to be one the
session's processes were started with.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from team_services import TeamServices, clean_env, using_env
from test_serving_readme import README, marked_blocks, run_bash, run_python

import jupyter_mlops as mlops

pytestmark = pytest.mark.team
MARK = "<!-- readme-test: fixture=team-services -->"
REPO = Path(__file__).resolve().parent.parent


def readme_blocks() -> list[tuple[int, str, str]]:
    """``(line, language, code)`` of every block marked for the team-services fixture."""
    return marked_blocks(MARK)


def test_the_team_guide_runs_as_written(team_services: TeamServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = readme_blocks()
    assert [lang for _, lang, _ in blocks] == ["toml", "bash", "python"]
    (_, _, toml), (bash_line, _, bash), (py_line, _, python) = blocks
    folder = tmp_path / "project"
    folder.mkdir()
    share = tmp_path / "share" / "objects"
    db = team_services.unique("mlops_risk")
    team_services.pg.create_database(db)
    workspace = team_services.mlflow.create_workspace(team_services.unique("risk-team-"))
    for user in ("alice", "dask-runner", "victor"):
        team_services.mlflow.user_env(user)
    services = {
        "http://mlflow.internal:5000": team_services.mlflow.url,
        "db.internal:5432/mlops_risk": f"127.0.0.1:{team_services.pg.port}/{db}",
        '"~/.pgpass"': f'"{team_services.pg.passfile}"',
        "file:///mnt/mlops-share/objects": f"file://{share}",
        "tcp://dask.internal:8786": team_services.dask.address,
        '"risk-team"': f'"{workspace}"',
    }
    for example, real in services.items():
        assert example in toml, f"the README's team.toml no longer has {example!r}"
        toml = toml.replace(example, real)
    (folder / "team.toml").write_text(toml, encoding="utf-8")

    env = clean_env(**team_services.mlflow.admin_env(), JUPYTER_MLOPS_USER="admin", PYTHONPATH=str(REPO))
    out = run_bash(bash_line, bash, folder, env=env)
    assert "workspace ready" in out and "mlops-researcher: assign alice" in out and "newest known:" in out
    config = (folder / ".mlops" / "config.toml").read_text()
    assert team_services.pg.app_password not in config and team_services.mlflow.admin_password not in config
    assert not list((folder / ".mlops").rglob("*.db"))

    monkeypatch.chdir(folder)
    with using_env(team_services.mlflow.user_env("alice")):
        ns: dict[str, object] = {}
        verified = run_python(py_line, python, ns)
        assert verified.ok  # type: ignore[attr-defined]
        run = ns["run"]
        from mlflow import MlflowClient
        from mlflow.utils.workspace_context import WorkspaceContext

        with WorkspaceContext(workspace):
            seen = MlflowClient(team_services.mlflow.url).get_run(run.run_id)  # type: ignore[attr-defined]
        assert seen.data.metrics["accuracy"] == 0.83 and seen.data.params["C"] == "0.5"
        ws = mlops.Workspace.open(folder, user="auditor")
        assert ws.settings.executor == team_services.dask.address and str(ws.objects.root) == str(share)
        assert [e.action for e in ws.audit_events(newest_first=False)][:2] == ["workspace.init", "access.sync"]


def test_the_guides_service_commands_are_the_ones_the_tests_start(team_services: TeamServices) -> None:
    text = README.read_text(encoding="utf-8")
    guide = text[text.index("## Team mode") : text.index("## Layout")]
    inline = " ".join(re.findall(r"`([^`]+)`", guide.replace("\n  ", " ")))
    started = {
        "mlflow server": team_services.mlflow.proc.args,  # type: ignore[union-attr]
        "dask scheduler": team_services.dask.scheduler.args,  # type: ignore[union-attr]
        "dask worker": team_services.dask.workers[0].args,
    }
    for command, args in started.items():
        shown = [c for c in re.findall(r"`([^`]+)`", guide.replace("\n  ", " ")) if c.startswith(command + " ")]
        assert shown, f"the guide shows no `{command} ...` command"
        ran = {a for a in args if str(a).startswith("--")}
        named = {w for w in shlex.split(shown[0]) if w.startswith("--")}
        assert named <= ran, f"the guide's {command} names {sorted(named - ran)}, which the tests do not start it with"
    assert "default_permission = NO_PERMISSIONS" in inline
    assert "default_permission = NO_PERMISSIONS" in (team_services.mlflow.base / "basic_auth.ini").read_text()
