"""A deployment's monitoring report, read from its prediction log, its state and the audit trail.

The same function feeds ``jupyter-mlops monitor``, the monitoring dashboard and the gateway's
periodic drift check, so every front-end shows the same numbers. Requests, errors, latency
percentiles and the per-variant split come from the last ``last`` prediction records; drift
compares their (unmasked) input columns with the training data version's snapshot; accuracy
joins labels sent to ``POST /feedback`` with the predictions they label. With
``record_alerts=True`` a change of the data set's drift state is recorded as a
``serving.alert`` / ``serving.alert_cleared`` audit event.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from .drift import dataset_drift, feature_drift
from .entities import MonitorReport
from .runtime.analysis import percentile
from .runtime.predlog import iter_records

if TYPE_CHECKING:
    from .service import ServingService

__all__ = ["monitor"]

_ALERTS = ("serving.alert", "serving.alert_cleared", "serving.variant_down")


def _reference(svc: ServingService, refs: list[str], columns: list[str]) -> tuple[str | None, Any]:
    """The first training data version of the served models that holds the feature columns."""
    for ref in refs:
        mv = svc.ws.models.get(ref)
        for dv in mv.data_versions:
            version = svc.ws.data.get(dv)
            names = {c.get("name") for c in version.schema.get("columns", [])}
            if version.kind == "frame" and set(columns) <= names:
                return version.spec, svc.ws.data.load(version.spec)
    return None, None


def monitor(svc: ServingService, name: str, *, last: int = 1000, record_alerts: bool = False) -> MonitorReport:
    """Build the report of deployment ``name`` over its last ``last`` predictions."""
    control = svc.control(name)
    state = control.load()
    predictions: deque[dict[str, Any]] = deque(maxlen=max(1, int(last)))
    labels: dict[str, Any] = {}
    for rec in iter_records(svc.log_dirs(name)):
        kind = rec.get("kind")
        if kind in ("prediction", "failure"):
            predictions.append(rec)
        elif kind == "feedback":
            labels[str(rec.get("request_id"))] = rec.get("label")
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
    drift, reference_spec, overall = _drift(svc, state, ok)
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
        for e in svc.ws.audit_events(object_type="deployment", object_id=name, limit=500)
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


def _drift(
    svc: ServingService, state: dict[str, Any], ok: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str | None, bool | None]:
    rows = [row for r in ok for row in (r.get("inputs") or [])]
    if not rows:
        return [], None, None
    masked = {c for r in ok for c in (r.get("masked") or [])}
    columns = list(rows[0])
    refs = [v["model"] for v in state["spec"]["variants"]]
    spec, frame = _reference(svc, refs, columns)
    if frame is None:
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
        reference = [v.item() if hasattr(v, "item") else v for v in frame[col].dropna().tolist()]
        results.append(feature_drift(col, reference, [r.get(col) for r in rows]))
    return results, spec, dataset_drift(results)


def _record_drift_alert(
    svc: ServingService, name: str, drifting: bool, drift: list[dict[str, Any]], reference: str | None
) -> None:
    last = next(
        (
            e
            for e in svc.ws.audit_events(object_type="deployment", object_id=name, limit=500)
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
