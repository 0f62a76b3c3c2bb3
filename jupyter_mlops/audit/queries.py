"""Read queries over the audit chain: the one place every front-end lists and verifies events.

``ws.audit_events``, ``mlops.audit.log``, ``jupyter-mlops audit log``, the audit dashboard and the
``/audit/events`` route all call :func:`events`; ``audit verify`` everywhere calls :func:`verify`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .chain import list_events, verify_chain

if TYPE_CHECKING:
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
    """Recompute the whole chain; the result names the first bad event, if any."""
    with ctx.read() as conn:
        return verify_chain(conn)
