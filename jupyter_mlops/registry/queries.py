"""Read queries over the registry: versions, the review queue, reviews and alias history.

The models dashboard, the REST routes behind the side panel, ``jupyter-mlops model ...``, the
cards and serving read registered versions here, as :mod:`~jupyter_mlops.registry.entities`;
:class:`~jupyter_mlops.registry.service.ModelRegistry`'s reading methods (``ws.models.get`` ...)
are these. Aliases are resolved from the registry's own alias history (the newest move wins).
:func:`row` and :func:`aliases` read inside a caller's transaction, so the review's writes can
re-check the state they rest on.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.paths import parse_version_spec, validate_name
from ..errors import InvalidInput, NotFound
from .entities import AliasHistory, AliasMove, ModelTable, ModelVersion, Review
from .schema import model_alias_history, model_reviews, model_versions

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..core.context import Context

__all__ = [
    "REVIEW_STATUSES",
    "alias_history",
    "aliases",
    "get",
    "review_queue",
    "reviews",
    "row",
    "validate_alias",
    "version_by_content",
    "versions",
]

#: A version's review status.
REVIEW_STATUSES = ("none", "pending", "approved", "rejected")
_LIST_HINT = "`jupyter-mlops model list` shows the models"
_ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


def validate_alias(alias: object) -> str:
    """Check an alias name and return it in lower case (aliases are case-insensitive).

    A letter, then letters, digits, ``_`` or ``-``; not ``latest`` or ``v<N>``.
    """
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise InvalidInput(
            f"invalid alias {alias!r}",
            value=repr(alias)[:80],
            hint="use a word like 'champion' or 'challenger' ('latest' and 'v1', 'v2' ... are reserved)",
            field="alias",
        )
    return alias.lower()


def aliases(conn: Connection, name: str) -> dict[str, int]:
    """The current target of each alias of ``name`` (the newest history row wins)."""
    h = model_alias_history
    current: dict[str, int | None] = {}
    for r in conn.execute(sa.select(h.c.alias, h.c.to_version).where(h.c.name == name).order_by(h.c.id)):
        current[r.alias] = r.to_version
    return {a: v for a, v in current.items() if v is not None}


def row(conn: Connection, spec: str) -> Any:
    """The ``model_versions`` row ``spec`` names (``name@3``, ``name@latest``, ``name@<alias>``, ``name@<sha prefix>``)."""
    vs = parse_version_spec(spec, default_alias="latest", kind="model version")
    t = model_versions
    q = sa.select(t).where(t.c.name == vs.name)
    if vs.version is not None:
        found = conn.execute(q.where(t.c.version == vs.version)).first()
    elif vs.fingerprint is not None:
        rows = conn.execute(q.where(t.c.manifest_sha256.startswith(vs.fingerprint))).all()
        if len(rows) > 1:
            raise InvalidInput(f"{spec} matches {len(rows)} versions", value=spec, hint="give more hex digits", field="spec")
        found = rows[0] if rows else None
    elif vs.alias == "latest":
        found = conn.execute(q.order_by(t.c.version.desc()).limit(1)).first()
    else:
        target = aliases(conn, vs.name).get(str(vs.alias))
        if target is None:
            exists = conn.execute(sa.select(t.c.version).where(t.c.name == vs.name).limit(1)).first()
            raise NotFound(
                f"model {vs.name} has no alias {vs.alias!r}" if exists else f"no model named {vs.name!r}",
                value=str(spec),
                hint=f"`jupyter-mlops model history {vs.name}` shows its aliases" if exists else _LIST_HINT,
                field="spec",
            )
        found = conn.execute(q.where(t.c.version == target)).first()
    if found is None:
        known = [r.version for r in conn.execute(sa.select(t.c.version).where(t.c.name == vs.name).order_by(t.c.version))]
        raise NotFound(
            f"no model version {spec}",
            value=str(spec),
            hint=f"{vs.name} has versions {', '.join(map(str, known))}"
            if known
            else "`jupyter-mlops model list` shows the models",
            field="spec",
        )
    return found


def _entity(conn: Connection, r: Any, current: dict[str, dict[str, int]] | None = None) -> ModelVersion:
    now = current.setdefault(r.name, aliases(conn, r.name)) if current is not None else aliases(conn, r.name)
    return ModelVersion(
        name=r.name,
        version=r.version,
        author=r.author,
        created=r.created,
        run_id=r.run_id,
        model_uri=r.model_uri,
        model_id=r.model_id,
        artifact_uri=r.artifact_uri,
        flavor=r.flavor,
        serialization=r.serialization,
        model_type=r.model_type,
        manifest_sha256=r.manifest_sha256,
        status=r.status,
        code_sha256=r.code_sha256,
        data_versions=tuple(json.loads(r.data_versions or "[]")),
        trusted_types=tuple(json.loads(r.trusted_types or "[]")),
        aliases=tuple(sorted(a for a, v in now.items() if v == r.version)),
        manifest=json.loads(r.manifest),
        signature=json.loads(r.signature) if r.signature else None,
        model_sha256=r.model_sha256,
    )


def get(ctx: Context, spec: str) -> ModelVersion:
    """The version ``spec`` names (``name@3``, ``name@latest``, ``name@champion`` ...).

    Raises
    ------
    NotFound
        An unknown model, version or alias (the hint lists what exists).
    """
    with ctx.read() as conn:
        return _entity(conn, row(conn, spec))


def versions(ctx: Context, name: str | None = None) -> ModelTable:
    """Every registered version (of ``name``, if given), by name and newest version first."""
    t = model_versions
    q = sa.select(t).order_by(t.c.name, t.c.version.desc())
    if name is not None:
        q = q.where(t.c.name == validate_name(name, kind="model name"))
    with ctx.read() as conn:
        current: dict[str, dict[str, int]] = {}
        return ModelTable(tuple(_entity(conn, r, current) for r in conn.execute(q).all()))


def review_queue(ctx: Context, status: str | None = "pending", *, limit: int = 200) -> ModelTable:
    """Versions with review status ``status`` (``None``: every version), the most recently logged first.

    The default is what waits for a reviewer: the ``pending`` versions.
    """
    if status is not None and status not in REVIEW_STATUSES:
        raise InvalidInput(
            f"unknown review status {status!r}",
            value=str(status)[:40],
            field="status",
            hint="one of " + ", ".join(REVIEW_STATUSES),
        )
    if isinstance(limit, bool) or not 1 <= int(limit) <= 10_000:
        raise InvalidInput(f"limit must be between 1 and 10000, got {limit}", value=limit, field="limit")
    t = model_versions
    q = sa.select(t).order_by(t.c.created.desc(), t.c.name, t.c.version.desc()).limit(int(limit))
    if status is not None:
        q = q.where(t.c.status == status)
    with ctx.read() as conn:
        current: dict[str, dict[str, int]] = {}
        return ModelTable(tuple(_entity(conn, r, current) for r in conn.execute(q).all()))


def reviews(ctx: Context, spec: str) -> tuple[Review, ...]:
    """The review requests, approvals and rejections of a version, oldest first."""
    r = model_reviews
    with ctx.read() as conn:
        found = row(conn, spec)
        rows = conn.execute(sa.select(r).where(r.c.name == found.name, r.c.version == found.version).order_by(r.c.id)).all()
    return tuple(
        Review(x.name, x.version, x.action, x.actor, x.ts, x.text, x.status_before, x.status_after, x.audit_seq) for x in rows
    )


def alias_history(ctx: Context, name: str, alias: str | None = None) -> AliasHistory:
    """Every move of ``name``'s aliases (or of one alias, in lower case): who, when, from, to, approved by.

    Raises
    ------
    NotFound
        When no model is named ``name``.
    """
    name = validate_name(name, kind="model name")
    h = model_alias_history
    q = sa.select(h).where(h.c.name == name).order_by(h.c.id)
    if alias is not None:
        q = q.where(h.c.alias == validate_alias(alias))
    with ctx.read() as conn:
        if conn.execute(sa.select(model_versions.c.name).where(model_versions.c.name == name).limit(1)).first() is None:
            raise NotFound(
                f"no model named {name!r}", value=name, hint="`jupyter-mlops model list` shows the models", field="name"
            )
        rows = conn.execute(q).all()
    moves = tuple(
        AliasMove(r.name, r.alias, r.from_version, r.to_version, r.actor, r.ts, r.approved_by, r.audit_seq) for r in rows
    )
    return AliasHistory(name=name, alias=alias, moves=moves)


def version_by_content(ctx: Context, model_sha256: str, run_id: str | None) -> str | None:
    """The newest version with this model content hash logged in run ``run_id``, as ``"name@N"``.

    ``run_id=None``: logged by the acting identity outside any tracked run (in a ``log_model``
    run of its own).
    """
    from ..tracking.schema import runs

    t = model_versions
    q = sa.select(t.c.name, t.c.version).where(t.c.model_sha256 == model_sha256).order_by(t.c.created.desc()).limit(1)
    if run_id is not None:
        q = q.where(t.c.run_id == run_id)
    else:
        q = q.join(runs, runs.c.run_id == t.c.run_id).where(runs.c.kind == "log_model", t.c.author == ctx.actor)
    with ctx.read() as conn:
        found = conn.execute(q).first()
    return None if found is None else f"{found.name}@{found.version}"
