"""A deployment's monitoring report, read from its prediction log, its state and the audit trail.

The same code feeds ``jupyter-mlops monitor``, the monitoring dashboard and the monitoring job
(``jupyter-mlops monitor NAME --watch 60s``, which ``jupyter-mlops serve`` starts next to the
gateway), so every front-end shows the same numbers. Requests, errors, latency percentiles and
the per-variant split come from the last ``last`` prediction records; drift compares their
(unmasked) input columns with the training data version's snapshot; accuracy joins labels sent
to ``POST /feedback`` with the predictions they label. With ``record_alerts=True`` a change of
the data set's drift state is recorded as a ``serving.alert`` / ``serving.alert_cleared`` audit
event.

Drift is never computed inside the gateway: parsing the log and loading the training data in its
process would hold the GIL for a second (imports) and then for a time that grows with the log,
and every request in flight would wait. :class:`Monitor` keeps its place in the log
(:class:`~.runtime.predlog.LogTail`) and the reference data between reports, so a watching job
reads each line once and loads the training data once.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any

from ..audit.queries import events as audit_events
from .drift import dataset_drift, feature_drift
from .entities import MonitorReport
from .runtime.analysis import percentile
from .runtime.predlog import LogTail

if TYPE_CHECKING:
    from .service import ServingService

__all__ = ["Monitor", "monitor"]

_ALERTS = ("serving.alert", "serving.alert_cleared", "serving.variant_down")


class Monitor:
    """The monitoring state of deployment ``name``: its place in the log, recent records, the reference."""

    def __init__(self, svc: ServingService, name: str, *, last: int = 1000) -> None:
        self.svc = svc
        self.name = name
        self.last = max(1, int(last))
        self._tail = LogTail(svc.log_dirs(name))
        self._predictions: deque[dict[str, Any]] = deque(maxlen=self.last)
        self._labels: OrderedDict[str, Any] = OrderedDict()
        self._reference: tuple[tuple[str, ...], str | None, dict[str, list[Any]]] | None = None

    def _read(self) -> None:
        for rec in self._tail.read():
            kind = rec.get("kind")
            if kind in ("prediction", "failure"):
                self._predictions.append(rec)
            elif kind == "feedback":
                self._labels[str(rec.get("request_id"))] = rec.get("label")
                if len(self._labels) > 20 * self.last:
                    self._labels.popitem(last=False)

    def reference(self, refs: list[str], columns: list[str]) -> tuple[str | None, dict[str, list[Any]]]:
        """The training data version the drift is measured against, and its columns (loaded once)."""
        key = (*refs, "|", *columns)
        if self._reference is None or self._reference[0] != key:
            spec, frame = _reference(self.svc, refs, columns)
            values: dict[str, list[Any]] = {}
            if frame is not None:
                for col in columns:
                    values[col] = [v.item() if hasattr(v, "item") else v for v in frame[col].dropna().tolist()]
            self._reference = (key, spec, values)
        return self._reference[1], self._reference[2]

    def prime(self) -> None:
        """Do the costly part of the first report now: import scipy, load the training data.

        A monitoring job started next to a gateway primes itself while the gateway starts, so
        its first report, a minute later, costs what every later one does.
        """
        import scipy.spatial.distance
        import scipy.stats  # noqa: F401

        state = self.svc.control(self.name).load()
        refs = [v["model"] for v in state["spec"]["variants"]]
        signature = self.svc.ctx.models.get(refs[0]).signature if refs else None
        inputs = (signature or {}).get("inputs") or []
        if isinstance(inputs, str):
            import json

            inputs = json.loads(inputs)
        columns = [str(c["name"]) for c in inputs if isinstance(c, dict) and "name" in c]
        if columns:
            self.reference(refs, columns)

    def report(self, *, record_alerts: bool = False) -> MonitorReport:
        """The report over the last ``last`` predictions, after reading what was logged since the last one."""
        self._read()
        return _report(self, record_alerts=record_alerts)


def _reference(svc: ServingService, refs: list[str], columns: list[str]) -> tuple[str | None, Any]:
    """The first training data version of the served models that holds the feature columns."""
    for ref in refs:
        mv = svc.ctx.models.get(ref)
        for dv in mv.data_versions:
            version = svc.ctx.data.get(dv)
            names = {c.get("name") for c in version.schema.get("columns", [])}
            if version.kind == "frame" and set(columns) <= names:
                return version.spec, svc.ctx.data.load(version.spec)
    return None, None


def monitor(svc: ServingService, name: str, *, last: int = 1000, record_alerts: bool = False) -> MonitorReport:
    """Build the report of deployment ``name`` over its last ``last`` predictions (one reading of the log)."""
    return Monitor(svc, name, last=last).report(record_alerts=record_alerts)


def _report(mon: Monitor, *, record_alerts: bool) -> MonitorReport:
    svc, name, last = mon.svc, mon.name, mon.last
    state = svc.control(name).load()
    predictions, labels = mon._predictions, mon._labels
    answered = [r for r in predictions if r.get("kind") == "prediction"]
    ok = [r for r in answered if r.get("status") == 200]
    failures = [r for r in predictions if r.get("kind") == "failure"]
    rejected = [r for r in answered if 400 <= int(r.get("status", 0)) < 500]

    def pct(recs: list[dict[str, Any]], q: float) -> float | None:
        return percentile([float(r["latency_ms"]) for r in recs], q)

    totals = {
        "requests": len(answered),
        "errors": len(failures),
        "client_errors": len(rejected),
        "p50_ms": pct(ok, 50),
        "p95_ms": pct(ok, 95),
        "p99_ms": pct(ok, 99),
        "labels": sum(1 for r in ok if r["request_id"] in labels),
    }
    variants = []
    for v in state["spec"]["variants"]:
        mine = [r for r in ok if r.get("model_version") == v["model"]]
        labelled = [r for r in mine if r["request_id"] in labels]
        correct = sum(1 for r in labelled if _same(r.get("predictions"), labels[r["request_id"]]))
        variants.append(
            {
                "model_version": v["model"],
                "role": v["role"],
                "weight": v["weight"],
                "requests": len(mine),
                "share": len(mine) / len(ok) if ok else 0.0,
                "errors": sum(1 for r in failures if r.get("model_version") == v["model"]),
                "p50_ms": pct(mine, 50),
                "p99_ms": pct(mine, 99),
                "labels": len(labelled),
                "accuracy": correct / len(labelled) if labelled else None,
            }
        )
    drift, reference_spec, overall = _drift(mon, state, ok)
    if record_alerts and overall is not None:
        _record_drift_alert(svc, name, overall, drift, reference_spec)
    alerts = tuple(
        {
            "ts": e.ts,
            "action": e.action,
            "seq": e.seq,
            "metric": e.payload.get("metric"),
            "variant": e.payload.get("variant"),
            "value": e.payload.get("value"),
            "threshold": e.payload.get("threshold"),
        }
        for e in audit_events(svc.ctx, object_type="deployment", object_id=name, limit=500)
        if e.action in _ALERTS
    )
    window = {
        "first_ms": answered[0]["ts_ms"] if answered else None,
        "last_ms": answered[-1]["ts_ms"] if answered else None,
        "last": last,
    }
    return MonitorReport(
        name, window, totals, tuple(variants), tuple(drift), overall, reference_spec, alerts, bool(state.get("stopped"))
    )


def _drift(mon: Monitor, state: dict[str, Any], ok: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None, bool | None]:
    rows = [row for r in ok for row in (r.get("inputs") or [])]
    if not rows:
        return [], None, None
    masked = {c for r in ok for c in (r.get("masked") or [])}
    columns = list(rows[0])
    refs = [v["model"] for v in state["spec"]["variants"]]
    spec, reference = mon.reference(refs, columns)
    if spec is None:
        return [], None, None
    results = []
    for col in columns:
        if col in masked:
            results.append(
                {
                    "feature": col,
                    "method": "none",
                    "statistic": None,
                    "p_value": None,
                    "threshold": None,
                    "drift": None,
                    "note": "sensitive: values are not stored",
                }
            )
            continue
        results.append(feature_drift(col, reference.get(col, []), [r.get(col) for r in rows]))
    return results, spec, dataset_drift(results)


def _record_drift_alert(
    svc: ServingService, name: str, drifting: bool, drift: list[dict[str, Any]], reference: str | None
) -> None:
    last = next(
        (
            e
            for e in audit_events(svc.ctx, object_type="deployment", object_id=name, limit=500)
            if e.action in ("serving.alert", "serving.alert_cleared") and e.payload.get("metric") == "dataset_drift"
        ),
        None,
    )
    alerting = last is not None and last.action == "serving.alert"
    if drifting == alerting:
        return
    drifted = [d["feature"] for d in drift if d.get("drift")]
    payload = {
        "deployment": name,
        "metric": "dataset_drift",
        "value": len(drifted),
        "threshold": "half of the features",
        "features": drifted,
        "reference": reference,
    }
    svc.control(name).event("serving.alert" if drifting else "serving.alert_cleared", payload)


def _same(prediction: Any, label: Any) -> bool:
    from .runtime.analysis import _same as same

    return same(prediction, label)
