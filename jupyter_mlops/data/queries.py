"""Read queries over the data catalogue: data sets, the versions of one, one version.

The data dashboard, the REST routes behind the side panel, ``jupyter-mlops data list|show`` and
the other capabilities (quality, evaluation, cards, pipelines) read versions here, as
:class:`~jupyter_mlops.data.entities.DataVersion`; ``ws.data.get`` and ``ws.data.list`` are these.
"""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.paths import parse_version_spec, validate_name
from ..errors import InvalidInput, NotFound
from .entities import DataSetSummary, DataVersion, DataVersionList
from .fingerprint import SCHEME
from .schema import data_versions

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..core.context import Context

__all__ = ["datasets", "find_by_fingerprint", "row_to_version", "show", "versions"]


def row_to_version(r: Any) -> DataVersion:
    """A ``data_versions`` row as a :class:`DataVersion`."""
    return DataVersion(
        name=r.name,
        version=r.version,
        kind=r.kind,
        fingerprint=r.fingerprint,
        scheme=r.scheme,
        schema=json.loads(r.schema_json),
        schema_hash=r.schema_hash,
        n_rows=r.n_rows,
        n_cols=r.n_cols,
        profile=json.loads(r.profile_json),
        source=json.loads(r.source_json),
        object_id=r.object_id,
        size_bytes=r.size_bytes,
        creator=r.creator,
        created=r.created,
        key=tuple(json.loads(r.key_json)),
        sensitive=tuple(json.loads(r.sensitive_json)),
        description=r.description,
    )


def datasets(ctx: Context) -> tuple[DataSetSummary, ...]:
    """Every data set name with its number of versions, by name (one grouped query)."""
    q = sa.select(data_versions.c.name, sa.func.count()).group_by(data_versions.c.name).order_by(data_versions.c.name)
    with ctx.read() as conn:
        return tuple(DataSetSummary(str(n), int(c)) for n, c in conn.execute(q))


def versions(ctx: Context, name: str | None = None, *, limit: int = 200) -> DataVersionList:
    """Data versions, newest first (of one data set when ``name`` is given), at most ``limit``."""
    q = sa.select(data_versions).order_by(data_versions.c.id.desc()).limit(max(1, min(int(limit), 10_000)))
    if name is not None:
        q = q.where(data_versions.c.name == validate_name(name, kind="data name"))
    with ctx.read() as conn:
        return DataVersionList(tuple(row_to_version(r) for r in conn.execute(q)))


def show(ctx: Context, spec: str | DataVersion) -> DataVersion:
    """The version ``spec`` names: ``"name@3"``, ``"name@latest"``, ``"name"`` or ``"name@<fingerprint>"``.

    Raises
    ------
    NotFound
        An unknown data set (with a "did you mean") or version (naming the versions there are).
    InvalidInput
        A fingerprint prefix that matches several versions.
    """
    if isinstance(spec, DataVersion):
        spec = spec.spec
    parsed = parse_version_spec(spec, kind="data version spec")
    q = sa.select(data_versions).where(data_versions.c.name == parsed.name)
    if parsed.version is not None:
        q = q.where(data_versions.c.version == parsed.version)
    elif parsed.fingerprint is not None:
        q = q.where(data_versions.c.fingerprint.startswith(parsed.fingerprint, autoescape=True))
    elif parsed.alias != "latest":
        raise NotFound(
            f"data versions have no alias {parsed.alias!r}",
            value=str(parsed),
            hint=f"use {parsed.name}@latest or {parsed.name}@NUMBER",
        )
    with ctx.read() as conn:
        rows = conn.execute(q.order_by(data_versions.c.version.desc()).limit(2)).all()
        if not rows:
            raise _not_found(conn, parsed.name, str(spec))
    if parsed.fingerprint is not None and len({r.fingerprint for r in rows}) > 1:
        raise InvalidInput(f"fingerprint prefix in {spec!r} matches several versions", value=spec, hint="give more hex digits")
    return row_to_version(rows[0])


def _not_found(conn: Connection, name: str, spec: str) -> NotFound:
    names = [r[0] for r in conn.execute(sa.select(data_versions.c.name).distinct())]
    if name in names:
        top = conn.execute(sa.select(sa.func.max(data_versions.c.version)).where(data_versions.c.name == name)).scalar()
        return NotFound(f"no data version {spec!r}", value=spec, hint=f"{name} has versions 1 to {top}")
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "`jupyter-mlops data list` shows the data sets"
    return NotFound(f"no data set named {name!r}", value=spec, hint=hint)


def find_by_fingerprint(ctx: Context, fingerprint: str) -> DataVersion | None:
    """The newest version whose full-content fingerprint is ``fingerprint``, or ``None``."""
    q = (
        sa.select(data_versions)
        .where(data_versions.c.fingerprint == fingerprint, data_versions.c.scheme == SCHEME)
        .order_by(data_versions.c.id.desc())
        .limit(1)
    )
    with ctx.read() as conn:
        found = conn.execute(q).first()
    return None if found is None else row_to_version(found)
