"""Team-mode load benchmark (issue 15): concurrent writers on team services against the embedded workspace.

``--writers`` processes (default 16) start at once; each tracks ``--runs`` runs (parameters, three
metric steps, a new data version each), logs a model in its last run, evaluates it, builds its
card and requests a review (tests/team_load.py). The same load runs twice, one after the other:

1. on the embedded workspace (MLflow on SQLite, metadata on SQLite, objects in ``.mlops/objects``);
2. on team services started here as the tests start them (tests/team_services.py): a real
   ``mlflow server`` (basic-auth, workspaces, 2 workers) on PostgreSQL, the metadata and audit chain
   on PostgreSQL, objects in a shared folder.

Printed for each: wall time, throughput (runs/s and audit events/s), the slowest writer, records
lost against what the writers reported (goal: 0), writers that failed (goal: 0, so 0 lock errors),
whether the chain verifies; then team/embedded throughput. The machine has two cores shared by
16 writers and, for team mode, the servers: the figures are a floor, not a capacity plan.

Usage: ``python benchmarks/bench_team.py [--writers 16] [--runs 3]`` (needs Debian's postgresql).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from team_load import LoadResult, count_records, expected, run_writers
from team_services import clean_env, make_team_workspace, pg_bindir, start_team_services, using_env

import jupyter_mlops as mlops

REPO = Path(__file__).resolve().parent.parent


def report(label: str, result: LoadResult, ws: mlops.Workspace, n: int, runs: int) -> float:
    want = expected(n, runs)
    counts = count_records(ws)
    lost = {k: want[k] - counts[k] for k in want if counts[k] != want[k]}
    chain = ws.verify_audit()
    failed = sum(1 for rc in result.returncodes if rc)
    slowest = max((r["seconds"] for r in result.reports), default=float("nan"))
    median = statistics.median(r["seconds"] for r in result.reports) if result.reports else float("nan")
    rate = want["runs"] / result.seconds
    print(
        f"{label:<9} {n} writers x {runs} runs: {result.seconds:6.1f} s wall, {rate:5.2f} runs/s, "
        f"{counts['audit_events'] / result.seconds:6.1f} audit events/s; writer median {median:.1f} s, slowest {slowest:.1f} s"
    )
    print(
        f"{'':<9} failed writers {failed}, lost records {lost or 0}, chain {'verifies' if chain.ok else 'BROKEN'} "
        f"({chain.checked} events)"
    )
    for err in (e for rc, e in zip(result.returncodes, result.stderr, strict=True) if rc):
        print("   ", err.strip().splitlines()[-1][:200])
    return rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if pg_bindir() is None:
        print("PostgreSQL is not installed (apt-get install postgresql)")
        return 2
    base = Path(tempfile.mkdtemp(prefix="bench-team-"))
    base.chmod(0o755)  # the postgres user must reach its data folder
    env = clean_env(PYTHONPATH=str(REPO))
    try:
        embedded = mlops.init(base / "embedded", user="alice")
        config = embedded.settings.home / "config.toml"
        config.write_text(config.read_text().replace("reviewers = []", 'reviewers = ["bob"]'))
        result = run_writers(embedded.settings.root, args.writers, args.runs, env=env)
        local = report("embedded", result, mlops.Workspace.open(embedded.settings.root, user="auditor"), args.writers, args.runs)

        services = start_team_services(base / "services")
        try:
            share = base / "share" / "objects"
            root, _ = make_team_workspace(
                services, base / "team", roles={"researcher": ["alice"]}, reviewers=("bob",), objects=f"file://{share}"
            )
            creds = services.mlflow.user_env("alice")
            result = run_writers(root, args.writers, args.runs, env={**env, **creds})
            with using_env(creds):
                team = report("team", result, mlops.Workspace.open(root, user="auditor"), args.writers, args.runs)
        finally:
            services.stop()
        print(f"team / embedded throughput: {team / local:.2f}x (runs/s; on one 2-core machine shared with the servers)")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    raise SystemExit(main())
