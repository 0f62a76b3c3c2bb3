"""The audit dashboard: the event log with filters and the chain's verification badge.

The filters map one to one onto :func:`jupyter_mlops.audit.queries.events` (actor, action or
``prefix.*``, object type and id, time range), so the store does the filtering and paging; the
badge is :func:`jupyter_mlops.audit.queries.verify` recomputed on every refresh.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..audit import queries as audit_queries
from ..core.entities import AuditVerification, escape
from .common import Dashboard, badge, iso_time, kv_table, pre, section, short_json
from .table import DataTable

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["AuditDashboard", "verification_html"]


def verification_html(result: AuditVerification) -> str:
    """The badge: intact (with the event count and head), or the first bad event and why."""
    if result.ok:
        head = f" \u00b7 head #{result.head_seq} {escape((result.head_hash or '')[:12])}" if result.head_seq is not None else ""
        return (
            badge(f"\u2713 audit chain intact: {result.checked} events verified", "good")
            + f"<span class='mlops-muted'>{head}</span>"
        )
    return badge(f"\u2717 audit chain BROKEN at event #{result.first_bad_seq}", "bad") + (
        f" <span style='color:#cf222e'>{escape(result.reason)}</span>"
    )


class AuditDashboard(Dashboard):
    """Audit events, newest first, filtered and paged by the store, with the verification badge."""

    title = "Audit trail"

    def __init__(self, ws: Workspace, *, page_size: int = 50, refresh_seconds: float | None = None) -> None:
        lay = w.Layout(width="190px")
        self.actor = w.Text(placeholder="actor", continuous_update=False, layout=lay)
        self.action = w.Text(
            placeholder="action, or prefix like model.*", continuous_update=False, layout=w.Layout(width="220px")
        )
        self.object_type = w.Text(placeholder="object type", continuous_update=False, layout=lay)
        self.object_id = w.Text(placeholder="object id", continuous_update=False, layout=lay)
        self.since = w.Text(
            placeholder="since: 2026-01-31, yesterday, 7d", continuous_update=False, layout=w.Layout(width="210px")
        )
        self.until = w.Text(placeholder="until: 2026-02-28, today", continuous_update=False, layout=lay)
        self.clear_button = w.Button(description="Clear filters", layout=w.Layout(width="110px"))
        self.verify_button = w.Button(description="Verify chain", icon="check", layout=w.Layout(width="120px"))
        self.badge = w.HTML()
        self.page_size = page_size
        self.offset = 0
        self.prev_button = w.Button(description="\u25c0 Newer", layout=w.Layout(width="90px"))
        self.next_button = w.Button(description="Older \u25b6", layout=w.Layout(width="90px"))
        self.page_label = w.HTML()
        self.table = DataTable(empty_text="no audit events match these filters")
        self.detail = w.HTML("<div class='mlops-muted'>click an event to see its full payload</div>")
        self._events: dict[str, Any] = {}
        self._quiet = False
        super().__init__(ws, refresh_seconds=refresh_seconds)
        self.body.children = [
            w.HBox([self.badge, self.verify_button], layout=w.Layout(align_items="center")),
            w.HBox([self.actor, self.action, self.object_type, self.object_id], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.since, self.until, self.clear_button], layout=w.Layout(flex_flow="row wrap")),
            self.table,
            w.HBox([self.prev_button, self.next_button, self.page_label], layout=w.Layout(align_items="center")),
            self.detail,
        ]
        for box in (self.actor, self.action, self.object_type, self.object_id, self.since, self.until):
            box.observe(lambda _c: None if self._quiet else self.first_page(), names="value")
        self.clear_button.on_click(lambda _b: self.clear_filters())
        self.verify_button.on_click(lambda _b: self.verify())
        self.prev_button.on_click(lambda _b: self.move(-1))
        self.next_button.on_click(lambda _b: self.move(1))
        self.table.observe(self._on_active, names="active")
        self.refresh()

    def filters(self) -> dict[str, Any]:
        """The current filter boxes as keyword arguments of :func:`jupyter_mlops.audit.queries.events`."""
        out = {
            "actor": self.actor.value.strip() or None,
            "action": self.action.value.strip() or None,
            "object_type": self.object_type.value.strip() or None,
            "object_id": self.object_id.value.strip() or None,
            "since": self.since.value.strip() or None,
            "until": self.until.value.strip() or None,
        }
        return {k: v for k, v in out.items() if v is not None}

    def clear_filters(self) -> None:
        self._quiet = True
        try:
            for box in (self.actor, self.action, self.object_type, self.object_id, self.since, self.until):
                box.value = ""
        finally:
            self._quiet = False
        self.first_page()

    def verify(self) -> None:
        """Recompute the chain and update the badge."""
        with self.guard("verify"):
            self.badge.value = verification_html(audit_queries.verify(self.ws))

    def reload(self) -> None:
        self.badge.value = verification_html(audit_queries.verify(self.ws))
        self._query()

    def first_page(self) -> None:
        self.offset = 0
        with self.guard("list events"):
            self._query()
        if self.last_error:  # a refused filter leaves no stale rows behind
            self._events = {}
            self.table.show([], caption="no events shown: " + self.last_error.removeprefix("list events: "))
            self.page_label.value = ""
            self.prev_button.disabled = self.next_button.disabled = True

    def move(self, pages: int) -> None:
        self.offset = max(0, self.offset + pages * self.page_size)
        with self.guard("list events"):
            self._query()

    def _query(self) -> None:
        events = audit_queries.events(self.ws, **self.filters(), limit=self.page_size + 1, offset=self.offset)
        more = len(events) > self.page_size
        events = events[: self.page_size]
        self._events = {str(e.seq): e for e in events}
        rows = [
            {
                "id": str(e.seq),
                "seq": e.seq,
                "ts": iso_time(e.ts),
                "actor": e.actor,
                "action": e.action,
                "object": f"{e.object_type}:{e.object_id}",
                "payload": short_json(e.payload, 120),
                "_tone": "bad" if e.action in ("access.denied",) or e.action.endswith(".rejected") else "",
            }
            for e in events
        ]
        columns: list[dict[str, Any]] = [
            {"key": "seq", "label": "#", "numeric": True},
            {"key": "ts", "label": "time"},
            {"key": "actor", "label": "actor"},
            {"key": "action", "label": "action"},
            {"key": "object", "label": "object"},
            {"key": "payload", "label": "details"},
        ]
        self.table.show(rows, columns=columns, caption="newest first" + (" \u00b7 filtered" if self.filters() else ""))
        self.prev_button.disabled = self.offset == 0
        self.next_button.disabled = not more
        last = self.offset + len(events)
        self.page_label.value = f"<span class='mlops-muted'>events {self.offset + 1 if events else 0}\u2013{last}</span>"

    def _on_active(self, change: dict[str, Any]) -> None:
        e = self._events.get(change["new"])
        if e is None:
            return
        self.detail.value = section(
            f"Event #{e.seq}",
            kv_table(
                [
                    ("time", iso_time(e.ts)),
                    ("time (UTC)", e.ts),
                    ("actor", e.actor),
                    ("action", e.action),
                    ("object", f"{e.object_type}:{e.object_id}"),
                    ("hash", e.hash),
                    ("previous hash", e.prev_hash),
                ]
            )
            + pre(json.dumps(e.payload, indent=2, sort_keys=True, default=str)),
        )
