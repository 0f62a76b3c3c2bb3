"""The models dashboard, where a reviewer reads and decides on one review page.

It lists versions waiting for review; a click opens the version's review page, which holds
everything the decision rests on at once (the same :func:`~jupyter_mlops.registry.evidence.review_evidence`
bundle the side panel renders): the lineage story, the card summary, metrics with intervals and
pass/fail per threshold, per-group fairness with a chart, the data versions with their quality
results and the review history, beside Approve / Reject. A decision needs a comment and a
confirmation that names the version, and calls ``ws.models.approve`` / ``ws.models.reject``, the
same API as the Python, CLI and REST front-ends, so the four-eyes rule and the audit trail hold.
A reviewer who may not decide sees greyed-out buttons and why (author, not a reviewer, not
pending); if the registry still refuses, its error is shown as the reason. The full lineage
graph, the alias history, the evaluation plots and the whole card open on demand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..core.entities import escape
from ..errors import NotFound
from ..registry import queries
from ..registry.evidence import review_blockers as _blockers
from ..registry.evidence import review_evidence
from .charts import LineageView, layout_lineage
from .common import Dashboard, badge, html_table, humanize, iso_time, note, safe_html_of, section
from .evidence import evidence_html, fairness_view
from .table import DataTable

if TYPE_CHECKING:
    from ..registry.evidence import ReviewEvidence
    from ..workspace import Workspace

__all__ = ["ModelsDashboard", "evidence_html", "review_blockers"]

STATUS_FILTERS = ("pending", "all", "approved", "rejected", "none")
_TONE = {"approved": "good", "rejected": "bad", "pending": "warn", "none": "none"}
_PAGE_CSS = """<style>
.mlops-review-grid { display: flex; flex-wrap: wrap; gap: 4px 24px; max-width: 100%; }
.mlops-review-grid > .mlops-col { flex: 1 1 360px; min-width: 0; max-width: 100%; overflow-x: auto; }
.mlops-story-line { display: flex; flex-wrap: wrap; align-items: stretch; gap: 4px; margin: 4px 0 8px; }
.mlops-step { border: 1px solid #d0d7de; border-left: 4px solid #8c959f; border-radius: 6px; padding: 3px 8px; max-width: 220px;
  min-width: 0; overflow-wrap: anywhere; background: #fff; }
.mlops-step.tone-good { border-left-color: #1a7f37; } .mlops-step.tone-bad { border-left-color: #cf222e; }
.mlops-step.tone-unknown { border-style: dashed; color: #57606a; }
.mlops-step-kind { font-size: 10px; text-transform: uppercase; letter-spacing: .04em; color: #57606a; }
.mlops-step-label { font-size: 12.5px; font-weight: 600; }
.mlops-step-detail { font-size: 11.5px; color: #57606a; }
.mlops-step-arrow { align-self: center; color: #8c959f; }
.mlops-story-summary { font-size: 13px; margin: 2px 0; }
.mlops-review-page .widget-html, .mlops-review-page .widget-html-content { max-width: 100%; min-width: 0; }
.mlops-review-page table.mlops-grid th { white-space: normal; }
.mlops-review-page table.mlops-grid td, .mlops-review-page table.mlops-grid th { padding: 3px 6px; }
</style>"""


def review_blockers(ws: Workspace, author: str, status: str, ref: str) -> list[str]:
    """Why the acting user may not approve or reject ``ref`` now (empty: they may).

    The rules are :func:`jupyter_mlops.registry.evidence.review_blockers`'; this takes the
    version's author and status as the dashboard shows them.
    """
    return list(_blockers(ref, author, status, ws.actor, ws.roles_of()))


class ModelsDashboard(Dashboard):
    """Model versions (waiting for review first) and, for one version, its review page."""

    title = "Models review"

    def __init__(
        self, ws: Workspace, *, status: str = "pending", page_size: int = 200, refresh_seconds: float | None = None
    ) -> None:
        self.status_filter = w.ToggleButtons(
            options=list(STATUS_FILTERS), value=status if status in STATUS_FILTERS else "pending", style={"button_width": "96px"}
        )
        self.table = DataTable(empty_text="no model versions with this status")
        self.header = w.HTML("<div class='mlops-muted'>click a version to open its review page</div>")
        self.story = w.HTML()
        self.card = w.HTML()
        self.evaluation = w.HTML()
        self.fairness = w.HTML()
        self.eval_charts = w.HBox(layout=w.Layout(flex_flow="row wrap", max_width="100%"))
        self.data = w.HTML()
        self.overview = w.HTML()
        self.eval_plots = w.HBox(layout=w.Layout(flex_flow="row wrap", max_width="100%"))
        self.card_full = w.HTML()
        self.lineage = LineageView()
        self.lineage_table = w.HTML()
        self.history = w.HTML()
        self.comment = w.Textarea(
            placeholder="comment for the record (required): what you checked and why you decide so",
            layout=w.Layout(width="auto", max_width="560px", height="70px"),
        )
        self.approve_button = w.Button(
            description="Approve", button_style="success", icon="check", layout=w.Layout(width="120px")
        )
        self.reject_button = w.Button(description="Reject", button_style="danger", icon="times", layout=w.Layout(width="120px"))
        self.approve_button.add_class("mlops-approve")
        self.reject_button.add_class("mlops-reject")
        self.confirm_text = w.HTML()
        self.confirm_button = w.Button(description="Confirm", button_style="primary", layout=w.Layout(width="110px"))
        self.cancel_button = w.Button(description="Cancel", layout=w.Layout(width="90px"))
        self.confirm_button.add_class("mlops-confirm")
        self.confirm_box = w.VBox(
            [self.confirm_text, w.HBox([self.confirm_button, self.cancel_button])], layout=w.Layout(display="none")
        )
        self.confirm_box.add_class("mlops-confirm-box")
        self.decision = w.HTML()
        self.page_size = page_size
        self.current: str | None = None
        self.evidence: ReviewEvidence | None = None
        self._pending: str | None = None
        super().__init__(ws, refresh_seconds=refresh_seconds)
        review = w.VBox(
            [self.decision, self.comment, w.HBox([self.approve_button, self.reject_button]), self.confirm_box],
            layout=w.Layout(max_width="100%"),
        )
        review.add_class("mlops-review-box")
        grid = w.Box(
            [
                w.VBox([self.card, self.evaluation, self.data], layout=w.Layout(flex="1 1 360px", min_width="0")),
                w.VBox([self.fairness, self.eval_charts], layout=w.Layout(flex="1 1 360px", min_width="0")),
            ],
            layout=w.Layout(display="flex", flex_flow="row wrap", max_width="100%"),
        )
        self.more = w.Accordion(
            [
                w.VBox([self.lineage, self.lineage_table], layout=w.Layout(max_width="100%")),
                self.history,
                self.eval_plots,
                self.card_full,
            ]
        )
        for i, t in enumerate(("Full lineage graph", "Alias history", "Evaluation plots", "Whole model card")):
            self.more.set_title(i, t)
        self.more.selected_index = None
        self.page = w.VBox([self.header, self.story, grid, self.overview, review, self.more], layout=w.Layout(max_width="100%"))
        self.page.add_class("mlops-review-page")
        self.body.children = [w.HTML(_PAGE_CSS), self.status_filter, self.table, self.page]
        self.status_filter.observe(lambda _c: self._guarded_list(), names="value")
        self.table.observe(self._on_active, names="active")
        self.more.observe(self._on_more, names="selected_index")
        self.approve_button.on_click(lambda _b: self.ask("approve"))
        self.reject_button.on_click(lambda _b: self.ask("reject"))
        self.confirm_button.on_click(lambda _b: self._confirmed())
        self.cancel_button.on_click(lambda _b: self._hide_confirm())
        self._set_buttons([])
        self._guarded_list()

    # -- listing -------------------------------------------------------------------------------
    def _guarded_list(self) -> None:
        with self.guard("list model versions"):
            self.show_list()

    def show_list(self) -> None:
        status = self.status_filter.value
        rows = queries.review_queue(self.ws, None if status == "all" else status, limit=self.page_size)
        self.table.show(
            [
                {
                    "id": r.ref,
                    "model": r.name,
                    "version": r.version,
                    "status": r.status,
                    "author": r.author,
                    "type": r.model_type.rsplit(".", 1)[-1],
                    "created": iso_time(r.created),
                    "data": ", ".join(r.data_versions),
                    "_tone": "good" if r.status == "approved" else "",
                }
                for r in rows.versions
            ],
            columns=[
                {"key": "model", "label": "model"},
                {"key": "version", "label": "version", "numeric": True},
                {"key": "status", "label": "review"},
                {"key": "author", "label": "author"},
                {"key": "type", "label": "type"},
                {"key": "created", "label": "logged"},
                {"key": "data", "label": "trained on"},
            ],
            caption=(
                "versions waiting for review, newest first"
                if self.status_filter.value == "pending"
                else f"versions: {self.status_filter.value}, newest first"
            ),
        )

    def reload(self) -> None:
        self.show_list()
        if self.current:
            self.show_version(self.current)

    def _on_active(self, change: dict[str, Any]) -> None:
        if change["new"]:
            with self.guard("show version"):
                self.show_version(change["new"])

    # -- the review page -----------------------------------------------------------------------
    def show_version(self, ref: str) -> None:
        """The review page of ``ref`` (``name@version``): every piece of evidence beside the decision."""
        try:
            ev = review_evidence(self.ws, ref, roles=self.ws.roles_of())
        except NotFound:
            self.header.value = note(f"{ref} no longer exists", "bad")
            return
        row = ev.version
        self.current, self.evidence = ev.ref, ev
        self._hide_confirm()
        self.header.value = (
            f"<div><span class='mlops-title'>Review {escape(ev.ref)}</span> {badge(row.status, _TONE.get(row.status, 'none'))} "
            f"<span class='mlops-muted'>by {escape(row.author)} \u00b7 {escape(row.model_type)} \u00b7 logged "
            f"{escape(iso_time(row.created))}</span></div>"
        )
        self.story.value = section("Lineage", safe_html_of(ev.story))
        self.card.value, self.evaluation.value, self.data.value = evidence_html(ev)
        self.fairness.value, charts = fairness_view(ev)
        self.eval_charts.children = charts
        review_rows = [
            [iso_time(r.ts), r.action, r.actor, f"{r.status_before} \u2192 {r.status_after}", r.text] for r in ev.reviews
        ]
        self.overview.value = section("Review history", html_table(["time", "action", "by", "status", "comment"], review_rows))
        self._set_buttons(list(ev.blockers))
        for target in (self.lineage_table, self.history, self.card_full):
            target.value = ""
        self.lineage.graph = {}
        self.eval_plots.children = []
        if self.more.selected_index is not None:
            self._on_more({"new": self.more.selected_index})

    def _on_more(self, change: dict[str, Any]) -> None:
        if change["new"] is None or self.current is None:
            return
        with self.guard("show details"):
            [self._show_lineage, self._show_history, self._show_plots, self._show_card][change["new"]](self.current)

    def _set_buttons(self, blockers: list[str]) -> None:
        allowed = not blockers and self.current is not None
        why = "; ".join(blockers) if blockers else ("choose a version first" if self.current is None else "")
        for button, verb in ((self.approve_button, "Approve"), (self.reject_button, "Reject")):
            button.disabled = not allowed
            button.tooltip = f"{verb} {self.current}" if allowed else f"{verb} is not available: {why}"
        self.comment.disabled = not allowed
        if self.current is None:
            self.decision.value = "<div class='mlops-muted'>choose a version to review</div>"
        elif blockers:
            self.decision.value = (
                "<div class='mlops-note tone-warn'><b>You cannot decide on this version:</b><ul>"
                + "".join(f"<li>{escape(b)}</li>" for b in blockers)
                + "</ul></div>"
            )
        else:
            self.decision.value = note(
                f"you ({self.ws.actor}) may approve or reject {self.current}: write a comment, then confirm", "info"
            )

    def ask(self, action: str) -> None:
        """First click of a decision: check the comment, then ask to confirm, naming the version."""
        ref = self.current
        if ref is None:
            return
        if not self.comment.value.strip():
            self.decision.value = note(f"write a comment before you {action} {ref}: it is recorded with your decision", "bad")
            return
        self._pending = action
        verb = "Approve" if action == "approve" else "Reject"
        self.confirm_text.value = (
            f"<div class='mlops-note tone-{'good' if action == 'approve' else 'bad'}'><b>{verb} {escape(ref)}?</b> "
            f"This is recorded in the audit trail as {escape(self.ws.actor)}, with your comment.</div>"
        )
        self.confirm_button.description = f"{verb} {ref}"[:40]
        self.confirm_button.button_style = "success" if action == "approve" else "danger"
        self.confirm_box.layout.display = "flex"

    def _confirmed(self) -> None:
        action, self._pending = self._pending, None
        self._hide_confirm()
        if action is not None:
            self.decide(action)

    def _hide_confirm(self) -> None:
        self._pending = None
        self.confirm_box.layout.display = "none"

    def decide(self, action: str) -> None:
        """Approve or reject the current version through ``ws.models`` (audited there); needs a comment."""
        ref = self.current
        if ref is None:
            return
        comment = self.comment.value.strip()
        if not comment:
            self.decision.value = note(f"write a comment before you {action} {ref}: it is recorded with your decision", "bad")
            return
        with self.guard(action):
            if action == "approve":
                result = self.ws.models.approve(ref, comment=comment)
            else:
                result = self.ws.models.reject(ref, comment=comment)
            self.comment.value = ""
            self.show_list()
            self.show_version(ref)
            self.decision.value = note(
                f"{ref} {'approved' if action == 'approve' else 'rejected'} by {self.ws.actor}", "good"
            ) + (safe_html_of(result) if result is not None else "")
        if self.last_error:
            self.decision.value = "<div class='mlops-note tone-bad'><b>Refused:</b> " + escape(self.last_error) + "</div>"

    # -- on demand -----------------------------------------------------------------------------
    def _show_card(self, ref: str) -> None:
        card = self.ws.cards.latest_for(ref)
        self.card_full.value = (
            safe_html_of(card) if card is not None else note(f"no model card yet: mlops.build_card({ref!r})", "warn")
        )

    def _show_plots(self, ref: str) -> None:
        from ..evaluation import queries as eval_queries

        report = eval_queries.latest(self.ws, ref)
        images = []
        for plot_name in list(report.plots if report is not None else ())[:6]:
            try:
                png = report.plot_png(plot_name)  # type: ignore[union-attr]
            except (ValueError, KeyError):
                continue
            images.append(
                w.VBox(
                    [
                        w.HTML(f"<b>{escape(humanize(plot_name))}</b>"),
                        w.Image(value=png, format="png", layout=w.Layout(width="320px")),
                    ]
                )
            )
        self.eval_plots.children = images or [w.HTML(note("no evaluation plots recorded", "none"))]

    def _show_history(self, ref: str) -> None:
        name = ref.rpartition("@")[0]
        moves = queries.alias_history(self.ws, name).moves
        history = [
            [
                iso_time(m.ts),
                m.alias,
                "-" if m.from_version is None else m.from_version,
                "-" if m.to_version is None else m.to_version,
                m.actor,
                m.approved_by or "-",
            ]
            for m in moves
        ]
        current = {m.alias: m.to_version for m in moves}
        now = ", ".join(f"{a} \u2192 {v}" for a, v in sorted(current.items()) if v is not None) or "no alias set"
        self.history.value = section(f"Aliases of {name} now", f"<div>{escape(now)}</div>") + section(
            "Every alias move (oldest first)", html_table(["time", "alias", "from", "to", "by", "approved by"], history)
        )

    def _show_lineage(self, ref: str) -> None:
        graph = self.ws.lineage("model_version", ref)
        root = graph.root
        if not graph.edges and self.evidence is not None:
            graph = self.ws.lineage("run", self.evidence.version.run_id)
            root = graph.root
        labels = {s.node: s.label for s in (self.evidence.story.steps if self.evidence is not None else ()) if s.node}
        edges = [(f"{e.src_type}:{e.src_id}", f"{e.dst_type}:{e.dst_id}", e.relation) for e in graph.edges]
        layout = layout_lineage(graph.nodes, edges, root=root, labels=labels)
        layout["empty_text"] = f"no lineage recorded for {ref}"
        self.lineage.graph = layout
        self.lineage_table.value = section(
            "Edges",
            html_table(
                ["from", "relation", "to", "by", "time"],
                [
                    [
                        labels.get(f"{e.src_type}:{e.src_id}", f"{e.src_type}:{e.src_id}"),
                        e.relation,
                        labels.get(f"{e.dst_type}:{e.dst_id}", f"{e.dst_type}:{e.dst_id}"),
                        e.actor,
                        iso_time(e.ts),
                    ]
                    for e in graph.edges
                ],
            ),
        )
