"""Runs from plain Python: outcomes, what is recorded, and that stock MLflow reads it all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

import jupyter_mlops as mlops


def _client(ws: mlops.Workspace) -> MlflowClient:
    return MlflowClient(tracking_uri=ws.settings.tracking_uri)


def test_finished_run_is_readable_with_the_stock_client(ws: mlops.Workspace) -> None:
    with mlops.start_run("train", params={"C": 0.5, "penalty": "l2"}, tags={"team": "risk"}) as run:
        mlops.log_metric("accuracy", 0.91)
        mlops.log_metrics({"f1": 0.8, "auc": 0.95})
        mlops.log_param("max_iter", 200)
    data = _client(ws).get_run(run.run_id)
    assert data.info.status == "FINISHED"
    assert data.data.params == {"C": "0.5", "penalty": "l2", "max_iter": "200"}
    metrics = dict(data.data.metrics)
    assert metrics.pop("mlops.wall_time_s") > 0
    assert metrics == {"accuracy": 0.91, "f1": 0.8, "auc": 0.95}
    tags = data.data.tags
    assert tags["team"] == "risk"
    assert tags["mlops.actor"] == "alice" and tags["mlflow.user"] == "alice"
    assert len(tags["mlops.environment_sha256"]) == 64
    assert tags["mlops.git.commit"]  # "unknown" outside git, a sha inside
    env_file = Path(_client(ws).download_artifacts(run.run_id, "mlops/environment.json"))
    env = json.loads(env_file.read_text())
    assert "mlflow" in env["packages"] and env["python"].count(".") == 2


def test_failed_run_records_the_error_and_reraises_it_unchanged(ws: mlops.Workspace) -> None:
    class Custom(Exception):
        pass

    err = Custom("model diverged")
    with pytest.raises(Custom) as info:
        with mlops.start_run("train") as run:
            raise err
    assert info.value is err
    data = _client(ws).get_run(run.run_id)
    assert data.info.status == "FAILED"
    assert data.data.tags["mlops.error"] == "Custom: model diverged"
    end = ws.audit_events(action="run.end")[0]
    assert end.object_id == run.run_id and end.payload["status"] == "FAILED"


def test_keyboard_interrupt_ends_the_run_killed(ws: mlops.Workspace) -> None:
    with pytest.raises(KeyboardInterrupt):
        with mlops.start_run("train") as run:
            raise KeyboardInterrupt
    assert _client(ws).get_run(run.run_id).info.status == "KILLED"
    assert ws.list_runs(status="KILLED").runs[0].run_id == run.run_id


def test_no_run_is_left_running(ws: mlops.Workspace) -> None:
    for outcome in ("ok", "error", "interrupt"):
        try:
            with mlops.start_run(outcome):
                if outcome == "error":
                    raise ValueError
                if outcome == "interrupt":
                    raise KeyboardInterrupt
        except (ValueError, KeyboardInterrupt):
            pass
    statuses = {r.info.run_name: r.info.status for r in _client(ws).search_runs(["0"])}
    assert statuses == {"ok": "FINISHED", "error": "FAILED", "interrupt": "KILLED"}
    assert ws.list_runs(status="RUNNING").runs == ()


def test_nested_runs_become_children(ws: mlops.Workspace) -> None:
    with mlops.start_run("pipeline") as outer:
        with mlops.start_run("stage") as inner:
            pass
    assert inner.parent_run_id == outer.run_id
    assert _client(ws).get_run(inner.run_id).data.tags["mlflow.parentRunId"] == outer.run_id
    graph = ws.lineage("run", inner.run_id)
    assert any(e.relation == "child_of" and e.dst_id == outer.run_id for e in graph.edges)


def test_runs_are_cross_referenced_with_audit_events(ws: mlops.Workspace) -> None:
    with mlops.start_run("train", experiment="exp-a") as run:
        mlops.log_metric("m", 1.0)
    info = ws.list_runs(experiment="exp-a").runs[0]
    assert info.run_id == run.run_id and info.metrics["m"] == 1.0 and "mlops.wall_time_s" in info.metrics
    events = ws.audit_events(object_type="run", object_id=run.run_id, newest_first=False)
    assert [e.action for e in events] == ["run.start", "run.end"]
    assert info.audit_seqs == tuple(e.seq for e in events)
    assert ws.verify_audit().ok


def test_bad_inputs_are_refused_before_anything_is_written(ws: mlops.Workspace) -> None:
    before = ws.verify_audit().checked
    with pytest.raises(mlops.InvalidInput):
        mlops.start_run("")
    with pytest.raises(mlops.UnsafePath):
        mlops.start_run("x", experiment="../../etc")
    with mlops.start_run("ok") as run:
        with pytest.raises(mlops.InvalidInput, match="must be a number"):
            mlops.log_metric("acc", "high")  # type: ignore[arg-type]
    assert ws.verify_audit().checked == before + 2
    assert _client(ws).get_run(run.run_id).info.status == "FINISHED"


def test_tags_set_during_the_run_reach_mlflow(ws: mlops.Workspace) -> None:
    with mlops.start_run("tagged", tags={"early": "1"}) as run:
        run.set_tag("late", "2")
    assert {"early": "1", "late": "2"}.items() <= _client(ws).get_run(run.run_id).data.tags.items()


def test_logging_outside_a_run_says_how_to_fix_it(ws: mlops.Workspace) -> None:
    with pytest.raises(mlops.NotFound, match="%%track"):
        mlops.log_metric("x", 1.0)


def test_mlflow_calls_inside_a_run_land_in_the_same_run(ws: mlops.Workspace) -> None:
    import mlflow

    with mlops.start_run("mixed") as run:
        mlflow.log_metric("from_mlflow", 2.0)
        mlops.log_metric("from_mlops", 3.0)
    metrics = _client(ws).get_run(run.run_id).data.metrics
    assert {k: v for k, v in metrics.items() if not k.startswith("mlops.")} == {"from_mlflow": 2.0, "from_mlops": 3.0}


def test_metric_sorted_listing_gives_sqlite_planner_statistics(ws: mlops.Workspace) -> None:
    import sqlite3

    from dashboard_paint import seed_runs

    seed_runs(ws, 1200, experiment="many")
    db = ws.settings.tracking_uri[len("sqlite:///") :]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()[0] == 0
    exp = ws.tracking.experiment_id("many")
    page, token = ws.tracking.search_runs([exp], order_by=["metrics.accuracy DESC"], max_results=50)
    values = [r["metrics"]["accuracy"] for r in page]
    assert len(values) == 50 and token and values == sorted(values, reverse=True)
    with sqlite3.connect(db) as con:
        described = con.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' LIMIT 1").fetchone()[0]
    assert int(described.split()[0]) == 1200


def test_git_state_is_recorded_inside_a_repository(tmp_path: Path) -> None:
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "train.py").write_text("C = 1\n")
    git("add", "train.py")
    git("-c", "user.email=a@example.org", "-c", "user.name=a", "commit", "-qm", "init")
    ws = mlops.init(tmp_path, user="alice")  # .mlops/ ignores itself, so the tree stays clean
    with mlops.start_run("clean") as clean:
        pass
    (tmp_path / "train.py").write_text("C = 2\n")
    with mlops.start_run("dirty") as dirty:
        pass
    tags = {r: _client(ws).get_run(r.run_id).data.tags for r in (clean, dirty)}
    head = git("rev-parse", "HEAD")
    assert tags[clean]["mlops.git.commit"] == head == tags[dirty]["mlflow.source.git.commit"]
    assert tags[clean]["mlops.git.dirty"] == "False" and "mlops.git.diff_sha256" not in tags[clean]  # no diff, no tag
    assert tags[dirty]["mlops.git.dirty"] == "True" and len(tags[dirty]["mlops.git.diff_sha256"]) == 64
    assert tags[dirty]["mlops.git.branch"] == git("rev-parse", "--abbrev-ref", "HEAD")
