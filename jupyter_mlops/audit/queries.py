"""Read queries over the audit chain: the one place every front-end lists and verifies events.

``ws.audit_events``, ``mlops.audit.log``, ``jupyter-mlops audit log``, the audit dashboard and the
``/audit/events`` route all call :func:`events`; ``audit verify`` everywhere calls :func:`verify`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .chain import list_events, verify_chain

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..core.context import Context
    from ..core.entities import AuditEvent, AuditVerification

__all__ = ["events", "verify"]


def events(
    ctx: Context,
    *,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 100,
    offset: int = 0,
    newest_first: bool = True,
) -> list[AuditEvent]:
    """Audit events matching every given filter, newest first unless ``newest_first=False``.

    Parameters
    ----------
    ctx
        The workspace context.
    actor, object_type, object_id
        Exact matches.
    action
        An action (``run.end``), or a prefix ending in ``*`` (``run.*``).
    since, until
        ISO 8601 times (inclusive).
    limit, offset
        The page (``limit`` at most 10,000).
    newest_first
        Order by sequence number, descending (default) or ascending.
    """
    with ctx.read() as conn:
        return list_events(
            conn,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
        )


def verify(ctx: Context) -> AuditVerification:
    """Recompute the whole chain against every signed checkpoint; the result names the first problem.

    Fails when an event was changed, deleted, inserted or reordered; when the chain is shorter
    than, or disagrees with, a checkpoint in the database, ``.mlops/audit/checkpoints.log`` or the
    witness folder; when a checkpoint's signature is bad or by an unknown key; when an approval,
    promotion or other checkpointed action has no checkpoint of its own; and when the log is
    empty while the workspace holds records.
    """
    from ..core.entities import AuditVerification
    from .checkpoints import live_checkpoints

    with ctx.read() as conn:
        sizes, problem = live_checkpoints(conn, ctx.settings)
        if problem is not None:
            return AuditVerification(False, 0, None, problem)
        result = verify_chain(conn, sizes)
        if result.ok and not result.checked:
            held = _records_without_events(conn)
            if held:
                return AuditVerification(False, 0, 1, f"the audit log is empty but the workspace holds records ({held})")
        return result


def _records_without_events(conn: Connection) -> str | None:
    """The first metadata table (other than the audit chain's) that holds a row, if any."""
    import sqlalchemy as sa

    for name in sorted(sa.inspect(conn).get_table_names()):
        if name.startswith("audit_") or name == "schema_versions":
            continue
        if conn.execute(sa.select(sa.literal(1)).select_from(sa.table(name)).limit(1)).first() is not None:
            return name
    return None
