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
from .common import Dashboard, badge, html_table, iso_time, kv_table, note, number, safe_html_of, section
from .table import DataTable

if TYPE_CHECKING:
    from ..data.entities import DataDiff, DataVersion
    from ..workspace import Workspace

__all__ = ["DataDashboard", "data_names", "diff_html", "profile_html", "top_text"]

_STATS = ("min", "max", "mean", "std")


def data_names(ws: Workspace) -> list[tuple[str, int]]:
    """Data set names with their number of versions."""
    return [(d.name, d.n_versions) for d in queries.datasets(ws)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return number(v)
    if isinstance(v, list):
        return top_text(v)
    return "" if v is None else str(v)


def top_text(raw_top: Any, limit: int = 6) -> str:
    """The most frequent values as ``Yes (3,120), No (1,106)``."""
    if not isinstance(raw_top, list):
        return json.dumps(raw_top, default=str)[:80]
    return ", ".join(
        f"{pair[0]} ({pair[1]:,})" if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], int) else str(pair)
        for pair in raw_top[:limit]
    )


def diff_html(diff: DataDiff, a: DataVersion, b: DataVersion) -> str:
    """A data diff as a reviewer reads it: row counts, added / removed / changed rows, what was masked."""
    head = f"<div><b>{escape(diff.a)}</b> \u2192 <b>{escape(diff.b)}</b>: rows {diff.rows[0]:,} \u2192 {diff.rows[1]:,}</div>"
    if diff.same_content:
        return head + note("the two versions hold the same content", "good")
    if diff.key:
        counts = html_table(
            ["rows added", "rows removed", "rows changed", "matched by key"],
            [[diff.rows_added, diff.rows_removed, diff.rows_changed, ", ".join(diff.key)]],
        )
    else:
        counts = note(
            "rows added / removed / changed are counted by a key column: choose one above "
            "(or declare it with version_data(..., key=...))",
            "info",
        )
    sensitive = sorted(set(a.sensitive) | set(b.sensitive))
    if sensitive:
        masked_key = sorted(set(diff.key) & set(sensitive))
        said = (
            f"sensitive columns {', '.join(sensitive)}: their values are never shown; profiles hold counts only, "
            "so only null and distinct counts are compared"
            + (f"; key values of {', '.join(masked_key)} are masked" if masked_key else "")
        )
        masking = note(said, "warn")
    else:
        masking = note("no column is declared sensitive in these versions", "none")
    schema = []
    schema += [["column added", c, ""] for c in diff.columns_added]
    schema += [["column removed", c, ""] for c in diff.columns_removed]
    schema += [["dtype changed", c, f"{x} \u2192 {y}"] for c, (x, y) in diff.dtype_changes.items()]
    profile = [
        [
            col,
            stat,
            "masked" if col in sensitive and stat not in ("nulls", "distinct") else _fmt(x),
            "masked" if col in sensitive and stat not in ("nulls", "distinct") else _fmt(y),
        ]
        for col, stats in diff.profile_changes.items()
        for stat, (x, y) in stats.items()
    ]
    examples = [[ex["key"], ", ".join(ex["columns"])] for ex in diff.changed_examples]
    return (
        head
        + section("Rows", counts + (html_table(["key", "changed columns"], examples) if examples else ""))
        + masking
        + (section("Schema", html_table(["change", "column", "detail"], schema)) if schema else "")
        + section("Profile changes", html_table(["column", "statistic", "before", "after"], profile))
    )


def profile_html(profile: dict[str, Any], sensitive: tuple[str, ...] | list[str] = ()) -> str:
    """A per-column profile table (sensitive columns show counts only, as stored)."""
    cols = profile.get("columns") or []
    if not cols:
        return "<div class='mlops-muted'>no column profile (files are profiled by name and size)</div>"
    rows = []
    for c in cols:
        name = c.get("name", "")
        top = top_text(c.get("top") or [])
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
        self.diff_key = w.Dropdown(description="by key", options=[("(none)", "")], layout=w.Layout(width="220px"))
        self.diff_button = w.Button(description="Compare", button_style="primary", layout=w.Layout(width="100px"))
        self.diff_out = w.HTML()
        self.page_size = page_size
        self._rows: dict[str, DataVersion] = {}
        super().__init__(ws, refresh_seconds=refresh_seconds)
        self.tabs = w.Tab(
            [
                w.VBox([self.detail, self.charts]),
                w.VBox(
                    [
                        w.HBox(
                            [self.diff_a, self.diff_b, self.diff_key, self.diff_button], layout=w.Layout(flex_flow="row wrap")
                        ),
                        self.diff_out,
                    ]
                ),
            ]
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
                    "created": iso_time(r.created),
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
                {"key": "created", "label": "created"},
                {"key": "sensitive", "label": "sensitive columns"},
            ],
            caption=f"versions of {name}, newest first",
        )
        specs = list(self._rows)
        self.diff_a.options = specs
        self.diff_b.options = specs
        if len(specs) >= 2:
            self.diff_a.value, self.diff_b.value = specs[1], specs[0]
        newest = rows.versions[0] if rows.versions else None
        columns = [c.get("name") for c in (newest.schema.get("columns", []) if newest is not None else [])]
        self.diff_key.options = [("(none)", ""), *[(str(c), str(c)) for c in columns if c]]
        self.diff_key.value = newest.key[0] if newest is not None and newest.key and newest.key[0] in columns else ""

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
            ("created by", f"{r.creator} at {iso_time(r.created)}"),
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
                    ["report", "time", "by", "passed", "failed checks", "checks", "rules sha256"],
                    [
                        [q.id, iso_time(q.ts), q.actor, q.passed, q.n_failed_checks, q.n_checks, q.rules_sha256[:12]]
                        for q in reports
                    ],
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
            charts.append(Chart(spec=bar_chart("Missing values per column (%)", names, {"% null": nulls}, width=520, height=250)))
            distinct = [c.get("distinct") for c in cols][:30]
            charts.append(
                Chart(spec=bar_chart("Distinct values per column", names, {"distinct": distinct}, width=520, height=250))
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
            diff = self.ws.data.diff(a, b, key=self.diff_key.value or None)
            self.diff_out.value = diff_html(diff, queries.show(self.ws, a), queries.show(self.ws, b))
            self.tabs.selected_index = 1
