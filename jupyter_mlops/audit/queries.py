"""Read queries over the audit chain: the one place every front-end lists and verifies events.

``ws.audit_events``, ``mlops.audit.log``, ``jupyter-mlops audit log``, the audit dashboard and the
``/audit/events`` route all call :func:`events`; ``audit verify`` everywhere calls :func:`verify`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import InvalidInput
from .chain import list_events, verify_chain

if TYPE_CHECKING:
    from ..core.context import Context
    from ..core.entities import AuditEvent, AuditVerification

__all__ = ["events", "instant", "verify"]

#: The accepted form of ``since`` and ``until``, shown in every error.
INSTANT_FORM = "ISO 8601, e.g. 2026-12-01 or 2026-12-01T09:30+01:00"


def instant(value: str, *, field: str = "since") -> str:
    """An ISO 8601 date or time as the UTC timestamp text events are stored with.

    A date alone means its midnight in UTC; a time without a zone is read as UTC. Anything else
    (``yesterday``, ``12/01/2026``) raises :class:`~jupyter_mlops.errors.InvalidInput` naming the
    value and the accepted form, instead of quietly matching nothing.
    """
    text = str(value).strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise InvalidInput(
            f"{field} {text[:40]!r} is not a date or time", value=text[:40], field=field, hint=INSTANT_FORM
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds")


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
        ISO 8601 dates or times (inclusive), see :func:`instant`.
    limit, offset
        The page (``limit`` at most 10,000).
    newest_first
        Order by sequence number, descending (default) or ascending.
    """
    since = instant(since, field="since") if since else None
    until = instant(until, field="until") if until else None
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
