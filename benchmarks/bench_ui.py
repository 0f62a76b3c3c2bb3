"""Reviewer UI benchmark: a 10,000-run experiment behind the REST API and in the side panel.

Prints, in one run:

- REST: time for ``GET /jupyter-mlops/api/v1/runs?sort=metrics.accuracy&limit=50`` (goal < 0.2 s),
- anchor: ``mlflow.search_runs`` of the same experiment into a DataFrame, and the ratio,
- Chromium: time from opening JupyterLab's MLOps side panel until its first page of 50 runs is painted,
- Chromium, fresh kernel (issue 16.3, goal <= 1.5 s): for each dashboard (experiments, models,
  data, audit), seconds from running the one cell ``import jupyter_mlops as mlops;
  mlops.dashboard(...)`` in a kernel that has just started until the dashboard's first page is
  painted; for the experiments dashboard also until the tracking store's metrics are filled in.

The experiments *widget dashboard's* first paint (in the kernel) is measured by the widgets'
own benchmark; this script measures the side panel, which is fed by the same store query.

Usage: ``python benchmarks/bench_ui.py [--runs 10000] [--no-browser] [--fresh-only]``.
The 10,000 runs are written straight through MLflow's client in batches (with the jupyter-mlops
``runs`` rows), because recording them one tracked run at a time would take most of an hour.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import jupyter_mlops as mlops


def populate(ws: mlops.Workspace, n: int, experiment: str = "bench") -> float:
    """``n`` finished runs (params C, penalty; metrics accuracy, f1, loss): one real tracked run,
    copied in bulk into MLflow's and our SQLite tables (writing 10,000 runs through the API
    takes about 20 minutes here, which measures nothing this benchmark is about)."""
    from dashboard_paint import seed_runs

    t0 = time.perf_counter()
    seed_runs(ws, n, experiment=experiment)
    return time.perf_counter() - t0


def rest_first_page(server: object, repeats: int = 7) -> tuple[float, float, list[float]]:
    url = f"{server.url}/jupyter-mlops/api/v1/runs?experiment=bench&sort=metrics.accuracy&order=desc&limit=50"  # type: ignore[attr-defined]
    headers = {"Authorization": f"token {server.token}"}  # type: ignore[attr-defined]
    times = []
    first: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as resp:
            body = json.loads(resp.read())
        times.append(time.perf_counter() - t0)
        first = [r["metrics"]["accuracy"] for r in body["runs"]]
    assert len(first) == 50 and first == sorted(first, reverse=True)
    return times[0], statistics.median(times[1:]), first


def mlflow_anchor(ws: mlops.Workspace) -> tuple[float, int]:
    import mlflow

    mlflow.set_tracking_uri(ws.settings.tracking_uri)
    t0 = time.perf_counter()
    df = mlflow.search_runs(experiment_names=["bench"], max_results=100_000)
    return time.perf_counter() - t0, len(df)


def panel_paint(server: object) -> list[float]:
    from harness import CHROMIUM_FLAGS, chromium_path
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if not exe:
        raise RuntimeError("no chromium (apt-get install chromium)")
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        for _ in range(3):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{server.url}/lab?token={server.token}")  # type: ignore[attr-defined]
            tab = page.locator(".jp-SideBar.jp-mod-left [data-id='jupyter-mlops-sidebar']")
            tab.wait_for(timeout=120_000)
            page.wait_for_timeout(500)
            t0 = time.perf_counter()
            tab.click()
            page.wait_for_function(
                "() => document.querySelectorAll('#jupyter-mlops-sidebar .jp-mlops-all-runs .jp-mlops-run').length === 50",
                timeout=120_000,
            )
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            out.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    return out


def dashboard_paint(server: object, root: Path) -> tuple[float, list[float]]:
    """Seconds from running the dashboard cell to its first page of 50 runs painted: with a cold
    kernel (the cell also pays for importing mlflow and ipywidgets) and with a warm one."""
    from dashboard_paint import open_notebook, run_cell, write_notebook
    from harness import CHROMIUM_FLAGS, chromium_path
    from playwright.sync_api import sync_playwright

    show = "import jupyter_mlops as mlops\nmlops.dashboard('experiments', experiment='bench', page_size=50)"
    write_notebook(root / "paint_cold.ipynb", [show])
    write_notebook(
        root / "paint_warm.ipynb",
        ["import jupyter_mlops as mlops, mlflow, ipywidgets, pandas\nmlops.current_workspace().list_runs(limit=1)", show],
    )
    exe = chromium_path()
    if not exe:
        raise RuntimeError("no chromium (apt-get install chromium)")

    def timed(page: object, index: int) -> float:
        run_cell(page, index)
        t0 = time.perf_counter()
        page.wait_for_selector(".mlops-table-wrap[data-rows='50']", timeout=120_000)  # type: ignore[attr-defined]
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # type: ignore[attr-defined]
        return time.perf_counter() - t0

    warm = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        open_notebook(page, server, "paint_cold.ipynb")
        cold = timed(page, 0)
        page.close()
        for _ in range(3):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            open_notebook(page, server, "paint_warm.ipynb")
            run_cell(page, 0)
            page.wait_for_selector(".jp-Notebook .jp-Cell >> nth=0 >> .jp-OutputArea-output", timeout=120_000)
            warm.append(timed(page, 1))
            page.close()
        browser.close()
    return cold, warm


FRESH_CELLS = {
    "experiments": "import jupyter_mlops as mlops\nmlops.dashboard('experiments', experiment='bench', page_size=50)",
    "models": "import jupyter_mlops as mlops\nmlops.dashboard('models')",
    "data": "import jupyter_mlops as mlops\nmlops.dashboard('data')",
    "audit": "import jupyter_mlops as mlops\nmlops.dashboard('audit')",
}


def fresh_kernel_paints(server: object, root: Path, repeats: int = 3) -> dict[str, list[tuple[float, float | None]]]:
    """Per dashboard, ``(first page painted, metrics filled in)`` seconds after the cell runs in a fresh kernel."""
    from dashboard_paint import open_notebook, run_cell, write_notebook
    from harness import CHROMIUM_FLAGS, chromium_path
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if not exe:
        raise RuntimeError("no chromium (apt-get install chromium)")
    frame = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    out: dict[str, list[tuple[float, float | None]]] = {k: [] for k in FRESH_CELLS}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        for i in range(repeats):
            for name, cell in FRESH_CELLS.items():
                nb = f"fresh_{name}_{i}.ipynb"  # a new notebook: a kernel of its own, started now
                write_notebook(root / nb, [cell])
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                open_notebook(page, server, nb)
                run_cell(page, 0)
                t0 = time.perf_counter()
                page.wait_for_selector(".mlops-dash .mlops-table-wrap[data-rows]", timeout=120_000)
                page.evaluate(frame)
                first = time.perf_counter() - t0
                full = None
                if name == "experiments":
                    page.wait_for_function(
                        "() => { const c = document.querySelector('.mlops-dash .mlops-table-caption');"
                        " return c && !c.textContent.includes('loading'); }",
                        timeout=120_000,
                    )
                    page.evaluate(frame)
                    full = time.perf_counter() - t0
                out[name].append((first, full))
                page.close()
        browser.close()
    return out


def print_fresh(paints: dict[str, list[tuple[float, float | None]]]) -> None:
    for name, pairs in paints.items():
        firsts = [a for a, _ in pairs]
        line = (
            f"fresh kernel, {name} dashboard: first page painted {', '.join(f'{a:.2f}' for a in firsts)} s "
            f"(median {statistics.median(firsts):.2f} s; goal <= 1.5 s; issue 16 baseline 1.7-4.5 s)"
        )
        fulls = [b for _, b in pairs if b is not None]
        if fulls:
            line += f"; metrics filled in at {', '.join(f'{b:.2f}' for b in fulls)} s (median {statistics.median(fulls):.2f} s)"
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--fresh-only", action="store_true", help="only the fresh-kernel first paints")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from harness import LabServer

    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    ws = mlops.init(tmp / "project", user="alice")
    print(f"writing {args.runs} runs ...", flush=True)
    took = populate(ws, args.runs)
    print(f"populated {args.runs} runs in {took:.0f} s")
    from dashboard_scenario import make_reviewed_model, set_reviewers

    set_reviewers(ws, "bob")
    make_reviewed_model(ws)  # a version waiting for review, with evaluation and card, for the models dashboard
    server = LabServer(tmp / "project", tmp / f"lab-{uuid.uuid4().hex[:6]}", username="bob").start()
    try:
        if args.fresh_only:
            print_fresh(fresh_kernel_paints(server, tmp / "project", args.repeats))
            return
        cold, warm, _ = rest_first_page(server)
        anchor, n = mlflow_anchor(ws)
        print(
            f"REST first page of 50 sorted by metrics.accuracy ({args.runs} runs): cold {cold:.3f} s, warm median {warm:.3f} s (goal < 0.2 s)"
        )
        print(f"mlflow.search_runs -> DataFrame ({n} rows): {anchor:.2f} s")
        print(f"ratio search_runs / REST warm page: {anchor / warm:.0f}x")
        if not args.no_browser:
            paints = panel_paint(server)
            print(
                f"side panel: click to 50 runs painted in Chromium: {', '.join(f'{p:.2f}' for p in paints)} s "
                f"(median {statistics.median(paints):.2f} s; goal < 1.5 s)"
            )
            cold_paint, warm_paints = dashboard_paint(server, tmp / "project")
            print(
                f"experiments dashboard: cell run to first page painted: warm kernel "
                f"{', '.join(f'{p:.2f}' for p in warm_paints)} s (median {statistics.median(warm_paints):.2f} s; goal < 1.5 s), "
                f"first cell of a cold kernel {cold_paint:.2f} s (includes importing ipywidgets)"
            )
            print_fresh(fresh_kernel_paints(server, tmp / "project", args.repeats))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
