"""An in-toto Statement (v1) for a model version: what it is, how it was made, who approved it.

The subjects are the version's artifact files with their SHA-256 digests, taken from the signed
``model.log`` event (the same record :meth:`load_model` trusts); the predicate names the training
run, the code hash, the training data versions with their full-content fingerprints, the reviews
and the audit events they are in. ``jupyter-mlops model attest SPEC`` prints it; a DSSE envelope
or a sigstore signature can wrap it unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.context import Context
    from ..data.service import DataService
    from ..registry.service import ModelRegistry

__all__ = ["PREDICATE_TYPE", "STATEMENT_TYPE", "statement"]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://github.com/jupyter-mlops/jupyter-mlops/model-provenance/v1"


def statement(ctx: Context, models: ModelRegistry, data: DataService, spec: str) -> dict[str, Any]:
    """The in-toto Statement of version ``spec`` as plain JSON data."""
    from ..audit.queries import verified_event

    mv = models.get(spec)
    logged = verified_event(ctx, "model.log", "model_version", mv.ref)
    files = dict(logged.payload.get("files") or {})
    subjects = [{"name": f"{mv.ref}/{rel}", "digest": {"sha256": digest}} for rel, digest in sorted(files.items())]
    datasets = []
    for dv in logged.payload.get("data_versions") or []:
        version = data.get(dv)
        datasets.append({"data_version": version.spec, "fingerprint": version.fingerprint, "scheme": version.scheme})
    reviews = [
        {"action": r.action, "actor": r.actor, "ts": r.ts, "status_after": r.status_after, "audit_seq": r.audit_seq}
        for r in models.reviews(mv.ref)
    ]
    predicate = {
        "model_version": mv.ref,
        "author": mv.author,
        "training_run": {"run_id": mv.run_id, "code_sha256": logged.payload.get("code_sha256")},
        "data": datasets,
        "reviews": reviews,
        "approved": mv.status == "approved",
        "audit": {"workspace_id": ctx.settings.workspace_id, "model_log_seq": logged.seq, "model_log_hash": logged.hash},
    }
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE, "predicate": predicate}
