"""The JupyterLab side panel and review page in a real Chromium against a real ``jupyter lab``.

The lab is a single-user server under jupyter_server's default token login (token and XSRF on),
owned by ``bob`` (``JUPYTER_MLOPS_USER=bob``, a reviewer): the panel must act as bob, not as the
random anonymous id the token login hands the browser. The records are written by ``alice``
through the Python API before the server starts. Every view is checked at the panel's default
width (no sideways overflow, no label cut with an ellipsis); screenshots and the measured
first-paint times go to ``test-results/``.
"""

from __future__ import annotations

import json
import os
import re
import time
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
from dashboard_scenario import make_reviewed_model, make_story_model, set_reviewers
from harness import LabServer

import jupyter_mlops as mlops

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("MLOPS_SCREENSHOT_DIR") or Path(__file__).resolve().parent.parent / "test-results")
NOTEBOOK = "train.ipynb"
XSS = XSS_PAYLOADS
ISO_LOCAL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d[+-]\d\d:\d\d$")
HEX = re.compile(r"\b[0-9a-f]{16,}\b")
VIEWS = ("runs", "data", "models", "audit")
TIMINGS: dict[str, Any] = {}


def _write_notebook(path: Path, *sources: str) -> None:
    cells = [
        {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [], "source": src}
        for i, src in enumerate(sources or ("x = 1",))
    ]
    nb = {
        "cells": cells,
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
    _write_notebook(root / "failing.ipynb", "x = 1", "raise ValueError('boom in the second cell')")
    mine = []
    for i in range(3):
        with ws.start_run(f"nb-run-{i}", experiment="panel", params={"C": i}, source={"notebook": NOTEBOOK}) as run:
            run.log_metrics({"accuracy": 0.7 + i / 100, "log_loss": 0.5 - i / 100})
        mine.append(run.run_id)
    for i, payload in enumerate(XSS):
        with ws.start_run(payload, experiment="xss", params={"p": payload}, tags={"t": payload}) as run:
            run.log_metric("accuracy", i / 100)
    people = pd.DataFrame({"id": [1, 2, 3], "colour": ["a", "b", "a"], "score": [0.1, 0.2, 0.3]})
    ws.data.version(people, "people", key="id", sensitive=["colour"])
    ws.data.version(people.assign(score=[0.1, 0.25, 0.3]).drop(index=2), "people", key="id", sensitive=["colour"])
    ws.data.version(pd.DataFrame({"a": [1, 2]}), "xss-data", description=" ".join(XSS))
    story_model = make_story_model(ws, root / NOTEBOOK, note="ready for review")
    xss_model = make_reviewed_model(ws, card_text="\n".join(XSS), request=False)
    ws.models.request_review(xss_model, note=" ".join(XSS))
    server = LabServer(root, tmp_path_factory.mktemp("panel-lab"), owner="bob").start()
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield {"server": server, "ws": ws, "root": root, "mine": mine, "model": story_model, "xss_model": xss_model}
    finally:
        server.stop()
        (SHOTS / "panel-timings.json").write_text(json.dumps(TIMINGS, indent=2))


def _watch(page: Any) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.add_init_script("window.__xss = undefined;")
    return dialogs


def _open_panel(page: Any, server: LabServer, notebook: str = NOTEBOOK) -> Any:
    """Open the lab and the panel at its default width; returns the panel (timing the first paint).

    Each call uses a lab workspace of its own, so no tab of an earlier test is restored.
    """
    page.set_viewport_size({"width": 1500, "height": 950})
    workspace = f"t{len(TIMINGS.get('panel_open_with_notebook_context_s', []))}"
    page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{notebook}?token={server.token}")
    tab = page.locator(".jp-SideBar.jp-mod-left [data-id='jupyter-mlops-sidebar']")
    tab.wait_for(timeout=60_000)
    started = time.monotonic()
    tab.click()
    panel = page.locator("#jupyter-mlops-sidebar")
    page.locator(f"#jupyter-mlops-sidebar .jp-mlops-body[data-loaded='runs'][data-notebook='{notebook}']").wait_for(
        timeout=30_000
    )
    TIMINGS.setdefault("panel_open_with_notebook_context_s", []).append(round(time.monotonic() - started, 3))
    return panel


def _show(page: Any, panel: Any, view: str) -> None:
    """Switch the panel to ``view`` and wait for its paint (timed: the panel's warm first paint)."""
    page.evaluate("delete document.querySelector('#jupyter-mlops-sidebar .jp-mlops-body').dataset.loaded")
    started = time.monotonic()
    panel.locator(f".jp-mlops-tab[data-view='{view}']").click()
    page.locator(f"#jupyter-mlops-sidebar .jp-mlops-body[data-loaded='{view}']").wait_for(timeout=30_000)
    TIMINGS.setdefault(f"view_{view}_paint_s", []).append(round(time.monotonic() - started, 3))


#: Elements that overflow sideways, and short labels cut with an ellipsis, inside ``root``.
LAYOUT_FAULTS = """(root) => {
  const faults = [];
  const nodes = [root, ...root.querySelectorAll('*')];
  for (const n of nodes) {
    if (!(n instanceof HTMLElement) || n.offsetParent === null || n.tagName === 'OPTION') continue;
    const style = getComputedStyle(n);
    const text = (n.innerText || '').trim();
    if (n.scrollWidth > n.clientWidth + 1 && style.overflowX !== 'visible' && n.tagName !== 'TEXTAREA' && n.tagName !== 'INPUT') {
      faults.push(`overflow: ${n.className || n.tagName} ${n.scrollWidth}>${n.clientWidth}`);
    }
    if (style.textOverflow === 'ellipsis' && n.scrollWidth > n.clientWidth && text.length <= 40) {
      faults.push(`ellipsis: ${n.className || n.tagName} "${text}"`);
    }
  }
  const box = root.getBoundingClientRect();
  for (const n of root.querySelectorAll('.jp-mlops-row, .jp-mlops-tab, button, select, input, h3')) {
    const r = n.getBoundingClientRect();
    if (r.width && (r.right > box.right + 1 || r.left < box.left - 1)) faults.push(`outside: ${n.className || n.tagName} ${r.right}>${box.right}`);
  }
  return faults;
}"""


def _no_script_ran(page: Any, dialogs: list[str]) -> None:
    assert dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined" or page.evaluate("window.__xss instanceof HTMLElement")
    assert (
        page.evaluate(
            "document.querySelectorAll('#jupyter-mlops-sidebar script, #jupyter-mlops-sidebar img, #jupyter-mlops-sidebar iframe, #jupyter-mlops-sidebar svg:not(.jp-icon)').length"
        )
        == 0
    )


def test_every_view_fits_the_default_width(lab: dict[str, Any], page: Any) -> None:
    dialogs = _watch(page)
    panel = _open_panel(page, lab["server"])
    width = panel.evaluate("n => n.getBoundingClientRect().width")
    assert 200 <= width <= 320, width  # JupyterLab's default side panel
    TIMINGS["panel_width_px"] = width
    # the identity shown is the server owner's, not the token login's anonymous id
    assert panel.locator(".jp-mlops-user").inner_text() == "acting as bob"
    assert panel.locator(".jp-mlops-user-source").get_attribute("data-source") == "server-owner"
    page.locator(".jp-mlops-notebook-runs .jp-mlops-run").first.wait_for(timeout=30_000)
    ids = panel.locator(".jp-mlops-notebook-runs .jp-mlops-run").evaluate_all("ns => ns.map(n => n.dataset.runId)")
    assert set(lab["mine"]) <= set(ids)
    for view in VIEWS:
        _show(page, panel, view)
        if view == "audit":
            page.locator(".jp-mlops-badge[data-state='ok']").wait_for(timeout=30_000)
        faults = panel.evaluate(LAYOUT_FAULTS)
        assert faults == [], (view, faults)
        assert panel.evaluate("n => n.scrollWidth <= n.clientWidth")
        for tab in VIEWS:  # every tab is visible in full
            box = panel.locator(f".jp-mlops-tab[data-view='{tab}']").bounding_box()
            assert box and box["x"] + box["width"] <= panel.bounding_box()["x"] + width + 1, tab
        stamps = panel.locator("time").evaluate_all("ns => ns.map(n => [n.textContent, n.title])")
        assert stamps, view
        for shown, title in stamps:  # one format: ISO 8601 local with offset, UTC on hover
            assert ISO_LOCAL.match(shown) and title.startswith("UTC ") and title.endswith("Z"), (shown, title)
        page.screenshot(path=str(SHOTS / f"panel-{view}.png"))
    events = panel.locator(".jp-mlops-event").first.inner_text()
    assert "(local user)" in events  # alice wrote through the Python API
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first.bounding_box()
    assert handle
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + 300)
    page.mouse.down()
    page.mouse.move(560, handle["y"] + 300, steps=5)
    page.mouse.up()
    _show(page, panel, "runs")  # dragged wider: rows put their facts beside the title
    assert panel.evaluate("n => n.getBoundingClientRect().width") > 440
    assert panel.locator(".jp-mlops-row").first.evaluate("n => getComputedStyle(n).display") == "grid"
    assert panel.evaluate(LAYOUT_FAULTS) == []
    page.screenshot(path=str(SHOTS / "panel-runs-wide.png"))
    _no_script_ran(page, dialogs)


def test_filter_errors_sort_direction_and_data_diff(lab: dict[str, Any], page: Any) -> None:
    panel = _open_panel(page, lab["server"])
    page.locator(".jp-mlops-notebook-runs .jp-mlops-run").first.wait_for(timeout=30_000)
    panel.locator(".jp-mlops-filter").fill("accuracy > 0.8")
    panel.locator(".jp-mlops-filter").press("Enter")
    error = panel.locator(".jp-mlops-filter-error")
    error.wait_for(timeout=30_000)
    line = error.inner_text()
    assert "'accuracy'" in line and "metrics.accuracy > 0.8" in line and "\n" not in line.strip(), line
    assert panel.locator(".jp-mlops-all-runs .jp-mlops-run").count() == 0  # no stale rows
    panel.locator(".jp-mlops-filter").fill("metrics.accuracy > 0.7")
    panel.locator(".jp-mlops-filter").press("Enter")
    page.locator(".jp-mlops-all-runs .jp-mlops-run").first.wait_for(timeout=30_000)
    options = panel.locator(".jp-mlops-sort option").evaluate_all("ns => ns.map(n => n.textContent)")
    assert "log_loss (low first)" in options and "accuracy (high first)" in options
    assert not any(o.startswith("mlops.") for o in options)
    panel.locator(".jp-mlops-sort").select_option("metrics.log_loss")
    page.locator(".jp-mlops-caption", has_text="best log_loss first (lowest)").wait_for(timeout=30_000)
    first = panel.locator(".jp-mlops-all-runs .jp-mlops-run").first.get_attribute("data-run-id")
    assert first == lab["mine"][2]  # log_loss 0.48 is the best
    _show(page, panel, "data")
    a = panel.locator(".jp-mlops-diff-a").input_value()
    b = panel.locator(".jp-mlops-diff-b").input_value()
    assert (a, b) == ("people@1", "people@2")  # two versions of the same data set
    panel.locator(".jp-mlops-diff-go").click()
    counts = panel.locator(".jp-mlops-counts")
    counts.wait_for(timeout=30_000)
    assert counts.inner_text().split("\n") == ["0 rows added", "1 rows removed", "1 rows changed"] or counts.inner_text() == (
        "0 rows added 1 rows removed 1 rows changed"
    ), counts.inner_text()
    assert "colour" in panel.locator(".jp-mlops-masked").inner_text()
    assert panel.evaluate(LAYOUT_FAULTS) == []
    page.screenshot(path=str(SHOTS / "panel-data-diff.png"))
    _show(page, panel, "audit")
    panel.locator(".jp-mlops-filter-since").fill("last tuesday")
    panel.locator(".jp-mlops-filter-apply").click()
    error = panel.locator(".jp-mlops-filter-error")
    error.wait_for(timeout=30_000)
    assert "'last tuesday'" in error.inner_text() and "ISO 8601" in error.inner_text()
    assert panel.locator(".jp-mlops-event").count() == 0


def test_approve_from_the_review_page_with_the_evidence_on_screen(lab: dict[str, Any], page: Any) -> None:
    dialogs = _watch(page)
    ws, model, root = lab["ws"], lab["model"], lab["root"]
    panel = _open_panel(page, lab["server"])
    _show(page, panel, "models")
    clicks = 0
    started = time.monotonic()
    panel.locator(f".jp-mlops-review[data-spec='{model}'] .jp-mlops-open-review").click()
    clicks += 1
    review = page.locator(".jp-mlops-reviewview[data-loaded='true']")
    review.wait_for(timeout=30_000)
    TIMINGS["review_page_first_paint_s"] = round(time.monotonic() - started, 3)
    TIMINGS["review_page_server_to_paint_ms"] = int(review.get_attribute("data-paint-ms") or -1)
    page.screenshot(path=str(SHOTS / "review-page-loaded.png"))
    viewport = page.viewport_size
    for cls in ("card", "metrics", "fairness", "data", "lineage", "history", "decision"):
        box = review.locator(f".jp-mlops-ev-{cls}").bounding_box()
        assert box and box["y"] >= 0 and box["y"] + min(box["height"], 60) <= viewport["height"], (cls, box)
    assert review.locator(".jp-mlops-ev-metrics tr[data-metric='accuracy']").inner_text().count("passed") == 1
    assert review.locator(".jp-mlops-ev-metrics tr[data-metric='accuracy'] td").nth(1).inner_text().count("[") == 1
    assert review.locator(".jp-mlops-bars[data-feature='colour'] .jp-mlops-bar").count() >= 2
    assert "arrests-train@1" in review.locator(".jp-mlops-ev-data").inner_text()
    steps = review.locator(".jp-mlops-step").evaluate_all("ns => ns.map(n => n.dataset.kind + ': ' + n.innerText)")
    assert [s.split(":")[0] for s in steps][:4] == ["cell", "data", "run", "model"]
    for step in steps:
        assert not HEX.search(step) and str(root) not in step, step
    assert "train.ipynb" in steps[0]
    assert review.evaluate(LAYOUT_FAULTS) == []
    approve = review.locator(".jp-mlops-approve")
    assert approve.is_disabled() and "write a comment" in review.locator(".jp-mlops-why").inner_text()
    assert float(approve.evaluate("n => getComputedStyle(n).opacity")) < 0.6  # looks disabled
    page.keyboard.type("Checked card, metrics and fairness by colour and sex.")  # the comment box has focus
    assert approve.is_enabled()
    page.screenshot(path=str(SHOTS / "review-page.png"))
    approve.click()
    clicks += 1
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=10_000)
    assert f"Approve {model}?" in dialog.inner_text()
    page.screenshot(path=str(SHOTS / "review-confirm.png"))
    dialog.locator(".jp-mod-accept").click()
    clicks += 1
    page.locator(".jp-mlops-decision-result[data-state='ok']", has_text=f"{model}: approved by bob").wait_for(timeout=30_000)
    TIMINGS["clicks_to_approve"] = clicks
    assert clicks <= 3
    version = ws.models.get(model)
    assert version.status == "approved"
    last = ws.models.reviews(model)[-1]
    assert (last.action, last.actor) == ("approve", "bob")
    (event,) = [e for e in ws.audit_events(action="model.approve") if e.object_id == model]
    assert event.actor == "bob" and event.payload["identity_source"] == "server-owner"
    assert ws.verify_audit().ok
    # after the decision the page shows it, and says why the buttons are now disabled
    page.locator(".jp-mlops-ev-history [data-action='approve']").wait_for(timeout=30_000)
    assert review.locator(".jp-mlops-approve").is_disabled()
    assert "not waiting for review (status: approved)" in review.locator(".jp-mlops-why").inner_text()
    review.locator(".jp-mlops-story-toggle").click()
    review.locator(".jp-mlops-graph-toggle").click()
    nodes = review.locator(".jp-mlops-graph-node")
    nodes.first.wait_for(timeout=30_000)
    boxes = nodes.evaluate_all(
        "ns => ns.map(n => { const r = n.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
    )
    assert len(boxes) >= 6
    for i, p in enumerate(boxes):  # no two node boxes (and their labels) overlap
        for q in boxes[i + 1 :]:
            assert p[2] <= q[0] or q[2] <= p[0] or p[3] <= q[1] or q[3] <= p[1], (p, q)
    page.screenshot(path=str(SHOTS / "review-lineage-graph.png"), full_page=True)
    _no_script_ran(page, dialogs)


def test_xss_corpus_is_shown_as_text(lab: dict[str, Any], page: Any) -> None:
    dialogs = _watch(page)
    panel = _open_panel(page, lab["server"])
    runs = panel.locator(".jp-mlops-all-runs")
    runs.locator(".jp-mlops-run").first.wait_for(timeout=30_000)
    shown = runs.inner_text()
    assert XSS[1].strip() in shown and XSS[0].strip() in shown
    runs.locator(".jp-mlops-run", has_text=XSS[1]).first.click()
    page.locator(".jp-mlops-detail h4", has_text="Run <img").wait_for()
    for view in ("data", "models", "audit"):
        _show(page, panel, view)
        _no_script_ran(page, dialogs)
    _show(page, panel, "models")
    xss_model = lab["xss_model"]
    panel.locator(f".jp-mlops-review[data-spec='{xss_model}'] .jp-mlops-open-review").click()
    review = page.locator(".jp-mlops-reviewview[data-loaded='true']")
    review.wait_for(timeout=30_000)
    assert XSS[0] in review.inner_text()
    assert review.locator("script, img, iframe, svg, object, embed").count() == 0
    panel.locator(f".jp-mlops-all-models .jp-mlops-card[data-spec='{xss_model}']").click()
    card = page.locator(".jp-mlops-cardview[data-loaded='true']")
    card.wait_for(timeout=30_000)
    assert XSS[0] in card.inner_text() and XSS[1] in card.inner_text()
    assert card.locator("script, img, iframe, svg, object, embed").count() == 0
    _no_script_ran(page, dialogs)


def _palette(page: Any, command: str) -> None:
    search = page.locator(".lm-CommandPalette-input")
    for _ in range(6):
        if search.is_visible():
            break  # the shortcut toggles the palette: never press it again once it is open
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Shift+C")
        try:
            search.wait_for(state="visible", timeout=10_000)
            break
        except Exception:
            continue
    search.fill(command)
    page.locator(".lm-CommandPalette-item.lm-mod-active", has_text=command).wait_for()
    search.press("Enter")


def test_failed_stage_toast_names_the_cell_and_error_and_opens_the_output(lab: dict[str, Any], page: Any) -> None:
    _open_panel(page, lab["server"], "failing.ipynb")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=60_000)
    _palette(page, "MLOps: Run current notebook as a tracked pipeline stage")
    toast = page.locator(".Toastify__toast", has_text="FAILED")
    toast.wait_for(timeout=120_000)
    text = toast.inner_text()
    assert "cell 2" in text and "ValueError: boom in the second cell" in text, text
    page.screenshot(path=str(SHOTS / "panel-failed-stage-toast.png"))
    toast.locator("button", has_text="Open output notebook").click()
    page.locator(".lm-TabBar-tab", has_text="failing-").first.wait_for(timeout=30_000)
    outputs = list((lab["root"] / "mlops-outputs").glob("failing-*.ipynb"))
    assert len(outputs) == 1 and "boom in the second cell" in outputs[0].read_text()
    _palette(page, "MLOps: Verify the audit chain")
    page.locator(".Toastify__toast", has_text="Audit chain intact").first.wait_for(timeout=30_000)
