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
    from sqlalchemy.engine import Connection

    from ..core.context import Context
    from ..core.entities import AuditEvent, AuditVerification

__all__ = ["events", "parse_time", "verified_event", "verify"]


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
        if name.startswith(("audit_", "alembic_version")) or name == "schema_versions":
            continue
        if conn.execute(sa.select(sa.literal(1)).select_from(sa.table(name)).limit(1)).first() is not None:
            return name
    return None


def verified_event(ctx: Context, action: str, object_type: str, object_id: str) -> AuditEvent:
    """The one ``action`` event of an object, after proving it is what the signed chain recorded.

    Its hash is recomputed, and so is the chain from it up to the nearest signed checkpoint
    covering it (for checkpointed actions such as ``model.log``, its own), whose signature is
    checked: a rewritten event, re-chained or not, is refused. Cost: one event and a few rows.

    Raises
    ------
    IntegrityError
        No such event, more than one, or it does not match the signed chain.
    """
    import sqlalchemy as sa

    from ..errors import AuditChainBroken, IntegrityError
    from .chain import audit_events, event_rows, to_event
    from .checkpoints import live_checkpoints
    from .verifier import event_hash

    t = audit_events
    where = (t.c.action == action) & (t.c.object_type == object_type) & (t.c.object_id == object_id)
    with ctx.read() as conn:
        rows = conn.execute(sa.select(t).where(where).order_by(t.c.seq).limit(2)).all()
        if len(rows) != 1:
            what = "no" if not rows else "more than one"
            raise IntegrityError(
                f"the audit chain holds {what} {action} event for {object_id}",
                value=object_id,
                hint="the records of it were altered; check with `jupyter-mlops audit verify`",
            )
        row = rows[0]
        fields = {c: getattr(row, c) for c in ("seq", "ts", "actor", "action", "object_type", "object_id", "payload")}
        if event_hash({**fields, "prev_hash": row.prev_hash}) != row.hash:
            raise AuditChainBroken(f"audit event #{row.seq} ({action} {object_id}) was modified", value=object_id)
        sizes, problem = live_checkpoints(conn, ctx.settings)
        cover = min((size for size in sizes if size >= row.seq), default=None)
        if problem is None and not sizes and _made_before_checkpoints(conn):
            # A workspace from before signed checkpoints, not yet checkpointed: the hash chain is
            # all the evidence there is, so the whole chain must verify (as that release did).
            whole = verify_chain(conn, {})
            if not whole.ok:
                raise AuditChainBroken(f"the audit chain is broken: {whole.reason}", value=object_id)
            return to_event(row)
        if problem is not None or cover is None:
            raise AuditChainBroken(
                f"audit event #{row.seq} ({action} {object_id}) is covered by no valid signed checkpoint"
                + (f": {problem}" if problem else ""),
                value=object_id,
                hint="check with `jupyter-mlops audit verify`",
            )
        prev = row.hash
        for e in event_rows(conn, start=row.seq + 1, stop=cover):
            if e["prev_hash"] != prev or event_hash(e) != e["hash"]:
                raise AuditChainBroken(f"audit event #{e['seq']} was changed after #{row.seq} was written", value=object_id)
            prev = e["hash"]
        if prev != sizes[cover]:
            raise AuditChainBroken(
                f"audit event #{row.seq} ({action} {object_id}) disagrees with the signed checkpoint at tree size {cover}",
                value=object_id,
                hint="the audit chain was rewritten; do not trust this record",
            )
    return to_event(row)


def _made_before_checkpoints(conn: Connection) -> bool:
    """Whether the chain's ``workspace.init`` event commits to no signing key (a pre-checkpoint workspace)."""
    import sqlalchemy as sa

    from .chain import audit_events
    from .verifier import commits_to_key

    first = conn.execute(sa.select(audit_events.c.payload).where(audit_events.c.seq == 1)).scalar()
    return first is None or not commits_to_key({"payload": first})
