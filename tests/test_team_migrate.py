"""``jupyter-mlops migrate --to``: the previous release's workspace copied to team services, killed mid-way, resumed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from release_fixture import table_snapshot, unpack_release_workspace
from team_services import TeamServices, clean_env, using_env

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main

pytestmark = pytest.mark.team
REPO = Path(__file__).resolve().parent.parent
REWRITTEN = {"runs", "model_versions"}  # where MLflow keeps things (experiment ids, model locations)


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_migrate_copies_everything_verifies_it_and_resumes_after_kill(team_services: TeamServices, tmp_path: Path) -> None:
    root = unpack_release_workspace(tmp_path / "source")
    mlops.use(root, user="alice")
    for i in range(14):  # enough runs that the kill lands in the middle
        with mlops.start_run(f"extra-{i}", experiment="sweep", params={"i": i}):
            mlops.log_metrics({"loss": 1.0 / (i + 1), "step_metric": float(i)})
    source_url = mlops.current_workspace().settings.metadata_url
    before = table_snapshot(source_url)
    source_chain = mlops.current_workspace().verify_audit()
    source_runs = {r.run_id: r for r in mlops.current_workspace().list_runs(limit=100)}
    source_objects = set(mlops.current_workspace().objects.iter_ids())
    assert len(source_runs) == 16 and source_chain.ok

    shared = tmp_path / "shared-objects"  # a folder every member mounts
    config, info = team_services.team_config(tmp_path / "admin", objects=str(shared))
    admin = team_services.mlflow.admin_env()
    env = clean_env(**admin, PYTHONPATH=str(REPO), JUPYTER_MLOPS_USER="alice")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_mlops.cli.main", "--root", str(root), "migrate", "--to", str(config)],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    done = _wait_for_copied_runs(team_services, str(info["db"]), at_least=3, proc=proc)
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9 mid-way
    proc.wait(timeout=30)
    assert 3 <= done < 16, f"the kill did not land mid-way ({done} runs copied)"
    assert team_services.mlflow.url not in (root / ".mlops" / "config.toml").read_text()  # not switched by a killed copy

    with using_env(admin):
        code, out, err = cli("--root", str(root), "--user", "alice", "--json", "migrate", "--to", str(config))
    assert code == 0, err
    report = json.loads(out)
    assert report["copied"]["runs"] + report["skipped"]["runs"] == 16 and report["skipped"]["runs"] >= 3
    assert report["copied"]["model_versions"] + report["skipped"]["model_versions"] == 1

    # The metadata: every table arrived, row for row; the chain is the source's plus the migration's own event.
    target_url = str(info["db"])
    with using_env({"PGPASSFILE": str(team_services.pg.passfile)}):
        after = table_snapshot(target_url, skip=("alembic_version_mlops", "tracking_ids", "migration_items"))
    for table, (count, digest) in before.items():
        if table in ("alembic_version_mlops", "tracking_ids", "migration_items", "schema_versions"):
            continue
        if table == "audit_events":
            assert after[table][0] == count + 1
        elif table == "audit_head":
            assert after[table][0] == 1
        elif table in REWRITTEN:
            assert after[table][0] == count, table
        else:
            assert after[table] == (count, digest), table

    with using_env(team_services.mlflow.user_env("alice")):
        # The source now points at the team services (and holds no password).
        text = (root / ".mlops" / "config.toml").read_text()
        assert team_services.mlflow.url in text and team_services.pg.app_password not in text
        _grant_alice(team_services, root)
        ws = mlops.use(root, user="alice")
        assert ws.settings.tracking_uri == team_services.mlflow.url
        chain = ws.verify_audit()
        assert chain.ok and chain.checked == source_chain.checked + 2  # the target's migrated event + access.sync
        events = ws.audit_events(limit=3)
        migrated = next(e for e in events if e.action == "workspace.migrated")
        assert migrated.payload["source_head_hash"] == source_chain.head_hash and migrated.payload["runs"] == 16

        # Runs keep the ids the chain names; MLflow holds each exactly once (the killed attempt's half copy is gone).
        listed = {r.run_id: r for r in ws.list_runs(limit=100)}
        assert set(listed) == set(source_runs)
        assert all(listed[k].metrics == source_runs[k].metrics for k in listed)
        from mlflow import MlflowClient
        from mlflow.utils.workspace_context import WorkspaceContext

        with WorkspaceContext(info["mlflow_workspace"]):
            client = MlflowClient(team_services.mlflow.url)
            exps = [e.experiment_id for e in client.search_experiments()]
            copies = client.search_runs(exps, max_results=1000)
            by_recorded = {}
            for run in copies:
                by_recorded.setdefault(run.data.tags["mlops.run_id"], []).append(run.info.run_id)
            assert sorted(by_recorded) == sorted(source_runs) and all(len(v) == 1 for v in by_recorded.values())
        code, out, _ = cli("--root", str(root), "--json", "runs", "show", next(iter(source_runs)))
        assert code == 0 and json.loads(out)["run_id"] == next(iter(source_runs))

        # Objects and the model: every hash checked where they now live.
        assert set(ws.objects.iter_ids()) == source_objects and str(ws.objects.root) == str(shared)
        checked = ws.data.verify()
        assert not checked.missing and not checked.corrupt and checked.checked == len(source_objects)
        model = mlops.load_model("arrests-clf@champion")
        frame = mlops.load_data("arrests-test@1")
        assert len(model.predict(frame[["year", "age", "employed", "citizen", "checks"]].head(5))) == 5

        # Done once: the same command again finds the workspace already on those services.
        code, _, err = cli("--root", str(root), "migrate", "--to", str(config))
        assert code == 5 and "this workspace's own stores" in err


def _grant_alice(services: TeamServices, root: Path) -> None:
    toml = root / ".mlops" / "config.toml"
    toml.write_text(toml.read_text() + '\n[roles]\nresearcher = ["alice"]\n')
    with using_env(services.mlflow.admin_env()):
        assert main(["--root", str(root), "--user", "admin", "access", "sync"]) == 0


def _wait_for_copied_runs(services: TeamServices, db_url: str, *, at_least: int, proc: subprocess.Popen[bytes]) -> int:
    engine = sa.create_engine(db_url, connect_args={"passfile": str(services.pg.passfile)})
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            with contextlib.suppress(sa.exc.DBAPIError), engine.connect() as conn:
                done = conn.execute(
                    sa.text("SELECT count(*) FROM migration_items WHERE kind = 'run' AND state = 'done'")
                ).scalar()
                if done and done >= at_least:
                    return int(done)
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError("the migration copied no runs in 3 minutes")
