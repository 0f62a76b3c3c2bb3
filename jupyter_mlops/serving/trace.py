"""``jupyter-mlops trace REQUEST_ID``: from one logged prediction back to the notebook cell and the data.

The walk: the prediction record (variant, model version, latency, input hash, masked inputs,
shadow calls, labels) -> the model version (author, artifact manifest hash) -> its review
(requests, approvals) -> the deployment changes that put it into service -> the training run
(actor, status) -> the notebook and cell it ran in (path, cell id, source sha256) -> the data
versions it was trained on (full-content fingerprints). Every link comes from the registry,
the lineage graph and the run records; what was not recorded is shown as ``unknown``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, MlopsError, NotFound
from ..tracking.queries import get_run_record
from .entities import Trace
from .runtime.predlog import find_request

if TYPE_CHECKING:
    from .service import ServingService

__all__ = ["trace"]

_RID = re.compile(r"^[0-9A-Za-z\-]{8,64}$")


def trace(svc: ServingService, request_id: str) -> Trace:
    """The chain of one request id (see the module docstring)."""
    if not isinstance(request_id, str) or not _RID.match(request_id):
        raise InvalidInput(
            "a request id is the X-Request-Id header of a response (8 to 64 letters, digits or '-')", field="request_id"
        )
    records = find_request(svc.log_dirs(), request_id)
    served = next((r for r in records if r.get("kind") == "prediction"), None)
    if served is None:
        raise NotFound(
            f"no prediction with request id {request_id} in the prediction logs",
            value=request_id,
            hint="request ids come from the X-Request-Id header; the logs are under .mlops/serving/<deployment>/log/",
            field="request_id",
        )
    ctx = svc.ctx
    ref = str(served["model_version"])
    steps: list[dict[str, Any]] = [
        {
            "step": "prediction",
            "request_id": request_id,
            "deployment": served.get("deployment"),
            "role": served.get("role"),
            "model_version": ref,
            "status": served.get("status"),
            "latency_ms": served.get("latency_ms"),
            "ts_ms": served.get("ts_ms"),
            "input_sha256": served.get("input_sha256"),
            "masked_columns": served.get("masked"),
            "inputs": served.get("inputs"),
            "predictions": served.get("predictions"),
            "shadow": [
                {"model_version": r["model_version"], "status": r["status"], "predictions": r.get("predictions")}
                for r in records
                if r.get("kind") == "shadow"
            ],
            "labels": [r.get("label") for r in records if r.get("kind") == "feedback"],
        }
    ]
    mv = ctx.models.get(ref)
    steps.append(
        {
            "step": "model",
            "model_version": mv.ref,
            "author": mv.author,
            "logged": mv.created,
            "model_type": mv.model_type,
            "manifest_sha256": mv.manifest_sha256,
            "serialization": mv.serialization,
            "status": mv.status,
        }
    )
    reviews = ctx.models.reviews(mv.ref)
    steps.append(
        {
            "step": "review",
            "status": mv.status,
            "history": [
                {"action": r.action, "actor": r.actor, "ts": r.ts, "text": r.text, "audit_seq": r.audit_seq} for r in reviews
            ],
        }
    )
    deployment = str(served.get("deployment") or "")
    changes = []
    if deployment:
        try:
            changes = [c for c in svc.control(deployment).changes() if any(v["model"] == mv.ref for v in c["after"]["variants"])]
        except MlopsError:
            changes = []
    steps.append(
        {
            "step": "deployment",
            "deployment": deployment,
            "changes": [{k: c[k] for k in ("revision", "action", "actor", "ts", "audit_seq")} for c in changes[-5:]],
        }
    )
    run = get_run_record(ctx, mv.run_id) if mv.run_id else None
    steps.append(
        {
            "step": "run",
            "run_id": mv.run_id,
            "name": run.name if run else "unknown",
            "actor": run.actor if run else "unknown",
            "status": run.status if run else "unknown",
            "started": run.started if run else None,
            "parent_run_id": run.parent_run_id if run else None,
        }
    )
    steps.append(
        {
            "step": "cell",
            "notebook": (run.notebook if run else None) or "unknown",
            "cell_id": (run.cell_id if run else None) or "unknown",
            "source_sha256": (run.source_sha256 if run else None) or mv.code_sha256 or "unknown",
        }
    )
    data = []
    for spec in mv.data_versions:
        try:
            dv = ctx.data.get(spec)
            data.append(
                {
                    "data_version": dv.spec,
                    "fingerprint": dv.fingerprint,
                    "scheme": dv.scheme,
                    "rows": dv.n_rows,
                    "sensitive": list(dv.sensitive),
                }
            )
        except MlopsError:
            data.append({"data_version": spec, "fingerprint": "unknown"})
    steps.append({"step": "data", "versions": data or "unknown"})
    return Trace(request_id, tuple(steps))
