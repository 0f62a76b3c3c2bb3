"""The monitoring dashboard: one deployment's traffic, latency, split, drift and alerts, live.

It renders :meth:`~jupyter_mlops.serving.service.ServingService.monitor` (the same report as
``jupyter-mlops monitor``), so the numbers are those of the CLI; Refresh or auto-refresh reads
the prediction log again. No side server: the report is read from the workspace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .charts import Chart, bar_chart
from .common import Dashboard, badge, html_table, kv_table, section

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["MonitorDashboard"]


class MonitorDashboard(Dashboard):
    """Requests, errors, latency percentiles, per-variant split, drift per feature and alerts."""

    title = "Monitoring"

    def __init__(self, ws: Workspace, *, deployment: str, last: int = 1000, refresh_seconds: float | None = None) -> None:
        from ..serving.service import ServingService

        self.service = ServingService(ws)
        self.deployment = deployment
        self.last = last
        self.report: Any = None
        self.summary = w.HTML()
        self.split_chart = Chart()
        self.drift_chart = Chart()
        self.tables = w.HTML()
        super().__init__(ws, refresh_seconds=refresh_seconds)
        self.body.children = [self.summary, w.HBox([self.split_chart, self.drift_chart]), self.tables]
        self.refresh()

    def reload(self) -> None:
        r = self.service.monitor(self.deployment, last=self.last)
        self.report = r
        t = r.totals
        state = badge("STOPPED", "bad") if r.stopped else badge("serving", "good")
        drift = "unknown" if r.dataset_drift is None else ("DRIFT" if r.dataset_drift else "no drift")
        self.summary.value = state + kv_table(
            [
                ("deployment", r.deployment),
                ("requests", t["requests"]),
                ("errors", t["errors"]),
                ("rejected inputs", t["client_errors"]),
                ("latency p50 / p95 / p99 (ms)", f"{t['p50_ms']} / {t['p95_ms']} / {t['p99_ms']}"),
                ("data set drift", f"{drift} (against {r.drift_reference or 'no reference'})"),
            ]
        )
        refs = [v["model_version"] for v in r.variants]
        self.split_chart.spec = bar_chart("traffic share (%)", refs, {"share": [round(v["share"] * 100, 2) for v in r.variants]})
        tested = [d for d in r.drift if d.get("statistic") is not None]
        self.drift_chart.spec = bar_chart(
            "drift statistic per feature", [d["feature"] for d in tested], {"statistic": [d["statistic"] for d in tested]}
        )
        variants = html_table(
            ["variant", "role", "weight", "requests", "share", "errors", "p50 ms", "p99 ms", "labels", "accuracy"],
            [
                [
                    v["model_version"],
                    v["role"],
                    v["weight"],
                    v["requests"],
                    round(v["share"], 4),
                    v["errors"],
                    v["p50_ms"],
                    v["p99_ms"],
                    v["labels"],
                    v["accuracy"],
                ]
                for v in r.variants
            ],
        )
        drift_rows = html_table(
            ["feature", "method", "statistic", "p-value", "threshold", "drift"],
            [
                [
                    d["feature"],
                    d["method"],
                    d.get("statistic"),
                    d.get("p_value"),
                    d.get("threshold"),
                    d.get("note") or ("yes" if d.get("drift") else "no"),
                ]
                for d in r.drift
            ],
            highlight=lambda row: row[-1] == "yes",
        )
        alerts = html_table(
            ["when", "event", "metric", "variant", "value", "threshold"],
            [
                [a["ts"][:19], a["action"], a.get("metric"), a.get("variant"), a.get("value"), a.get("threshold")]
                for a in r.alerts
            ],
        )
        self.tables.value = (
            section("Variants", variants) + section("Drift per feature", drift_rows) + section("Alerts (audit events)", alerts)
        )
