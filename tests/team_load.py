"""Concurrent writers on one workspace, for the load test and ``benchmarks/bench_team.py``.

``python team_load.py ROOT INDEX RUNS`` is one writer, as a researcher's process would be: it
opens the workspace, tracks ``RUNS`` runs (parameters, a few metrics, a new data version each),
then logs a model in its last run, evaluates it, builds its card and requests a review. It prints
one JSON line with what it wrote and how long it took. :func:`run_writers` starts ``n`` of them
at once (each its own interpreter) and :func:`expected` says what they must have left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXPERIMENT = "load"
MODEL = "load-clf"


@dataclass(frozen=True)
class LoadResult:
    """What ``n`` writers did: wall time (first start to last exit), per-writer reports, exit codes."""

    seconds: float
    reports: list[dict[str, Any]]
    returncodes: list[int]
    stderr: list[str]


def run_writers(root: Path, n: int, runs: int, env: dict[str, str] | None = None, timeout: float = 1500) -> LoadResult:
    """Start ``n`` writer processes against the workspace at ``root`` at once and wait for all of them."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, str(root), str(i), str(runs)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    deadline = start + timeout
    try:
        outs = [p.communicate(timeout=max(1.0, deadline - time.perf_counter())) for p in procs]
    finally:
        for p in procs:  # a writer past the deadline (or left by an error here) does not outlive the caller
            if p.poll() is None:
                p.kill()
                p.communicate()
    seconds = time.perf_counter() - start
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs if out.strip()]
    return LoadResult(seconds, reports, [p.returncode for p in procs], [err for _, err in outs])


def expected(n: int, runs: int) -> dict[str, int]:
    """The records ``n`` writers of ``runs`` runs each must leave (nothing lost, nothing twice)."""
    return {"runs": n * runs, "metrics": n * runs * 3, "data_versions": n * runs, "model_versions": n, "reviews": n}


def count_records(ws: Any) -> dict[str, int]:
    """What the workspace holds of the writers' records, counted as :func:`expected` counts them."""
    import collections

    runs = ws.list_runs(experiment=EXPERIMENT, limit=10_000)
    actions = collections.Counter(e.action for e in ws.audit_events(limit=100_000))
    models = ws.models.list_models(MODEL)
    return {
        "runs": sum(1 for r in runs if r.status == "FINISHED"),
        "metrics": sum(len(ws.tracking.metric_history(r.run_id, "loss")) for r in runs),
        "data_versions": sum(1 for v in ws.data.list(limit=10_000) if v.name.startswith("load-w")),
        "model_versions": len(models),
        "reviews": sum(1 for m in models for rv in ws.models.reviews(f"{MODEL}@{m.version}") if rv.action == "request"),
        "audit_events": sum(actions.values()),
    }


def _writer(root: str, index: int, runs: int) -> dict[str, Any]:
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import jupyter_mlops as mlops

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=200).fit(X, y)
    t0 = time.perf_counter()
    ws = mlops.use(mlops.Workspace.open(root, user=os.environ.get("JUPYTER_MLOPS_USER", "alice")))
    run_ids = []
    version = None
    for k in range(runs):
        with ws.start_run(f"w{index}-r{k}", experiment=EXPERIMENT, params={"writer": index, "k": k}) as run:
            for step in range(3):
                mlops.log_metric("loss", 1.0 / (1 + step + k), step=step)
            frame = pd.DataFrame({"writer": [index] * 20, "k": [k] * 20, "x": range(20)})
            mlops.version_data(frame, f"load-w{index}")
            if k == runs - 1:
                version = mlops.log_model(model, MODEL, X_example=X.head(5))
            run_ids.append(run.run_id)
    assert version is not None
    ref = f"{MODEL}@{version.version}"
    ws.evaluation.evaluate(ref, X, y, n_bootstrap=5, plots=False)
    ws.cards.build_card(ref)
    mlops.request_review(ref, note=f"writer {index}")
    return {"writer": index, "runs": run_ids, "model_version": version.version, "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    print(json.dumps(_writer(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))), flush=True)
