"""The JupyterLab side panel in a real Chromium against a real ``jupyter lab`` (token and XSRF on).

The lab runs as Jupyter user ``bob`` (a reviewer); the records are written by ``alice`` through the
Python API before the server starts. Screenshots go to ``test-results/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (  # noqa: F401 - fixtures used by pytest
    XSS_PAYLOADS,
    browser_type_launch_args,
    ensure_browser,
    jp_asyncio_loop,
    jp_server_cleanup,
)
from dashboard_scenario import make_reviewed_model, set_reviewers
from harness import LabServer

import jupyter_mlops as mlops

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("MLOPS_SCREENSHOT_DIR") or Path(__file__).resolve().parent.parent / "test-results")
NOTEBOOK = "train.ipynb"

XSS = XSS_PAYLOADS


def _write_notebook(path: Path) -> None:
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [], "source": "x = 1"}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import pandas as pd

    ensure_browser()
    root = tmp_path_factory.mktemp("panel") / "project"
    ws = mlops.init(root, user="alice")
    set_reviewers(ws, "bob")
    _write_notebook(root / NOTEBOOK)
    mine = []
    for i in range(3):
        with ws.start_run(f"nb-run-{i}", experiment="panel", params={"C": i}, source={"notebook": NOTEBOOK}) as run:
            run.log_metrics({"accuracy": 0.7 + i / 100})
        mine.append(run.run_id)
    with ws.start_run("elsewhere", experiment="panel", source={"notebook": "other.ipynb"}) as run:
        run.log_metric("accuracy", 0.1)
    for i, payload in enumerate(XSS):
        with ws.start_run(
            payload, experiment="xss", params={"p": payload}, tags={"t": payload}, source={"notebook": NOTEBOOK}
        ) as run:
            run.log_metric("accuracy", i / 100)
    ws.data.version(pd.DataFrame({"a": [1, 2]}), "xss-data", description=" ".join(XSS))
    first = make_reviewed_model(ws, card_text="\n".join(XSS))
    second = make_reviewed_model(ws, request=False)
    ws.models.request_review(second, note=" ".join(XSS))
    server = LabServer(root, tmp_path_factory.mktemp("panel-lab"), username="bob").start()
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield {"server": server, "ws": ws, "mine": mine, "first": first, "second": second}
    finally:
        server.stop()


def _watch(page: Any) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.add_init_script("window.__xss = undefined;")
    return dialogs


def _open_panel(page: Any, server: LabServer, path: str = f"lab/tree/{NOTEBOOK}") -> Any:
    page.set_viewport_size({"width": 1500, "height": 950})
    page.goto(f"{server.url}/{path}?token={server.token}")
    page.locator(".jp-SideBar.jp-mod-left [data-id='jupyter-mlops-sidebar']").click(timeout=60_000)
    panel = page.locator("#jupyter-mlops-sidebar")
    panel.wait_for(state="visible")
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if box:  # a reviewer widens the panel; the screenshots show it at 460 px
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 200)
        page.mouse.down()
        page.mouse.move(500, box["y"] + 200, steps=5)
        page.mouse.up()
    page.locator(".jp-mlops-status[data-state='ok']").wait_for(timeout=30_000)
    return panel


def _no_script_ran(page: Any, dialogs: list[str]) -> None:
    assert dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined" or page.evaluate("window.__xss instanceof HTMLElement")
    assert (
        page.evaluate(
            "document.querySelectorAll('#jupyter-mlops-sidebar script, #jupyter-mlops-sidebar img, #jupyter-mlops-sidebar iframe, #jupyter-mlops-sidebar svg:not(.jp-icon)').length"
        )
        == 0
    )


def test_panel_shows_the_notebooks_runs_first(lab: dict[str, Any], page: Any) -> None:
    dialogs = _watch(page)
    panel = _open_panel(page, lab["server"])
    page.locator(".jp-mlops-context", has_text=NOTEBOOK).wait_for(timeout=30_000)
    mine = panel.locator(".jp-mlops-notebook-runs .jp-mlops-run")
    mine.first.wait_for(timeout=30_000)
    ids = mine.evaluate_all("nodes => nodes.map(n => n.dataset.runId)")
    assert set(lab["mine"]) <= set(ids) and len(ids) == 3 + len(XSS)
    assert panel.locator(".jp-mlops-user").inner_text() == "acting as bob"
    panel.locator(".jp-mlops-sort").select_option("metrics.accuracy")
    page.wait_for_function(
        "() => document.querySelector('#jupyter-mlops-sidebar .jp-mlops-all-runs .jp-mlops-run')?.dataset.runId === {}".format(
            json.dumps(lab["mine"][2])
        )
    )
    panel.locator(f".jp-mlops-notebook-runs .jp-mlops-run[data-run-id='{lab['mine'][0]}']").click()
    page.locator(".jp-mlops-detail h3", has_text="Run nb-run-0").wait_for()
    assert "notebook:" + NOTEBOOK in panel.locator(".jp-mlops-detail").inner_text()
    page.screenshot(path=str(SHOTS / "panel-experiments.png"))
    _no_script_ran(page, dialogs)


def test_approve_as_second_user_is_recorded_and_audited(lab: dict[str, Any], page: Any) -> None:
    dialogs = _watch(page)
    panel = _open_panel(page, lab["server"])
    panel.locator(".jp-mlops-tab[data-view='models']").click()
    item = panel.locator(f".jp-mlops-review[data-spec='{lab['first']}']")
    item.wait_for(timeout=30_000)
    item.locator(".jp-mlops-comment").fill("fair enough <b>ok</b>")
    page.screenshot(path=str(SHOTS / "panel-models-before-approve.png"))
    item.locator(".jp-mlops-approve").click()
    page.locator(".jp-mlops-message[data-state='ok']", has_text=f"{lab['first']}: approved by bob").wait_for(timeout=30_000)
    ws = lab["ws"]
    assert ws.models.get(lab["first"]).status == "approved"
    review = ws.models.reviews(lab["first"])[-1]
    assert (review.action, review.actor, review.text) == ("approve", "bob", "fair enough <b>ok</b>")
    events = [e for e in ws.audit_events(action="model.approve") if e.object_id == lab["first"]]
    assert len(events) == 1 and events[0].actor == "bob"
    assert ws.verify_audit().ok
    assert panel.locator(f".jp-mlops-review[data-spec='{lab['first']}']").count() == 0
    page.screenshot(path=str(SHOTS / "panel-models-approved.png"))
    panel.locator(".jp-mlops-tab[data-view='audit']").click()
    page.locator(".jp-mlops-badge[data-state='ok']").wait_for(timeout=30_000)
    assert "model.approve" in panel.locator(".jp-mlops-events").inner_text()
    page.screenshot(path=str(SHOTS / "panel-audit.png"))
    _no_script_ran(page, dialogs)


def test_xss_corpus_is_shown_as_text(lab: dict[str, Any], page: Any) -> None:
    dialogs = _watch(page)
    panel = _open_panel(page, lab["server"])
    runs = panel.locator(".jp-mlops-notebook-runs")
    runs.locator(".jp-mlops-run").first.wait_for(timeout=30_000)
    shown = runs.inner_text()
    for payload in XSS:
        assert payload.strip() in shown, payload
    xss_run = panel.locator(".jp-mlops-notebook-runs .jp-mlops-run", has_text=XSS[1])
    xss_run.click()
    page.locator(".jp-mlops-detail h3", has_text="Run <img").wait_for()
    page.screenshot(path=str(SHOTS / "panel-xss-experiments.png"))
    for view in ("data", "models", "audit"):
        panel.locator(f".jp-mlops-tab[data-view='{view}']").click()
        page.locator(f"#jupyter-mlops-sidebar .jp-mlops-body[data-loaded='{view}']").wait_for(timeout=30_000)
        page.wait_for_timeout(300)
        _no_script_ran(page, dialogs)
    panel.locator(".jp-mlops-tab[data-view='models']").click()
    pending = panel.locator(f".jp-mlops-review[data-spec='{lab['second']}']")
    pending.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "panel-xss-models.png"))
    panel.locator(f".jp-mlops-all-models .jp-mlops-card[data-spec='{lab['first']}']").click()
    card = page.locator(".jp-mlops-cardview[data-loaded='true']")
    card.wait_for(timeout=30_000)
    assert XSS[0] in card.inner_text() and XSS[1] in card.inner_text()
    assert card.locator("script, img, iframe, svg, object, embed").count() == 0
    page.screenshot(path=str(SHOTS / "panel-xss-card.png"))
    _no_script_ran(page, dialogs)


def test_palette_verifies_the_audit_chain(lab: dict[str, Any], page: Any) -> None:
    dialogs = _watch(page)
    _open_panel(page, lab["server"])
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=60_000)
    search = page.locator(".lm-CommandPalette-input")
    for _ in range(5):
        page.locator(".jp-NotebookPanel .jp-Cell").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Shift+C")
        try:
            search.wait_for(state="visible", timeout=3000)
            break
        except Exception:
            continue
    search.fill("Verify the audit chain")
    page.locator(".lm-CommandPalette-item.lm-mod-active", has_text="MLOps: Verify the audit chain").wait_for()
    search.press("Enter")
    page.locator(".jp-toast-message, .Toastify__toast", has_text="Audit chain intact").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "panel-palette-verify.png"))
    _no_script_ran(page, dialogs)
