"""The data dashboard: versions per name, a version's profile and quality reports, and diffs.

The catalogue is read with one query per view (names with their version counts, then the
versions of one name); profiles come from the stored version, quality reports from
``ws.quality``, and the diff of two chosen versions from ``ws.data``, so sensitive columns stay
masked exactly as those services mask them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..core.entities import escape
from ..data import queries
from .charts import Chart, bar_chart
from .common import Dashboard, badge, html_table, kv_table, note, safe_html_of, section
from .table import DataTable

if TYPE_CHECKING:
    from ..data.entities import DataVersion
    from ..workspace import Workspace

__all__ = ["DataDashboard", "data_names", "profile_html"]

_STATS = ("min", "max", "mean", "std")


def data_names(ws: Workspace) -> list[tuple[str, int]]:
    """Data set names with their number of versions."""
    return [(d.name, d.n_versions) for d in queries.datasets(ws)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def profile_html(profile: dict[str, Any], sensitive: tuple[str, ...] | list[str] = ()) -> str:
    """A per-column profile table (sensitive columns show counts only, as stored)."""
    cols = profile.get("columns") or []
    if not cols:
        return "<div class='mlops-muted'>no column profile (files are profiled by name and size)</div>"
    rows = []
    for c in cols:
        name = c.get("name", "")
        raw_top = c.get("top") or []
        if isinstance(raw_top, list):
            top = ", ".join(
                f"{pair[0]} ({pair[1]})" if isinstance(pair, list) and len(pair) == 2 else str(pair) for pair in raw_top[:6]
            )
        else:
            top = json.dumps(raw_top, default=str)[:80]
        masked = name in sensitive or bool(c.get("masked"))
        rows.append(
            [
                name + (" (sensitive)" if masked else ""),
                c.get("dtype", ""),
                c.get("nulls", ""),
                c.get("distinct", ""),
                *[("masked" if masked else _fmt(c.get(k))) for k in _STATS],
                "masked" if masked else top,
            ]
        )
    return html_table(["column", "dtype", "nulls", "distinct", *_STATS, "top values"], rows)


class DataDashboard(Dashboard):
    """Data versions per name; profile and quality of one version; diff of two versions."""

    title = "Data"

    def __init__(
        self, ws: Workspace, *, name: str | None = None, page_size: int = 200, refresh_seconds: float | None = None
    ) -> None:
        self.names = w.Select(description="", rows=8, layout=w.Layout(width="230px"))
        self.table = DataTable(empty_text="no versions of this name")
        self.detail = w.HTML("<div class='mlops-muted'>click a version to see its profile and quality reports</div>")
        self.charts = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.diff_a = w.Dropdown(description="diff", layout=w.Layout(width="200px"))
        self.diff_b = w.Dropdown(description="with", layout=w.Layout(width="200px"))
        self.diff_button = w.Button(description="Compare", button_style="primary", layout=w.Layout(width="100px"))
        self.diff_out = w.HTML()
        self.page_size = page_size
        self._rows: dict[str, DataVersion] = {}
        super().__init__(ws, refresh_seconds=refresh_seconds)
        self.tabs = w.Tab(
            [w.VBox([self.detail, self.charts]), w.VBox([w.HBox([self.diff_a, self.diff_b, self.diff_button]), self.diff_out])]
        )
        self.tabs.set_title(0, "Version")
        self.tabs.set_title(1, "Diff")
        self.body.children = [
            w.HBox([w.VBox([w.HTML("<b>data sets</b>"), self.names]), w.VBox([self.table], layout=w.Layout(flex="1"))]),
            self.tabs,
        ]
        self.names.observe(lambda _c: self._guarded_versions(), names="value")
        self.table.observe(self._on_active, names="active")
        self.diff_button.on_click(lambda _b: self.show_diff())
        with self.guard("list data"):
            self._load_names(name)
        self._guarded_versions()

    def _load_names(self, wanted: str | None) -> None:
        names = data_names(self.ws)
        self.names.options = [(f"{n}  ({c})", n) for n, c in names]
        keep = wanted or self.names.value
        if names:
            self.names.value = keep if keep in [n for n, _ in names] else names[0][0]

    def reload(self) -> None:
        self._load_names(self.names.value)
        self.show_versions()
        if self.table.active:
            self.show_version(self.table.active)

    def _guarded_versions(self) -> None:
        with self.guard("list versions"):
            self.show_versions()

    def show_versions(self) -> None:
        name = self.names.value
        if not name:
            self.table.show([], columns=[], caption="no data versions yet: mlops.version_data(df, name=...)")
            return
        rows = queries.versions(self.ws, name, limit=self.page_size)
        self._rows = {r.spec: r for r in rows}
        self.table.show(
            [
                {
                    "id": f"{r.name}@{r.version}",
                    "version": r.version,
                    "kind": r.kind,
                    "rows": r.n_rows,
                    "cols": r.n_cols,
                    "fingerprint": r.fingerprint[:16],
                    "creator": r.creator,
                    "created": r.created[:19].replace("T", " "),
                    "sensitive": ", ".join(r.sensitive),
                }
                for r in rows
            ],
            columns=[
                {"key": "version", "label": "version", "numeric": True},
                {"key": "kind", "label": "kind"},
                {"key": "rows", "label": "rows", "numeric": True},
                {"key": "cols", "label": "columns", "numeric": True},
                {"key": "fingerprint", "label": "fingerprint (BLAKE3)"},
                {"key": "creator", "label": "by"},
                {"key": "created", "label": "created (UTC)"},
                {"key": "sensitive", "label": "sensitive columns"},
            ],
            caption=f"versions of {name}, newest first",
        )
        specs = list(self._rows)
        self.diff_a.options = specs
        self.diff_b.options = specs
        if len(specs) >= 2:
            self.diff_a.value, self.diff_b.value = specs[1], specs[0]

    def _on_active(self, change: dict[str, Any]) -> None:
        if change["new"]:
            with self.guard("show version"):
                self.show_version(change["new"])

    def show_version(self, spec: str) -> None:
        """Profile, source and quality reports of ``spec``."""
        r = self._rows.get(spec)
        if r is None:
            return
        sensitive = list(r.sensitive)
        profile = dict(r.profile or {})
        source = dict(r.source or {})
        facts = [
            ("version", spec),
            ("kind", r.kind),
            ("rows \u00d7 columns", f"{r.n_rows} \u00d7 {r.n_cols}"),
            ("fingerprint", f"{r.fingerprint} ({r.scheme})"),
            ("schema sha256", r.schema_hash),
            ("snapshot", f"mlops-object:{r.object_id} ({r.size_bytes} bytes)"),
            ("key columns", ", ".join(r.key) or "none"),
            ("sensitive columns", ", ".join(sensitive) or "none"),
            ("created by", f"{r.creator} at {r.created[:19]}"),
        ]
        if r.description:
            facts.append(("description", r.description))
        reports = self.ws.quality.reports_for(spec, limit=20)
        if reports:
            latest = reports[0]
            verdict = (
                badge("\u2713 quality checks passed", "good")
                if latest.passed
                else badge(f"\u2717 {latest.n_failed_checks} quality checks failed", "bad")
            )
            quality = (
                verdict
                + html_table(
                    ["report", "time (UTC)", "by", "passed", "failed checks", "checks", "rules sha256"],
                    [[q.id, q.ts[:19], q.actor, q.passed, q.n_failed_checks, q.n_checks, q.rules_sha256[:12]] for q in reports],
                )
                + safe_html_of(latest)
            )
        else:
            quality = note("no quality report for this version: mlops.check_data('" + spec + "', rules)", "warn")
        self.detail.value = (
            f"<div><span class='mlops-title'>{escape(spec)}</span></div>"
            + section("Version", kv_table(facts))
            + section("Source", kv_table(sorted(source.items())))
            + section("Profile", profile_html(profile, sensitive))
            + section("Quality", quality)
        )
        cols = profile.get("columns") or []
        charts = []
        if cols and r.n_rows:
            names = [c.get("name", "") for c in cols][:30]
            nulls = [100.0 * float(c.get("nulls") or 0) / r.n_rows for c in cols][:30]
            charts.append(Chart(spec=bar_chart("missing values per column (%)", names, {"% null": nulls}, width=520, height=250)))
            distinct = [c.get("distinct") for c in cols][:30]
            charts.append(
                Chart(spec=bar_chart("distinct values per column", names, {"distinct": distinct}, width=520, height=250))
            )
        self.charts.children = charts
        self.tabs.selected_index = 0

    def show_diff(self) -> None:
        """The diff of the two chosen versions (``ws.data.diff``)."""
        with self.guard("diff"):
            a, b = self.diff_a.value, self.diff_b.value
            if not a or not b:
                self.diff_out.value = note("choose two versions", "warn")
                return
            self.diff_out.value = safe_html_of(self.ws.data.diff(a, b))
            self.tabs.selected_index = 1
