"""The dashboards in a real browser: JupyterLab on loopback (token and XSRF on), Debian's Chromium.

- a second user (bob, a reviewer, not the author) approves a model version from its review page,
  with the evidence on screen, in 3 clicks (version, Approve, Confirm); the approval is recorded
  and audited; nothing on the page scrolls sideways; disabled buttons look disabled;
- an XSS corpus stored through the API (run names, parameters, review notes, card text) shows up
  in the dashboards as text: no dialog, no script, no event-handler attribute;
- screenshots of each dashboard go to test-results/ (look at them).
"""

from __future__ import annotations

import re
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
from dashboard_paint import open_notebook, run_cell, write_notebook
from dashboard_scenario import MODEL, make_reviewed_model, make_runs, set_reviewers
from harness import LabServer

import jupyter_mlops as mlops

pytestmark = pytest.mark.browser

RESULTS = Path(__file__).resolve().parent.parent / "test-results"


class _LabAsUser(LabServer):
    """The lab server whose kernels act as ``kernel_user`` (``JUPYTER_MLOPS_USER``)."""

    kernel_user = "bob"

    def _env(self) -> dict[str, str]:
        env = super()._env()
        env["JUPYTER_MLOPS_USER"] = self.kernel_user
        return env


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_LabAsUser]:
    ensure_browser()
    root = tmp_path_factory.mktemp("ui") / "project"
    ws = mlops.init(root, user="alice")
    set_reviewers(ws, "bob")
    make_runs(ws, 6)
    make_runs(ws, len(XSS_PAYLOADS), experiment="xss", names=XSS_PAYLOADS)
    with ws.start_run("params-xss", experiment="xss", params={f"p{i}": p for i, p in enumerate(XSS_PAYLOADS)}) as run:
        run.log_metric("accuracy", 0.5)
        run.note(XSS_PAYLOADS[0])
    make_reviewed_model(ws, card_text="\n".join(XSS_PAYLOADS))
    ref2 = make_reviewed_model(ws, request=False)
    ws.models.request_review(ref2, note=" ".join(XSS_PAYLOADS))
    server = _LabAsUser(root, tmp_path_factory.mktemp("lab-state"), username="bob").start()
    try:
        yield server
    finally:
        server.stop()


def _watch(page: Any) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.set_viewport_size({"width": 1400, "height": 2200})
    return dialogs


def _no_script_ran(page: Any, dialogs: list[str]) -> None:
    assert dialogs == []
    assert page.evaluate("() => window.__xss") is None
    handlers = page.evaluate(
        """() => Array.from(document.querySelectorAll('.mlops-dash *')).filter(e =>
             Array.from(e.attributes).some(a => a.name.startsWith('on') ||
               (['href', 'src', 'xlink:href', 'action', 'formaction', 'data'].includes(a.name) && /javascript:/i.test(a.value)))).length"""
    )
    assert handlers == 0
    assert (
        page.evaluate("() => document.querySelectorAll('.mlops-dash script, .mlops-dash iframe, .mlops-dash object').length") == 0
    )


def _dash(page: Any, index: int = 0) -> Any:
    """The ``index``-th dashboard of the notebook tab in front (restored tabs stay hidden)."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .mlops-dash").nth(index)


def _shot(page: Any, locator: Any, name: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"dashboard-{name}.png"
    locator.screenshot(path=str(path))
    return path


def _no_sideways_overflow(page: Any, dash: Any) -> None:
    """Neither the dashboard nor anything inside its review page scrolls sideways."""
    wide = dash.evaluate(
        """e => [e, ...e.querySelectorAll('.mlops-review-page, .mlops-review-page .widget-box, .mlops-section')]
             .filter(x => x.offsetParent !== null && x.scrollWidth > x.clientWidth + 1)
             .map(x => x.className + ' ' + x.scrollWidth + '>' + x.clientWidth + ' ' + x.innerText.slice(0, 60))"""
    )
    assert wide == []


def test_models_dashboard_approve_from_the_review_page(lab: _LabAsUser, page: Any) -> None:
    dialogs = _watch(page)
    write_notebook(lab.root_dir / "review.ipynb", ["import jupyter_mlops as mlops\nboard = mlops.dashboard('models')\nboard"])
    open_notebook(page, lab, "review.ipynb")
    run_cell(page, 0)
    ref = f"{MODEL}@1"
    dash = _dash(page)
    row = dash.locator(f".mlops-table tr[data-row-id='{ref}']")
    row.wait_for(timeout=60_000)
    assert dash.locator(".mlops-table tbody tr").count() == 2  # both versions wait for review
    clicks = 0
    row.click()
    clicks += 1
    dash.get_by_text("you (bob) may approve or reject").wait_for(timeout=30_000)
    review_page = dash.locator(".mlops-review-page")
    # every piece of evidence is on the one page, at once, beside the decision
    for text in (
        f"Review {ref}",
        f"{ref} was trained on",
        "Model card (version",
        "Metrics (95% bootstrap interval)",
        "Fairness by colour",
        "Trained on",
        "Review history",
    ):
        assert review_page.get_by_text(text).first.is_visible(), text
    dash.locator(".mlops-chart svg").first.wait_for(timeout=30_000)
    assert "Group rates by colour" in dash.locator(".mlops-chart").first.inner_text()
    assert review_page.locator(".mlops-story .mlops-step").count() >= 6
    _shot(page, dash, "models-review-page")
    _no_sideways_overflow(page, dash)
    dash.locator("textarea").fill("checked the per-group rates; approved")
    dash.locator("button.mlops-approve").click()
    clicks += 1
    confirm = dash.locator(".mlops-confirm-box")
    confirm.get_by_text(f"Approve {ref}?").wait_for(timeout=30_000)
    _shot(page, dash, "models-confirm")
    confirm.locator("button.mlops-confirm").click()
    clicks += 1
    dash.get_by_text(f"{ref} approved by bob").wait_for(timeout=30_000)
    assert clicks == 3
    _shot(page, dash, "models-approved")
    # details on demand: the full graph, named, without overlapping edge labels
    dash.locator(
        ".lm-AccordionPanel-title, .jupyter-widget-Collapse-header, .p-Collapse-header", has_text="Full lineage graph"
    ).first.click()
    dash.locator(".mlops-graph svg").first.wait_for(timeout=30_000)
    overlaps = dash.locator(".mlops-graph svg").first.evaluate(
        """svg => { const b = [...svg.querySelectorAll('text.mlops-edge-label')].map(t => t.getBBox());
             let n = 0; for (let i = 0; i < b.length; i++) for (let j = i + 1; j < b.length; j++) {
               const p = b[i], q = b[j];
               if (p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height && q.y < p.y + p.height) n++; }
             return n; }"""
    )
    assert overlaps == 0
    _shot(page, dash, "models-lineage")
    _no_script_ran(page, dialogs)

    ws = mlops.Workspace.open(lab.root_dir, user="alice")
    assert ws.models.get(ref).status == "approved"
    reviews = ws.models.reviews(ref)
    assert reviews[-1].action == "approve" and reviews[-1].actor == "bob" and "per-group rates" in reviews[-1].text
    events = ws.audit_events(action="model.approve")
    assert [e.actor for e in events] == ["bob"] and events[0].object_id == ref
    assert ws.verify_audit().ok


def test_author_sees_why_she_cannot_approve(lab: _LabAsUser, page: Any) -> None:
    _watch(page)
    write_notebook(
        lab.root_dir / "author.ipynb",
        ["import jupyter_mlops as mlops\nmlops.use('.', user='alice')\nmlops.dashboard('models', status='all')"],
    )
    open_notebook(page, lab, "author.ipynb")
    run_cell(page, 0)
    dash = _dash(page)
    dash.locator(f".mlops-table tr[data-row-id='{MODEL}@2']").click(timeout=60_000)
    dash.get_by_text("you (alice) are the author").wait_for(timeout=30_000)
    approve = dash.locator("button.mlops-approve")
    assert approve.is_disabled()
    assert "not in the reviewers list" in dash.inner_text()
    # a disabled button looks disabled (grey, not-allowed cursor) and its tooltip says why
    style = approve.evaluate("b => { const s = getComputedStyle(b); return [s.cursor, s.backgroundColor]; }")
    assert style[0] == "not-allowed" and style[1] == "rgb(234, 238, 242)"
    assert "you (alice) are the author" in (approve.get_attribute("title") or "")
    _shot(page, dash, "models-author-blocked")


def test_xss_corpus_is_shown_as_text_in_every_dashboard(lab: _LabAsUser, page: Any) -> None:
    dialogs = _watch(page)
    cells = [
        "import jupyter_mlops as mlops\nmlops.dashboard('experiments', experiment='xss')",
        "mlops.dashboard('audit')",
        "mlops.dashboard('data')",
        "mlops.dashboard('models', status='all')",
    ]
    write_notebook(lab.root_dir / "xss.ipynb", cells)
    open_notebook(page, lab, "xss.ipynb")
    for i in range(len(cells)):
        run_cell(page, i)
        _dash(page, i).wait_for(timeout=60_000)
    exp = _dash(page, 0)
    exp.locator(".mlops-table-wrap[data-rows]").wait_for(timeout=30_000)
    table_text = exp.locator(".mlops-table").inner_text()
    shown = [p for p in XSS_PAYLOADS if p.strip()[:40] in table_text]
    assert len(shown) >= 25, f"only {len(shown)} payloads visible as text"
    # open the run whose parameters and notes are payloads
    exp.locator(".mlops-table tbody tr", has_text="params-xss").click()
    exp.get_by_text("Parameters").first.wait_for(timeout=30_000)
    assert "<script>window.__xss=1;alert(1)</script>" in exp.inner_text()
    # compare two payload-named runs
    boxes = exp.locator(".mlops-table tbody tr input[type=checkbox]")
    boxes.nth(1).check()
    boxes.nth(2).check()
    exp.locator(".lm-TabBar-tab", has_text="Compare").click()
    exp.locator(".mlops-chart svg").first.wait_for(timeout=30_000)
    _shot(page, exp, "experiments-xss")
    audit = _dash(page, 1)
    audit.locator(".mlops-table-wrap[data-rows]").wait_for(timeout=30_000)
    assert "audit chain intact" in audit.inner_text()
    _shot(page, audit, "audit")
    _shot(page, _dash(page, 2), "data")
    models = _dash(page, 3)
    models.locator(f".mlops-table tr[data-row-id='{MODEL}@2']").click()
    models.get_by_text("Review history").wait_for(timeout=30_000)
    assert "window.__xss=14" in models.inner_text()  # the review note, as text
    _no_script_ran(page, dialogs)


def test_experiments_dashboard_pages_and_sorts_in_the_browser(lab: _LabAsUser, page: Any) -> None:
    _watch(page)
    write_notebook(
        lab.root_dir / "runs.ipynb",
        ["import jupyter_mlops as mlops\nmlops.dashboard('experiments', experiment='arrests', page_size=25)"],
    )
    open_notebook(page, lab, "runs.ipynb")
    run_cell(page, 0)
    dash = _dash(page)
    dash.locator(".mlops-table-wrap[data-rows]").wait_for(timeout=60_000)
    assert int(dash.locator(".mlops-table-wrap").get_attribute("data-rows")) >= 8  # 6 sweep runs + 2 training runs
    dash.locator(".mlops-table th", has_text="accuracy").click()
    # The header arrow can change before the store's new page arrives: wait for the rows themselves
    # to be in descending accuracy order, with a run that has the metric on top.
    page.wait_for_function(
        """() => {
            const table = document.querySelector('.mlops-table');
            if (!table) return false;
            const heads = Array.from(table.querySelectorAll('th'));
            const col = heads.findIndex(t => t.textContent.includes('accuracy \u25bc'));
            if (col < 0) return false;
            const vals = Array.from(table.querySelectorAll('tbody tr')).map(r => r.children[col]?.textContent.trim() ?? '');
            const nums = vals.filter(v => v !== '').map(Number);
            return vals[0] !== '' && nums.length >= 6 && nums.every((v, i) => i === 0 || nums[i - 1] >= v);
        }""",
        timeout=30_000,
    )
    first = dash.locator(".mlops-table tbody tr").first.inner_text()
    assert "sweep-5" in first  # the best accuracy of the sweep (0.65) is on top
    dash.locator(".mlops-table tbody tr", has_text="sweep-2").click()
    dash.get_by_text("Data versions used").wait_for(timeout=30_000)
    assert re.search(r"model = LogisticRegression\(C=0\.30\)", dash.inner_text())
    _shot(page, dash, "experiments")
