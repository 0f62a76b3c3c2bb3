"""What a model version is allowed to load: the files its audit-chained ``model.log`` event recorded.

The ``model_versions`` row is mutable (anyone who can write the database can rewrite its
manifest to match a replaced file); the ``model.log`` event is covered by a signed checkpoint
of its own. So :meth:`~jupyter_mlops.registry.service.ModelRegistry.load_model` takes the file
hashes, the serialization and the trusted types from the event, after proving it against the
signed chain (:func:`jupyter_mlops.audit.queries.verified_event`), and refuses a row that
disagrees with it. Pickle-family formats run code when loaded, so they are refused unless
``[models] allow_pickle = true``.

OpenSSF's ``model_signing`` (sigstore or key-based signatures over a model folder's manifest)
was considered: it would sign the same per-file SHA-256 manifest a second time, with a key
the workspace already has and a format no part of this project reads; what it adds (a
detached signature that travels with the folder) the exported chain and checkpoints give an
auditor already, so it is not used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import IntegrityError, PermissionDenied

if TYPE_CHECKING:
    from ..core.context import Context
    from .entities import ModelVersion

__all__ = ["PICKLE_FORMATS", "recorded_artifacts"]

#: Serializations whose loading runs arbitrary code.
PICKLE_FORMATS = frozenset({"cloudpickle", "pickle"})


def recorded_artifacts(ctx: Context, mv: ModelVersion) -> tuple[dict[str, dict[str, Any]], str, tuple[str, ...]]:
    """``(manifest, serialization, trusted types)`` of ``mv`` as its signed ``model.log`` event recorded them.

    Raises
    ------
    IntegrityError
        The event is missing or does not match the signed chain, or the registry row differs from it.
    PermissionDenied
        A pickle-family model while ``[models] allow_pickle`` is not true.
    """
    from ..audit.queries import verified_event

    event = verified_event(ctx, "model.log", "model_version", mv.ref)
    files = dict(event.payload.get("files") or {})
    serialization = str(event.payload.get("serialization"))
    trusted = tuple(event.payload.get("trusted_types") or ())
    row_files = {rel: entry.get("sha256") for rel, entry in mv.manifest.items()}
    if row_files != files or mv.serialization != serialization or tuple(mv.trusted_types) != trusted:
        changed = sorted(rel for rel in set(files) | set(row_files) if files.get(rel) != row_files.get(rel))
        raise IntegrityError(
            f"the registry record of {mv.ref} differs from its audited model.log event #{event.seq}"
            + (f" (file {changed[0]})" if changed else " (serialization or trusted types)"),
            value=mv.ref,
            hint="someone rewrote the model_versions row; do not load it, restore the record or log the model again",
        )
    models = ctx.settings.extra.get("models", {})
    if serialization in PICKLE_FORMATS and not (isinstance(models, dict) and models.get("allow_pickle") is True):
        raise PermissionDenied(
            f"model {mv.ref} is a {serialization} file, and loading one runs whatever code it holds",
            value=serialization,
            hint="log it with serialization='skops', or set [models] allow_pickle = true in .mlops/config.toml",
        )
    manifest = {rel: {"sha256": digest, "size": mv.manifest.get(rel, {}).get("size")} for rel, digest in files.items()}
    return manifest, serialization, trusted
