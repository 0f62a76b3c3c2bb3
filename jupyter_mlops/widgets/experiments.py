"""The experiments dashboard: one page of runs at a time, compared side by side, and one run in full.

Sorting, filtering and paging are done by the tracking store (``search_runs`` with ``order_by``,
``filter_string`` and a page token), so a 10,000-run experiment costs one page of rows to show,
never a scan of every run into a DataFrame.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..core.direction import is_internal_metric, lower_is_better
from ..core.entities import RunInfo, escape
from ..tracking import queries
from ..tracking.filters import order_key, run_filter
from .charts import Chart, bar_chart, line_chart
from .common import Dashboard, html_table, note, plural, section
from .run_detail import _when, run_detail_html
from .table import DataTable

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["ExperimentsDashboard", "mlflow_filter", "order_key", "run_detail_html", "sort_caption"]

STATUSES = ("any", "FINISHED", "FAILED", "KILLED", "RUNNING")
MAX_METRIC_COLUMNS = 8
MAX_PARAM_COLUMNS = 5
MAX_COMPARE = 12


def mlflow_filter(*, status: str | None = None, name_contains: str = "", query: str = "") -> str:
    """The dashboard's filter boxes as the tracking store's filter string (see :mod:`jupyter_mlops.tracking.filters`)."""
    return run_filter(query, status=status, name_contains=name_contains).to_mlflow()


_ATTRIBUTE_WORDS = {"start_time": "start time", "run_name": "run name", "status": "status", "end_time": "end time"}


def sort_caption(order: str) -> str:
    """``"metrics.brier ASC"`` in words: ``"sorted by brier, lowest first"``."""
    key, _, direction = order.strip().rpartition(" ")
    if direction not in ("ASC", "DESC"):
        key, direction = order.strip(), "DESC"
    kind, _, name = key.partition(".")
    name = name.strip("`")
    if kind == "attributes":
        if name in ("start_time", "end_time"):
            return f"sorted by {_ATTRIBUTE_WORDS[name]}, {'newest' if direction == 'DESC' else 'oldest'} first"
        return f"sorted by {_ATTRIBUTE_WORDS.get(name, name)}, {'Z to A' if direction == 'DESC' else 'A to Z'}"
    best = "ASC" if lower_is_better(name) else "DESC"
    if kind == "metrics":
        return f"sorted by {name}, {'highest' if direction == 'DESC' else 'lowest'} first" + (
            " (best first)" if direction == best else ""
        )
    return f"sorted by {kind.rstrip('s')} {name}, {'descending' if direction == 'DESC' else 'ascending'}"


class ExperimentsDashboard(Dashboard):
    """Runs of an experiment: a paged, sortable, filterable table; compare; run detail."""

    title = "Experiments"

    def __init__(
        self, ws: Workspace, *, experiment: str | None = None, page_size: int = 50, refresh_seconds: float | None = None
    ) -> None:
        self.experiment = w.Dropdown(description="experiment", layout=w.Layout(width="300px"))
        self.status_filter = w.Dropdown(options=list(STATUSES), value="any", description="status", layout=w.Layout(width="190px"))
        self.name_filter = w.Text(placeholder="name contains", continuous_update=False, layout=w.Layout(width="170px"))
        self.query = w.Text(
            placeholder="filter, e.g. metrics.accuracy > 0.8 and params.C = '1'",
            continuous_update=False,
            layout=w.Layout(width="380px"),
        )
        self.apply_button = w.Button(description="Apply", button_style="primary", layout=w.Layout(width="80px"))
        self.show_internal = w.Checkbox(
            value=False, description="show mlops.* metrics", indent=False, layout=w.Layout(width="170px")
        )
        self.page_size = w.Dropdown(
            options=[25, 50, 100, 200],
            value=page_size if page_size in (25, 50, 100, 200) else 50,
            description="rows",
            layout=w.Layout(width="130px"),
        )
        self.prev_button = w.Button(description="\u25c0 Prev", layout=w.Layout(width="80px"))
        self.next_button = w.Button(description="Next \u25b6", layout=w.Layout(width="80px"))
        self.page_label = w.HTML()
        self.table = DataTable(selectable=True, sort="attributes.start_time DESC", empty_text="no runs match")
        self.detail = w.HTML("<div class='mlops-muted'>click a run to see its details</div>")
        self.detail_charts = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.compare = w.HTML("<div class='mlops-muted'>tick two or more runs to compare them</div>")
        self.compare_charts = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.tabs = w.Tab([w.VBox([self.detail, self.detail_charts]), w.VBox([self.compare, self.compare_charts])])
        self.tabs.set_title(0, "Run detail")
        self.tabs.set_title(1, "Compare")
        self._tokens: list[str | None] = [None]
        self._next_token: str | None = None
        self._page_runs: dict[str, RunInfo] = {}
        super().__init__(ws, refresh_seconds=refresh_seconds)
        self.body.children = [
            w.HBox(
                [self.experiment, self.status_filter, self.name_filter, self.query, self.apply_button, self.show_internal],
                layout=w.Layout(flex_flow="row wrap"),
            ),
            self.table,
            w.HBox([self.prev_button, self.next_button, self.page_size, self.page_label], layout=w.Layout(align_items="center")),
            self.tabs,
        ]
        with self.guard("list experiments"):
            self._load_experiments(experiment)
        self.apply_button.on_click(lambda _b: self.first_page())
        self.prev_button.on_click(lambda _b: self.prev_page())
        self.next_button.on_click(lambda _b: self.next_page())
        for widget in (self.experiment, self.status_filter, self.page_size, self.name_filter, self.query):
            widget.observe(lambda _c: self.first_page(), names="value")
        self.show_internal.observe(lambda _c: self._show_page(list(self._page_runs.values())), names="value")
        self.table.observe(lambda _c: self.first_page(), names="sort")
        self.table.observe(self._on_active, names="active")
        self.table.observe(self._on_selected, names="selected")
        #: set once the first page with the tracking store's metrics is shown
        self.ready = threading.Event()
        if "mlflow" in sys.modules or not self._quick_first_page():
            self.first_page()
            self.ready.set()

    def _quick_first_page(self) -> bool:
        """In a fresh kernel, paint the newest runs from the metadata database at once, then fill in
        the tracking store's metrics from a thread (importing MLflow takes about a second)."""
        exp = self.experiment.value
        if not exp:
            return False
        with self.guard("list runs"):
            table = queries.list_runs(self.ws, experiment=exp, limit=int(self.page_size.value), with_metrics=False)
            self._show_page(list(table.runs))
            self.table.caption = f"experiment {exp}, newest first \u00b7 loading metrics\u2026"
            self.show_status("loading metrics\u2026")
        if self.last_error:
            return False

        def complete() -> None:
            try:
                with self._lock:
                    self.first_page()
            finally:
                self.ready.set()

        threading.Thread(target=complete, name="mlops-experiments-first-page", daemon=True).start()
        return True

    # -- data ----------------------------------------------------------------------------------
    def _load_experiments(self, wanted: str | None) -> None:
        exps = queries.experiments(self.ws)
        options = [(f"{e.name} ({plural(e.n_runs, 'run')})", e.name) for e in exps]
        names = [n for _, n in options]
        default = wanted or (self.experiment.value if self.experiment.value in names else None)
        if default is None:
            default = (
                self.ws.settings.default_experiment
                if self.ws.settings.default_experiment in names
                else (names[0] if names else None)
            )
        if wanted and wanted not in names:
            options.append((f"{wanted} (no runs)", wanted))
        self.experiment.options = options
        if default is not None:
            self.experiment.value = default

    def reload(self) -> None:
        self._load_experiments(self.experiment.value)
        self._query(self._tokens[-1])
        if self.table.active:
            self.show_run(self.table.active)
        if len(self.table.selected) > 1:
            self.compare_runs(list(self.table.selected))

    def first_page(self) -> None:
        self._tokens = [None]
        with self.guard("list runs"):
            self._query(None)
        if self.last_error:
            self._clear_results()

    def _clear_results(self) -> None:
        """After a refused filter nothing stale stays on screen: the table says why it is empty."""
        self._page_runs = {}
        self._next_token = None
        self.table.show([], caption="no runs shown: " + (self.last_error or "").removeprefix("list runs: "))
        self.page_label.value = ""
        self.prev_button.disabled = self.next_button.disabled = True

    def next_page(self) -> None:
        if self._next_token is None:
            return
        with self.guard("next page"):
            self._tokens.append(self._next_token)
            self._query(self._next_token)

    def prev_page(self) -> None:
        if len(self._tokens) <= 1:
            return
        with self.guard("previous page"):
            self._tokens.pop()
            self._query(self._tokens[-1])

    def _query(self, token: str | None) -> None:
        exp = self.experiment.value
        if not exp:
            self.table.show([], columns=[], caption="no experiments yet: track a run first")
            self.page_label.value = ""
            return
        flt = run_filter(self.query.value, status=self.status_filter.value, name_contains=self.name_filter.value)
        order = self.table.sort or "attributes.start_time DESC"
        # runs whose process died are shown KILLED, not RUNNING forever (search_runs closes them first)
        page = queries.search_runs(
            self.ws, flt, experiment=exp, order_by=order, page_size=int(self.page_size.value), page_token=token
        )
        found = list(page.runs)
        self._next_token = page.next_page_token
        self._page_runs = {r.run_id: r for r in found}
        self._show_page(found)
        page_no = len(self._tokens)
        first = (page_no - 1) * int(self.page_size.value) + 1
        total = "" if flt.narrows else f" of {queries.count_runs(self.ws, exp, self.status_filter.value)}"
        span = f"runs {first}\u2013{first + len(found) - 1}{total}" if found else "no runs"
        self.page_label.value = f"<span class='mlops-muted'>page {page_no} \u00b7 {escape(span)}</span>"
        self.prev_button.disabled = page_no <= 1
        self.next_button.disabled = self._next_token is None
        if not self.last_error:
            self.show_status(f"{plural(len(found), 'run')} shown, {sort_caption(order)}")

    def _show_page(self, found: list[RunInfo]) -> None:
        metric_keys: list[str] = []
        param_keys: list[str] = []
        sort_col = self.table.sort.rsplit(" ", 1)[0]
        for r in found:
            for k in r.metrics:
                if is_internal_metric(k) and not self.show_internal.value:
                    continue
                if k not in metric_keys:
                    metric_keys.append(k)
            for k in r.params:
                if k not in param_keys:
                    param_keys.append(k)
        metric_keys = sorted(metric_keys, key=lambda k: (order_key("metrics", k) != sort_col, k))[:MAX_METRIC_COLUMNS]
        param_keys = sorted(param_keys, key=lambda k: (order_key("params", k) != sort_col, k))[:MAX_PARAM_COLUMNS]
        columns: list[dict[str, Any]] = [
            {"key": "name", "label": "run", "sort_key": "attributes.run_name"},
            {"key": "status", "label": "status", "sort_key": "attributes.status"},
            {"key": "actor", "label": "by"},
            {"key": "started", "label": "started", "sort_key": "attributes.start_time"},
            {"key": "seconds", "label": "seconds", "numeric": True},
        ]
        columns += [
            {
                "key": "m:" + k,
                "label": k,
                "numeric": True,
                "sort_key": order_key("metrics", k),
                "first": "ASC" if lower_is_better(k) else "DESC",
            }
            for k in metric_keys
        ]
        columns += [{"key": "p:" + k, "label": k, "sort_key": order_key("params", k)} for k in param_keys]
        rows = []
        for r in found:
            row: dict[str, Any] = {
                "id": r.run_id,
                "name": r.name,
                "status": r.status,
                "actor": r.actor,
                "started": _when(r.started),
                "seconds": r.duration_s,
            }
            row.update({"m:" + k: r.metrics.get(k) for k in metric_keys})
            row.update({"p:" + k: r.params.get(k) for k in param_keys})
            rows.append(row)
        order = self.table.sort or "attributes.start_time DESC"
        self.table.show(rows, columns=columns, caption=f"experiment {self.experiment.value}, {sort_caption(order)}")

    # -- detail and compare -----------------------------------------------------------------------
    def _on_active(self, change: dict[str, Any]) -> None:
        if change["new"]:
            with self.guard("show run"):
                self.show_run(change["new"])

    def _on_selected(self, change: dict[str, Any]) -> None:
        with self.guard("compare runs"):
            self.compare_runs(list(change["new"]))

    def show_run(self, run_id: str) -> None:
        """Show one run in the detail tab."""
        html, metric_history = run_detail_html(self.ws, run_id)
        self.detail.value = html
        charts = []
        for key, points in list(metric_history.items())[:4]:
            if len(points) > 1:
                charts.append(
                    Chart(
                        spec=line_chart(
                            f"{key} by step", [s for s, _ in points], {key: [v for _, v in points]}, width=360, height=220
                        )
                    )
                )
        self.detail_charts.children = charts
        self.tabs.selected_index = 0

    def compare_runs(self, run_ids: list[str]) -> None:
        """Parameters and metrics of the ticked runs side by side, with one chart per metric."""
        self.tabs.set_title(1, f"Compare ({len(run_ids)})")
        if len(run_ids) < 2:
            self.compare.value = "<div class='mlops-muted'>tick two or more runs to compare them</div>"
            self.compare_charts.children = []
            return
        runs = [self._page_runs.get(rid) or queries.get_run(self.ws, rid) for rid in run_ids[:MAX_COMPARE]]
        labels = [f"{r.name} ({r.run_id[:6]})" for r in runs]
        params = sorted({k for r in runs for k in r.params})
        metrics = sorted({k for r in runs for k in r.metrics if self.show_internal.value or not is_internal_metric(k)})

        def differs(row: Any) -> bool:
            return len({str(v) for v in row[1:]}) > 1

        html = (
            (note(f"showing the first {MAX_COMPARE} of {len(run_ids)} ticked runs", "warn") if len(run_ids) > MAX_COMPARE else "")
            + section(
                "Metrics",
                html_table(["metric", *labels], [[k, *[r.metrics.get(k) for r in runs]] for k in metrics], highlight=differs),
            )
            + section(
                "Parameters (rows that differ are highlighted)",
                html_table(["parameter", *labels], [[k, *[r.params.get(k) for r in runs]] for k in params], highlight=differs),
            )
        )
        self.compare.value = html
        self.compare_charts.children = [
            Chart(spec=bar_chart(k, labels, {k: [r.metrics.get(k) for r in runs]}, width=340, height=240)) for k in metrics[:6]
        ]
        if not self.table.active:
            self.tabs.selected_index = 1
