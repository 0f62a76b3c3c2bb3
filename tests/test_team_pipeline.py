"""Pipelines on team services: the demo end to end (MLflow server, PostgreSQL, a Dask cluster of separate processes),
and a Dask worker killed in the middle of a stage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pipeline_helpers import write_notebook
from team_services import TeamServices, clean_env, make_team_workspace, using_env

import jupyter_mlops as mlops

pytestmark = pytest.mark.team
REPO = Path(__file__).resolve().parent.parent
MODEL = "arrests-clf"


@pytest.mark.timeout(1800)  # the whole demo: a few minutes on an idle 2-core machine, far more under load
def test_the_demo_runs_end_to_end_on_team_services(team_services: TeamServices, tmp_path: Path) -> None:
    # The admin: an MLflow workspace with its roles (alice researches, the Dask runner runs her stages).
    # Objects go to a shared folder (file://, as an NFS or SMB share is mounted on every machine).
    share = tmp_path / "share" / "mlops-objects"
    _, info = make_team_workspace(
        team_services,
        tmp_path / "setup",
        roles={"researcher": ["alice"]},
        reviewers=("bob",),
        executor=True,
        objects=f"file://{share}",
    )
    team = tmp_path / "team.toml"
    db = team_services.pg.create_database(team_services.unique("demo"))
    team.write_text((tmp_path / "setup" / "admin" / "team.toml").read_text().replace(str(info["db"]), db), encoding="utf-8")
    root = tmp_path / "demo-workspace"
    env = clean_env(**team_services.mlflow.user_env("alice"), PYTHONPATH=str(REPO))
    before = _tasks_done(team_services)
    proc = subprocess.run(
        [sys.executable, str(REPO / "example_notebooks" / "run_demo.py"), str(root), "--config", str(team)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "audit chain intact" in proc.stdout and "the MLflow server's UI" in proc.stdout
    home = root / ".mlops"
    assert not list(home.rglob("*.db")) and not (home / "artifacts").exists() and not (home / "objects").exists()
    done = _tasks_done(team_services)
    assert len(done) == 2 and all(done[w] > before.get(w, 0) for w in done), (before, done)  # both workers ran stages

    with using_env(team_services.mlflow.user_env("alice")):
        ws = mlops.Workspace.open(root, user="auditor")
        assert ws.settings.executor == team_services.dask.address and ws.verify_audit().ok
        pipeline = ws.audit_events(action="pipeline.start")[0].payload
        assert pipeline["executor"] == team_services.dask.address
        variants = [r for r in ws.list_runs(limit=100) if r.name == "train"]
        assert len(variants) == 4 and {r.status for r in variants} == {"FINISHED"}
        assert {r.params.get("C") for r in variants} == {"0.01", "1.0"}
        data = ws.data.list(limit=100)
        assert data and all((share / v.object_id[:2] / v.object_id[2:]).is_file() for v in data)
        assert ws.data.verify().ok
        champion = ws.models.get(f"{MODEL}@champion")
        assert champion.status == "approved" and champion.artifact_uri.startswith("mlflow-artifacts:")
        # The stock client reads the same through the server.
        from mlflow import MlflowClient
        from mlflow.utils.workspace_context import WorkspaceContext

        with WorkspaceContext(info["mlflow_workspace"]):
            client = MlflowClient(team_services.mlflow.url)
            assert client.get_model_version_by_alias(MODEL, "champion").run_id == champion.run_id
            run = client.get_run(champion.run_id)
            assert run.data.metrics["cv_balanced_accuracy"] == max(v.metrics["cv_balanced_accuracy"] for v in variants)
            version = client.get_model_version_by_alias(MODEL, "champion")
            # MLflow does not always return a version's model_id; its source is models:/<model_id>
            logged = client.get_logged_model(version.model_id or version.source.removeprefix("models:/").split("/")[0])
            assert logged.experiment_id == run.info.experiment_id  # filed with its run, not in "Default"


def test_a_dask_worker_killed_mid_stage_is_retried_on_the_other(team_services: TeamServices, tmp_path: Path) -> None:
    root, _ = make_team_workspace(team_services, tmp_path, roles={"researcher": ["alice"]}, executor=True)
    marker = tmp_path / "started"
    write_notebook(
        root / "slow.ipynb",
        [
            "import os, time, pathlib\npathlib.Path(marker).write_text(str(os.getpid()))\ntime.sleep(12)",
            "import jupyter_mlops as mlops\nmlops.log_metric('done', 1.0)",
        ],
        f"marker = {str(marker)!r}",
    )
    (root / "pipeline.yaml").write_text("name: slow\nstages:\n  slow:\n    notebook: slow.ipynb\n", encoding="utf-8")
    dask = team_services.dask
    with using_env(team_services.mlflow.user_env("alice")):
        ws = mlops.Workspace.open(root, user="alice")
        result: dict[str, object] = {}
        thread = threading.Thread(target=lambda: result.update(r=ws.pipelines.run_pipeline(root / "pipeline.yaml")))
        thread.start()
        victim = _busy_worker(dask, marker, deadline=time.monotonic() + 300)
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and its kernel
        victim.wait(timeout=30)
        thread.join(timeout=300)
        assert not thread.is_alive(), "the pipeline hung after its worker was killed"
        outcome = result["r"]
        stage = outcome.stages[0]  # type: ignore[attr-defined]
        assert outcome.status == "SUCCEEDED" and stage.outcome == "SUCCEEDED", str(outcome)  # type: ignore[attr-defined]
        assert stage.metrics == {"done": 1.0}
        ws.reap()
        runs = ws.list_runs(limit=50)
        assert all(r.status != "RUNNING" for r in runs)
        attempts = {r.status: r for r in runs if r.name == "slow" and r.parent_run_id == outcome.run_id}  # type: ignore[attr-defined]
        assert sorted(attempts) == ["FINISHED", "KILLED"]  # the killed attempt, closed; the retry on the other worker
        reaped = ws.audit_events(action="run.reaped", object_id=attempts["KILLED"].run_id)
        assert len(reaped) == 1 and ws.verify_audit().ok
    dask.workers.remove(victim)
    dask.add_worker(len(dask.workers) + 10)
    dask.wait_for_workers(2)


def _busy_worker(dask: object, marker: Path, *, deadline: float) -> subprocess.Popen[bytes]:
    """The worker process running the stage, once its kernel is working (it wrote ``marker``)."""
    from distributed import Client

    with Client(dask.address, timeout=10, set_as_default=False) as client:  # type: ignore[attr-defined]
        while time.monotonic() < deadline:
            busy = [addr for addr, keys in client.processing().items() if keys]
            if busy and marker.exists():
                pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                for proc in dask.workers:  # type: ignore[attr-defined]
                    if proc.pid == pid:
                        return proc
            time.sleep(0.1)
    raise AssertionError("no worker picked up the stage")


def _tasks_done(team_services: TeamServices) -> dict[str, int]:
    """Pipeline stages each worker has finished so far (from its own transition log), by worker name."""
    from distributed import Client

    def count(dask_worker: object) -> int:
        log = dask_worker.state.log  # type: ignore[attr-defined]
        return sum(1 for e in log if "run_stage_task" in str(e[0]) and e[1:3] == ("executing", "memory"))

    with Client(team_services.dask.address, timeout=10, set_as_default=False) as client:
        names = {addr: w["name"] for addr, w in client.scheduler_info()["workers"].items()}
        return {str(names[addr]): n for addr, n in client.run(count).items()}
