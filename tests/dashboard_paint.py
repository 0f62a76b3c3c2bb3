"""Measure how long the experiments dashboard takes to paint its first page in Chromium.

``seed_runs(ws, n)`` records one real run and clones it ``n - 1`` times directly in the MLflow
and metadata SQLite files (seconds for 10,000 runs instead of minutes; every clone gets its own
id, name, start time and metric values). ``first_paint_seconds(page, lab, notebook)`` opens the
notebook in JupyterLab, runs its first cell (which must display the experiments dashboard) and
returns the seconds from the key press until the table's first page is in the DOM and a frame has
been painted. ``benchmarks/bench_ui.py`` can call both.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat

import jupyter_mlops as mlops

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook with kernelspec metadata (so JupyterLab starts the kernel without asking)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1]


def seed_runs(ws: mlops.Workspace, n: int, *, experiment: str = "bench", seed: int = 0, analyze: bool = False) -> None:
    """``n`` finished runs in ``experiment``, each with params C and penalty and metrics accuracy, f1, loss.

    ``analyze=True`` runs SQLite's ANALYZE on the MLflow database afterwards: without planner
    statistics, MLflow's ``order_by=["metrics.x DESC"]`` query took 27 s for 10,000 runs here
    (0.26 s after ANALYZE); sorting by start time is fast either way.
    """
    with ws.start_run("run-0", experiment=experiment, params={"C": 0.5, "penalty": "l2"}) as run:
        run.log_metrics({"accuracy": 0.5, "f1": 0.5, "loss": 0.5})
    template = run.run_id
    rng = random.Random(seed)
    mlflow_db = sqlite3.connect(_sqlite_path(ws.settings.tracking_uri))
    meta_db = sqlite3.connect(_sqlite_path(ws.settings.metadata_url))
    try:
        mlflow_db.row_factory = sqlite3.Row
        meta_db.row_factory = sqlite3.Row
        base = dict(mlflow_db.execute("select * from runs where run_uuid = ?", (template,)).fetchone())
        tags = [dict(r) for r in mlflow_db.execute("select * from tags where run_uuid = ?", (template,))]
        meta = dict(meta_db.execute("select * from runs where run_id = ?", (template,)).fetchone())
        run_rows, metric_rows, latest_rows, param_rows, tag_rows, meta_rows = [], [], [], [], [], []
        t0 = int(base["start_time"])
        for i in range(1, n):
            rid = uuid.uuid4().hex
            start = t0 + i * 1000
            run_rows.append(
                {
                    **base,
                    "run_uuid": rid,
                    "name": f"run-{i}",
                    "start_time": start,
                    "end_time": start + 800,
                    "artifact_uri": base["artifact_uri"].replace(template, rid),
                }
            )
            for key in ("accuracy", "f1", "loss"):
                value = round(rng.uniform(0.4, 0.95), 4)
                metric_rows.append({"key": key, "value": value, "timestamp": start, "run_uuid": rid, "step": 0, "is_nan": 0})
                latest_rows.append({"key": key, "value": value, "timestamp": start, "step": 0, "is_nan": 0, "run_uuid": rid})
            param_rows += [
                {"key": "C", "value": str(round(rng.uniform(0.01, 10), 3)), "run_uuid": rid},
                {"key": "penalty", "value": rng.choice(["l1", "l2"]), "run_uuid": rid},
            ]
            tag_rows += [
                {**t, "run_uuid": rid, "value": f"run-{i}" if t["key"] == "mlflow.runName" else t["value"]} for t in tags
            ]
            meta_rows.append(
                {**meta, "run_id": rid, "name": f"run-{i}", "started": meta["started"][:19] + f".{i:06d}" + meta["started"][26:]}
            )
        for db, table, rows in (
            (mlflow_db, "runs", run_rows),
            (mlflow_db, "metrics", metric_rows),
            (mlflow_db, "latest_metrics", latest_rows),
            (mlflow_db, "params", param_rows),
            (mlflow_db, "tags", tag_rows),
            (meta_db, "runs", meta_rows),
        ):
            if rows:
                cols = list(rows[0])
                db.executemany(
                    f"insert into {table} ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
                    [tuple(r[c] for c in cols) for r in rows],
                )
        mlflow_db.commit()
        meta_db.commit()
        if analyze:
            mlflow_db.execute("ANALYZE")
            mlflow_db.commit()
    finally:
        mlflow_db.close()
        meta_db.close()


def open_notebook(page: Any, lab: Any, rel_path: str, *, timeout_ms: int = 90_000) -> None:
    """Open a notebook in JupyterLab and wait until its kernel is idle (not the early 'idle')."""
    from playwright.sync_api import expect

    page.goto(f"{lab.url}/lab/tree/{rel_path}?reset&token={lab.token}")  # reset: no restored tabs
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=timeout_ms)


def run_cell(page: Any, index: int) -> None:
    """Run cell ``index`` in place (Control+Enter)."""
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")


def first_paint_seconds(page: Any, lab: Any, rel_path: str, *, rows: int = 50, timeout_ms: int = 60_000) -> float:
    """Seconds from running the notebook's first cell until the dashboard's first page is painted."""
    open_notebook(page, lab, rel_path)
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(0)
    cell.locator(".jp-InputArea-editor").click()
    t0 = time.perf_counter()
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f".mlops-table-wrap[data-rows='{rows}']", timeout=timeout_ms)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))")
    return time.perf_counter() - t0


def paint_notebook(root: Path, experiment: str = "bench", name: str = "paint.ipynb") -> str:
    """Write the one-cell notebook that shows the experiments dashboard; returns its path under ``root``."""
    code = f"import jupyter_mlops as mlops\nmlops.dashboard('experiments', experiment={json.dumps(experiment)}, page_size=50)"
    write_notebook(root / name, [code])
    return name
