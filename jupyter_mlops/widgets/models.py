"""The models dashboard, where a reviewer reads and decides.

It lists versions waiting for review and shows one version's card, evaluation (per-group
fairness table and charts), lineage graph and alias history. Approve and Reject call
``ws.models.approve`` / ``ws.models.reject``, the same API as the Python, CLI and REST front-ends,
so the four-eyes rule and the audit trail hold. A reviewer who may not decide is told why
(author, not a reviewer, not pending) before clicking; if the registry still refuses, its error is
shown as the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..core.entities import escape
from ..errors import NotFound
from ..registry import queries
from .charts import Chart, LineageView, bar_chart, layout_lineage
from .common import Dashboard, badge, html_table, kv_table, note, safe_html_of, section
from .table import DataTable

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["ModelsDashboard", "review_blockers"]

STATUS_FILTERS = ("pending", "all", "approved", "rejected", "none")
_TONE = {"approved": "good", "rejected": "bad", "pending": "warn", "none": "none"}
GROUP_METRICS = ("selection_rate", "accuracy", "recall", "precision", "true_positive_rate", "false_positive_rate", "count")


def review_blockers(ws: Workspace, author: str, status: str, ref: str) -> list[str]:
    """Why the acting user may not approve or reject ``ref`` now (empty: they may)."""
    reasons = []
    if status != "pending":
        reasons.append(
            f"{ref} is not waiting for review (status: {status})"
            + ("; its author submits it with mlops.request_review" if status == "none" else "")
        )
    if ws.actor == author:
        reasons.append(f"you ({ws.actor}) are the author of {ref}: the four-eyes rule needs a different reviewer")
    if "reviewer" not in ws.roles_of():
        reasons.append(f"you ({ws.actor}) are not in the reviewers list ([review] reviewers in .mlops/config.toml)")
    return reasons


class ModelsDashboard(Dashboard):
    """Model versions (waiting for review first) and, for one version, everything a reviewer reads."""

    title = "Models review"

    def __init__(
        self, ws: Workspace, *, status: str = "pending", page_size: int = 200, refresh_seconds: float | None = None
    ) -> None:
        self.status_filter = w.ToggleButtons(
            options=list(STATUS_FILTERS), value=status if status in STATUS_FILTERS else "pending", style={"button_width": "80px"}
        )
        self.table = DataTable(empty_text="no model versions with this status")
        self.header = w.HTML("<div class='mlops-muted'>click a version to review it</div>")
        self.overview = w.HTML()
        self.card = w.HTML()
        self.evaluation = w.HTML()
        self.eval_charts = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.eval_plots = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.lineage = LineageView()
        self.lineage_table = w.HTML()
        self.history = w.HTML()
        self.comment = w.Textarea(
            placeholder="comment for the record (required to reject)", layout=w.Layout(width="520px", height="70px")
        )
        self.approve_button = w.Button(
            description="Approve", button_style="success", icon="check", layout=w.Layout(width="120px")
        )
        self.reject_button = w.Button(description="Reject", button_style="danger", icon="times", layout=w.Layout(width="120px"))
        self.decision = w.HTML()
        self.page_size = page_size
        self.current: str | None = None
        self._row: Any = None
        super().__init__(ws, refresh_seconds=refresh_seconds)
        review = w.VBox([self.decision, self.comment, w.HBox([self.approve_button, self.reject_button])])
        self.tabs = w.Tab(
            [
                w.VBox([self.overview, review]),
                self.card,
                w.VBox([self.evaluation, self.eval_charts, self.eval_plots]),
                w.VBox([self.lineage, self.lineage_table]),
                self.history,
            ]
        )
        for i, t in enumerate(("Review", "Card", "Evaluation & fairness", "Lineage", "Alias history")):
            self.tabs.set_title(i, t)
        self.body.children = [self.status_filter, self.table, self.header, self.tabs]
        self.status_filter.observe(lambda _c: self._guarded_list(), names="value")
        self.table.observe(self._on_active, names="active")
        self.approve_button.on_click(lambda _b: self.decide("approve"))
        self.reject_button.on_click(lambda _b: self.decide("reject"))
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
                    "created": r.created[:19].replace("T", " "),
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
                {"key": "created", "label": "logged (UTC)"},
                {"key": "data", "label": "trained on"},
            ],
            caption=(
                "versions waiting for review"
                if self.status_filter.value == "pending"
                else f"versions: {self.status_filter.value}"
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

    # -- one version ---------------------------------------------------------------------------
    def show_version(self, ref: str) -> None:
        """Everything about ``ref`` (``name@version``): overview, card, evaluation, lineage, aliases."""
        name, _, ver = ref.rpartition("@")
        try:
            row = queries.get(self.ws, f"{name}@{int(ver)}")
        except NotFound:
            self.header.value = note(f"{ref} no longer exists", "bad")
            return
        reviews = queries.reviews(self.ws, row.ref)
        moves = queries.alias_history(self.ws, name).moves
        self.current, self._row = ref, row
        self.header.value = (
            f"<div><span class='mlops-title'>{escape(ref)}</span> {badge(row.status, _TONE.get(row.status, 'none'))} "
            f"<span class='mlops-muted'>by {escape(row.author)} \u00b7 {escape(row.model_type)}</span></div>"
        )
        facts = [
            ("author", row.author),
            ("logged (UTC)", row.created[:19]),
            ("review status", row.status),
            ("run", row.run_id),
            ("code sha256", row.code_sha256 or "unknown"),
            ("trained on", ", ".join(row.data_versions) or "unknown"),
            ("serialization", row.serialization),
            ("artifact manifest sha256", row.manifest_sha256),
        ]
        review_rows = [[r.ts[:19], r.action, r.actor, f"{r.status_before} \u2192 {r.status_after}", r.text] for r in reviews]
        self.overview.value = section("Version", kv_table(facts)) + section(
            "Review history", html_table(["time (UTC)", "action", "by", "status", "comment"], review_rows)
        )
        self._set_buttons(review_blockers(self.ws, row.author, row.status, ref))
        self._show_card(ref)
        self._show_evaluation(ref)
        self._show_lineage(ref, row.run_id)
        history = [
            [
                m.ts[:19],
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
            "Every alias move (oldest first)", html_table(["time (UTC)", "alias", "from", "to", "by", "approved by"], history)
        )

    def _set_buttons(self, blockers: list[str]) -> None:
        allowed = not blockers and self.current is not None
        self.approve_button.disabled = not allowed
        self.reject_button.disabled = not allowed
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
            self.decision.value = note(f"you ({self.ws.actor}) may approve or reject {self.current}", "info")

    def decide(self, action: str) -> None:
        """Approve or reject the current version through ``ws.models`` (audited there)."""
        ref = self.current
        if ref is None:
            return
        with self.guard(action):
            comment = self.comment.value.strip()
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

    def _show_card(self, ref: str) -> None:
        try:
            card = self.ws.cards.latest_for(ref)
        except Exception as err:
            self.card.value = note(f"card unavailable: {err}", "bad")
            return
        self.card.value = (
            safe_html_of(card) if card is not None else note(f"no model card yet: mlops.build_card({ref!r})", "warn")
        )

    def _show_evaluation(self, ref: str) -> None:
        self.eval_charts.children = []
        self.eval_plots.children = []
        try:
            report = self.ws.evaluation.latest_for(ref)
        except Exception as err:
            self.evaluation.value = note(f"evaluation unavailable: {err}", "bad")
            return
        if report is None:
            self.evaluation.value = note(
                f"no evaluation of {ref} yet: mlops.evaluate(model, X, y, sensitive_features=...)", "warn"
            )
            return
        self.evaluation.value, charts = evaluation_view(report)
        self.eval_charts.children = charts
        images = []
        for plot_name in list(report.plots)[:6]:
            try:
                images.append(
                    w.VBox(
                        [
                            w.Image(value=report.plot_png(plot_name), format="png", layout=w.Layout(width="320px")),
                            w.Label(plot_name),
                        ]
                    )
                )
            except (ValueError, KeyError):
                continue
        self.eval_plots.children = images

    def _show_lineage(self, ref: str, run_id: str) -> None:
        graph = None
        for node_type in ("model_version", "model"):
            candidate = self.ws.lineage(node_type, ref)
            if candidate.edges:
                graph = candidate
                break
        if graph is None:
            graph = self.ws.lineage("run", run_id)
            root = f"run:{run_id}"
        else:
            root = graph.root
        edges = [(f"{e.src_type}:{e.src_id}", f"{e.dst_type}:{e.dst_id}", e.relation) for e in graph.edges]
        layout = layout_lineage(graph.nodes, edges, root=root)
        layout["empty_text"] = f"no lineage recorded for {ref}"
        self.lineage.graph = layout
        self.lineage_table.value = section(
            "Edges",
            html_table(
                ["from", "relation", "to", "by", "time (UTC)"],
                [[f"{e.src_type}:{e.src_id}", e.relation, f"{e.dst_type}:{e.dst_id}", e.actor, e.ts[:19]] for e in graph.edges],
            ),
        )


def evaluation_view(report: Any) -> tuple[str, list[Chart]]:
    """Metrics with intervals, thresholds and per-group fairness tables, plus one chart per feature."""
    metric_rows = [[k, m.get("value"), m.get("ci_low"), m.get("ci_high")] for k, m in report.metrics.items()]
    verdict = {True: badge("\u2713 thresholds passed", "good"), False: badge("\u2717 thresholds failed", "bad")}.get(
        report.passed, badge("no thresholds", "none")
    )
    parts = [
        f"<div>{verdict} <span class='mlops-muted'>{escape(report.task)} \u00b7 {escape(report.n_rows)} rows \u00b7 "
        f"evaluation {escape(report.eval_id[:12])} by {escape(report.actor)} at {escape(report.created[:19])}</span></div>",
        section("Metrics (95% bootstrap interval)", html_table(["metric", "value", "low", "high"], metric_rows)),
    ]
    if report.thresholds:
        parts.append(
            section(
                "Thresholds",
                html_table(
                    ["check", "op", "limit", "value", "passed"],
                    [[t["name"], t["op"], t["limit"], t["value"], t["passed"]] for t in report.thresholds],
                ),
            )
        )
    charts: list[Chart] = []
    fairness = report.fairness or {}
    if not fairness:
        parts.append(note("no sensitive features were given: no fairness results", "warn"))
    worst = fairness.get("worst") or {}
    if worst:
        parts.append(
            section(
                "Worst disparities",
                html_table(["disparity", "value", "feature"], [[k, v.get("value"), v.get("feature")] for k, v in worst.items()]),
            )
        )
    for key, res in (fairness.get("by_feature") or {}).items():
        groups = res.get("groups") or []
        cols = [c for c in (groups[0].keys() if groups else []) if c not in ("group", "label", "small")]
        rows = [
            [str(g.get("label", g.get("group"))) + (" (small group)" if g.get("small") else ""), *[g.get(c) for c in cols]]
            for g in groups
        ]
        disp = res.get("disparities") or {}
        parts.append(
            section(f"Fairness by {key}", kv_table([(k, v) for k, v in disp.items()]) + html_table(["group", *cols], rows))
        )
        if " x " not in key and groups:
            shown = [c for c in GROUP_METRICS if c in cols and c != "count"][:3]
            if shown:
                labels = [str(g.get("label", g.get("group"))) for g in groups]
                charts.append(
                    Chart(
                        spec=bar_chart(
                            f"per group: {key}", labels, {c: [g.get(c) for g in groups] for c in shown}, width=420, height=250
                        )
                    )
                )
    for warning in report.warnings:
        parts.append(note(warning, "warn"))
    return "".join(parts), charts
