"""Pipeline benchmark: tracking overhead, a fully cached re-run, and sweep speed-ups.

Prints, in one run:
1. per-notebook overhead of ``mlops.run_notebook`` over plain ``papermill.execute_notebook`` on
   the same trivial notebook, in process (goal: at most 1.15x);
2. the wall time of re-running an unchanged, fully cached 4-stage pipeline (goal: < 1 s, no kernel);
3. an 8-notebook sweep on the local pool (2 workers) and on a Dask LocalCluster (2 workers), each
   as a speed-up over running the 8 one after another (goal: >= 1.5x), warm workers, with pool
   start-up reported separately.

Run: ``python benchmarks/bench_pipeline.py`` (takes a few minutes).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pipeline_helpers import write_notebook

import jupyter_mlops as mlops

REPEAT = 5
WORK = "import time\nt0 = time.perf_counter()\nwhile time.perf_counter() - t0 < seconds:\n    pass"
SCORE = "import jupyter_mlops as mlops\nwith mlops.start_run('score') as run:\n    run.log_metric('score', -abs(k - 3))"


def bench_overhead(root: Path) -> None:
    import papermill

    from jupyter_mlops.pipelines.execute import execute_notebook

    ws = mlops.init(root / "overhead", user="bench")
    nb = write_notebook(ws.settings.root / "trivial.ipynb", ["x = sum(range(1000))"], "a = 1")
    ws.pipelines.run_notebook(nb, {"a": 0})  # warm imports, MLflow experiment, caches
    papermill.execute_notebook(str(nb), str(root / "pm.ipynb"), parameters={"a": 0}, progress_bar=False)
    plain, ours, engine = [], [], []
    for i in range(REPEAT):
        t = time.perf_counter()
        papermill.execute_notebook(str(nb), str(root / "pm.ipynb"), parameters={"a": i}, progress_bar=False)
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        execute_notebook(nb, root / "engine.ipynb", parameters={"a": i})
        engine.append(time.perf_counter() - t)
        t = time.perf_counter()
        ws.pipelines.run_notebook(nb, {"a": i})
        ours.append(time.perf_counter() - t)
    p, o, e = statistics.median(plain), statistics.median(ours), statistics.median(engine)
    print(
        f"[1] trivial notebook, median of {REPEAT}: papermill {p:.3f}s, our engine alone {e:.3f}s, "
        f"mlops.run_notebook {o:.3f}s -> {o / p:.2f}x (goal <= 1.15x)"
    )


def bench_cached(root: Path) -> None:
    ws = mlops.init(root / "cached", user="bench")
    r = ws.settings.root
    for name in ("a", "b", "c", "d"):
        write_notebook(r / f"{name}.ipynb", [f"open('{name}.txt', 'w').write(str(x))"], "x = 1")
    (r / "pipeline.yaml").write_text(
        "name: four\nstages:\n"
        "  a: {notebook: a.ipynb, outputs: [{file: a.txt}]}\n"
        "  b: {notebook: b.ipynb, needs: [a], outputs: [{file: b.txt}]}\n"
        "  c: {notebook: c.ipynb, needs: [a], outputs: [{file: c.txt}]}\n"
        "  d: {notebook: d.ipynb, needs: [b, c], outputs: [{file: d.txt}]}\n"
    )
    first = ws.pipelines.run_pipeline(r / "pipeline.yaml")
    assert first.status == "SUCCEEDED", str(first)
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        again = ws.pipelines.run_pipeline(r / "pipeline.yaml")
        times.append(time.perf_counter() - t)
        assert [s.outcome for s in again.stages] == ["CACHED"] * 4
    # The first run executed its stages in worker processes: this process never imported
    # papermill/nbclient, so no kernel can have been started here; nothing was submitted either.
    no_kernel = not ({"papermill", "nbclient"} & set(sys.modules)) and again.run_id is None
    print(
        f"[2] fully cached 4-stage re-run: median {statistics.median(times):.3f}s, max {max(times):.3f}s over {REPEAT} "
        f"(goal < 1 s); first run {first.seconds:.1f}s; no kernel, no papermill import, no MLflow run: {no_kernel}"
    )


def bench_sweep(root: Path) -> None:
    from jupyter_mlops.executors.base import get_executor
    from jupyter_mlops.pipelines.runner import warm_task

    ws = mlops.init(root / "sweep", user="bench")
    r = ws.settings.root
    write_notebook(r / "work.ipynb", [WORK, SCORE], "seconds = 1.0\nk = 0")
    (r / "pipeline.yaml").write_text(
        "name: sweep\nstages:\n  work:\n    notebook: work.ipynb\n"
        "    sweep: {grid: {k: [0, 1, 2, 3, 4, 5, 6, 7]}, select: {metric: score, mode: max}}\n"
    )
    nb = r / "work.ipynb"
    ws.pipelines.run_notebook(nb, {"k": -1})
    t = time.perf_counter()
    for k in range(8):
        ws.pipelines.run_notebook(nb, {"k": 100 + k})
    serial = time.perf_counter() - t
    print(f"[3] 8 notebooks one after another, in process: {serial:.2f}s")

    t = time.perf_counter()
    pool = get_executor("local", 2)
    pool.warm(warm_task(ws))
    print(f"    local pool start-up (2 spawned workers, warmed): {time.perf_counter() - t:.2f}s")
    t = time.perf_counter()
    result = ws.pipelines.run_pipeline(r / "pipeline.yaml", force=True, executor_obj=pool)
    local = time.perf_counter() - t
    pool.close()
    assert result.status == "SUCCEEDED" and result.selected["work"]["params"]["k"] == 3, str(result)
    print(f"    local pool, 2 workers: {local:.2f}s -> speed-up {serial / local:.2f}x (goal >= 1.5x)")

    from distributed import LocalCluster

    t = time.perf_counter()
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        dask = get_executor(cluster.scheduler_address, 2)
        dask.warm(warm_task(ws))
        print(f"    Dask LocalCluster start-up (2 workers, warmed): {time.perf_counter() - t:.2f}s")
        t = time.perf_counter()
        result = ws.pipelines.run_pipeline(r / "pipeline.yaml", force=True, executor_obj=dask)
        on_dask = time.perf_counter() - t
        dask.close()
        assert result.status == "SUCCEEDED" and result.selected["work"]["params"]["k"] == 3, str(result)
    print(f"    Dask LocalCluster, 2 workers: {on_dask:.2f}s -> speed-up {serial / on_dask:.2f}x (goal >= 1.5x)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench_cached(root)
        bench_overhead(root)
        bench_sweep(root)
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
