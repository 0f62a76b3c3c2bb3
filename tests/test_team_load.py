"""16 processes writing at once to one workspace on team services: nothing lost, nothing twice, the chain whole."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from team_load import EXPERIMENT, MODEL, count_records, expected, run_writers
from team_services import TeamServices, clean_env, make_team_workspace, using_env

import jupyter_mlops as mlops

pytestmark = pytest.mark.team
REPO = Path(__file__).resolve().parent.parent
WRITERS, RUNS = 16, 1


@pytest.mark.timeout(1800)  # 16 interpreters on 2 cores: about two minutes idle, far more when the machine is shared
def test_sixteen_concurrent_writers_lose_nothing_and_the_chain_verifies(team_services: TeamServices, tmp_path: Path) -> None:
    root, info = make_team_workspace(team_services, tmp_path, roles={"researcher": ["alice"]}, reviewers=("bob",))
    env = clean_env(**team_services.mlflow.user_env("alice"), PYTHONPATH=str(REPO))
    result = run_writers(root, WRITERS, RUNS, env=env)
    failed = [(i, err[-2000:]) for i, (rc, err) in enumerate(zip(result.returncodes, result.stderr, strict=True)) if rc]
    assert not failed, failed
    assert not any("lock" in err.lower() or "deadlock" in err.lower() for err in result.stderr)
    want = expected(WRITERS, RUNS)

    with using_env(team_services.mlflow.user_env("alice")):
        ws = mlops.Workspace.open(root, user="auditor")
        runs = ws.list_runs(experiment=EXPERIMENT, limit=1000)
        written = sorted(r for report in result.reports for r in report["runs"])
        assert sorted(r.run_id for r in runs) == written and len(written) == want["runs"]
        assert {r.status for r in runs} == {"FINISHED"}
        assert sorted(r.name for r in runs) == sorted(f"w{i}-r{k}" for i in range(WRITERS) for k in range(RUNS))

        counts = count_records(ws)
        assert {k: counts[k] for k in want} == want
        versions = ws.data.list(limit=1000)
        assert collections.Counter(v.name for v in versions) == {f"load-w{i}": RUNS for i in range(WRITERS)}
        models = ws.models.list_models(MODEL)
        assert sorted(m.version for m in models) == list(range(1, WRITERS + 1))  # no number twice, none skipped
        assert sorted(r["model_version"] for r in result.reports) == list(range(1, WRITERS + 1))
        assert {m.status for m in models} == {"pending"}

        chain = ws.verify_audit()
        assert chain.ok, chain.reason
        actions = collections.Counter(e.action for e in ws.audit_events(limit=100_000))
        assert actions["run.start"] == actions["run.end"] == want["runs"]
        assert actions["data.version"] == want["data_versions"]
        assert actions["model.log"] == want["model_versions"] and actions["model.review_request"] == want["reviews"]
        assert chain.checked == counts["audit_events"] == sum(actions.values())

        from mlflow import MlflowClient
        from mlflow.utils.workspace_context import WorkspaceContext

        with WorkspaceContext(info["mlflow_workspace"]):  # every metric step arrived at the server
            client = MlflowClient(team_services.mlflow.url)
            steps = sum(len(client.get_metric_history(run_id, "loss")) for run_id in written)
        assert steps == want["metrics"]
