"""Read queries over the audit chain: the one place every front-end lists and verifies events.

``ws.audit_events``, ``mlops.audit.log``, ``jupyter-mlops audit log``, the audit dashboard and the
``/audit/events`` route all call :func:`events`; ``audit verify`` everywhere calls :func:`verify`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from ..errors import InvalidInput
from .chain import list_events, verify_chain

if TYPE_CHECKING:
    from ..core.context import Context
    from ..core.entities import AuditEvent, AuditVerification

__all__ = ["events", "parse_time", "verify"]


_RELATIVE = re.compile(r"^(\d{1,5})\s*(m|min|minutes?|h|hours?|d|days?|w|weeks?)(\s+ago)?$", re.IGNORECASE)
_TIME_HINT = (
    "write an ISO 8601 date or time (2026-01-31, 2026-01-31T09:00, 2026-01-31T09:00+01:00), "
    "or today, yesterday, now, or an age such as 30m, 12h, 7d, 2w"
)


def parse_time(text: str, *, field: str = "since", now: datetime | None = None) -> str:
    """A time a person typed as the ISO 8601 UTC text the audit trail stores (comparable with ``ts``).

    Accepts ISO 8601 dates and times (without a zone: the machine's local time), ``today``,
    ``yesterday``, ``now`` and ages (``30m``, ``12h``, ``7d``, ``2w``, ``3 days ago``). A bare date
    or ``today``/``yesterday`` means the start of that day for ``since`` and its end for ``until``.

    Raises
    ------
    InvalidInput
        Anything else, naming the text and the accepted forms.
    """
    raw = str(text).strip()
    word = raw.lower()
    now = now or datetime.now(UTC)
    local_now = now.astimezone()
    end_of_day = field == "until"
    when: datetime | None = None
    if word in ("today", "yesterday"):
        day = local_now.date() - timedelta(days=1 if word == "yesterday" else 0)
        when = datetime.combine(day, time.max if end_of_day else time.min).replace(tzinfo=local_now.tzinfo)
    elif word == "now":
        when = now
    elif m := _RELATIVE.match(word):
        unit = m.group(2)[0]
        n = int(m.group(1))
        when = now - {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
    else:
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                day = date.fromisoformat(raw)
                when = datetime.combine(day, time.max if end_of_day else time.min).astimezone()
            else:
                when = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T", 1))
        except ValueError:
            when = None
    if when is None:
        raise InvalidInput(f"cannot read {raw!r} as a time for {field}", value=raw[:80], hint=_TIME_HINT, field=field)
    if when.tzinfo is None:
        when = when.astimezone()
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
        Times (inclusive), read by :func:`parse_time`: ISO 8601, ``today``, ``yesterday``, ``7d`` ...
    limit, offset
        The page (``limit`` at most 10,000).
    newest_first
        Order by sequence number, descending (default) or ascending.
    """
    since = parse_time(since, field="since") if since else None
    until = parse_time(until, field="until") if until else None
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
