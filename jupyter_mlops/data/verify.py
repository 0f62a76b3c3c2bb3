"""Checking the data store: re-hash every object, and every object a data version references.

``ws.data.verify()`` and ``jupyter-mlops data verify`` report what is missing or corrupt and which
versions it breaks; nothing is repaired or deleted here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..core.paths import validate_object_id
from ..errors import UnsafePath
from .entities import DataVerification
from .schema import data_versions
from .snapshot import parse_manifest

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["verify_store"]


def verify_store(ctx: Context) -> DataVerification:
    """Re-hash every object in the store and every object a version references; list the bad ones."""
    refs: dict[str, list[str]] = {}
    with ctx.read() as conn:
        rows = conn.execute(
            sa.select(data_versions.c.name, data_versions.c.version, data_versions.c.kind, data_versions.c.object_id)
        ).all()
    states: dict[str, str | None] = {}
    for r in rows:
        spec = f"{r.name}@{r.version}"
        refs.setdefault(r.object_id, []).append(spec)
        if r.kind == "folder":
            state = states[r.object_id] = _state(ctx, r.object_id)
            if state is None:
                for f in parse_manifest(ctx.objects.open_verified(r.object_id), r.object_id):
                    refs.setdefault(f["object_id"], []).append(f"{spec}:{f['path']}")
    for oid in ctx.objects.iter_ids():
        refs.setdefault(oid, [])
    missing, corrupt = [], []
    for oid in sorted(refs):
        state = states[oid] if oid in states else _state(ctx, oid)
        entry = {"object_id": oid, "referenced_by": ", ".join(sorted(set(refs[oid])))}
        if state == "missing":
            missing.append(entry)
        elif state is not None:
            corrupt.append({**entry, "reason": state})
    return DataVerification(checked=len(refs), missing=tuple(missing), corrupt=tuple(corrupt))


def _state(ctx: Context, object_id: str) -> str | None:
    try:
        validate_object_id(object_id)
    except UnsafePath:
        return "not an object of this store (invalid name)"
    try:
        ctx.objects.check(object_id)
    except UnsafePath:
        return "link out of the store"
    return ctx.objects.verify(object_id)
