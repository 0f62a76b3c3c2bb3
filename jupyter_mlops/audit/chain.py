"""The hash chain: append inside the caller's transaction, verify from the first event on.

Each event's hash covers its sequence number, time, actor, action, object and payload and the
previous event's hash, in canonical JSON. A one-row ``audit_head`` table holds the last sequence
number and hash, updated in the same transaction, so deleting events from the end is detected as
well as changing, deleting or reordering events in the middle. That alone cannot stop an insider
who rewrites the head too, or re-chains; signed checkpoints (``audit_checkpoints``, written by
:mod:`jupyter_mlops.audit.checkpoints` and kept outside the database too) do.

Concurrent writers never fork or lose the chain. On SQLite the write transaction started with
``BEGIN IMMEDIATE``, so only one appender runs at a time. On PostgreSQL :func:`append` takes
``pg_advisory_xact_lock`` before it reads the head (the store's write transactions take the same
key first, so there it is already held; taking it again is free). Why a lock and not
SERIALIZABLE with retry: the append runs inside the caller's transaction, after the caller's
own writes and often after work that cannot be repeated (an MLflow run started, an object
stored), so a serialization failure could only be retried by replaying the caller, which the chain
cannot do; the lock makes the second writer wait instead, and it never fails. ``SELECT ... FOR
UPDATE`` on the head row is not enough alone: before the first event there is no row to lock, and
two writers would both write event #1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..core.entities import AuditEvent, AuditVerification
from ..core.hashing import canonical_json
from ..errors import InvalidInput
from ..store.metadata import WRITE_LOCK, SchemaComponent, add_columns, create_tables
from . import verifier

__all__ = [
    "GENESIS_HASH",
    "SCHEMA",
    "append",
    "event_hash",
    "event_rows",
    "iter_events",
    "list_events",
    "to_event",
    "verify_chain",
]

GENESIS_HASH = "0" * 64

metadata = sa.MetaData()
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("action", sa.String(128), nullable=False, index=True),
    sa.Column("object_type", sa.String(64), nullable=False),
    sa.Column("object_id", sa.String(512), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_audit_object", "object_type", "object_id"),
)
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("signature", sa.String(256), nullable=False),
    sa.Column("note", sa.Text),  # the whole C2SP signed note (jupyter_mlops.audit.checkpoints)
)

SCHEMA = SchemaComponent("audit", [create_tables(metadata), add_columns(audit_checkpoints, "note")])
#: The fields of an event, as stored and as exported (the payload is its canonical JSON text).
EXPORT_FIELDS = ("seq", "ts", "actor", "action", "object_type", "object_id", "payload", "prev_hash", "hash")


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def event_hash(
    seq: int, ts: str, actor: str, action: str, object_type: str, object_id: str, payload_json: str, prev_hash: str
) -> str:
    """SHA-256 over the canonical JSON of an event's fields (the payload as stored text).

    The one definition is the standalone verifier's (:func:`jupyter_mlops.audit.verifier.event_hash`),
    which ships inside every export.
    """
    fields = {"seq": seq, "ts": ts, "actor": actor, "action": action, "object_type": object_type}
    return verifier.event_hash({**fields, "object_id": object_id, "payload": payload_json, "prev_hash": prev_hash})


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in ``conn``'s transaction (which must be a write transaction)."""
    if not actor:
        raise InvalidInput("an audit event needs an actor", field="actor")
    try:
        payload_json = canonical_json(payload or {})
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"audit payload for {action} is not JSON-serializable: {exc}", field="payload") from exc
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    ts = _utc_now()
    digest = event_hash(seq, ts, actor, action, object_type, object_id, payload_json, prev)
    conn.execute(
        sa.insert(audit_events).values(
            seq=seq,
            ts=ts,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            payload=payload_json,
            prev_hash=prev,
            hash=digest,
        )
    )
    if head:
        conn.execute(sa.update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
    else:
        conn.execute(sa.insert(audit_head).values(id=1, seq=seq, hash=digest))
    return AuditEvent(seq, ts, actor, action, object_type, object_id, payload or {}, prev, digest)


def to_event(row: Any) -> AuditEvent:
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = {"_unparseable": row.payload}
    return AuditEvent(row.seq, row.ts, row.actor, row.action, row.object_type, row.object_id, payload, row.prev_hash, row.hash)


def iter_events(conn: Connection, *, batch: int = 5000, start: int = 1, stop: int | None = None) -> Iterator[Any]:
    """Stored rows in sequence order from ``start`` to ``stop`` (inclusive), in batches (raw rows)."""
    last = start - 1
    while True:
        q = sa.select(audit_events).where(audit_events.c.seq > last)
        if stop is not None:
            q = q.where(audit_events.c.seq <= stop)
        rows = conn.execute(q.order_by(audit_events.c.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def event_rows(conn: Connection, *, start: int = 1, stop: int | None = None) -> Iterator[dict[str, Any]]:
    """Stored events as the plain dicts the verifier (and an export) uses, in sequence order."""
    for row in iter_events(conn, start=start, stop=stop):
        yield {c: getattr(row, c) for c in EXPORT_FIELDS}


def verify_chain(conn: Connection, checkpoints: dict[int, str]) -> AuditVerification:
    """Recompute every hash and compare with the signed ``checkpoints`` (tree size -> head hash).

    Reports the first event that was changed, deleted, inserted or reordered, a chain shorter
    than a checkpoint, and a checkpointed action (approval, promotion ...) without its checkpoint.
    """
    checked, prev, bad, reason = verifier.check_events(event_rows(conn), checkpoints, covered=False)
    if reason is not None:
        return AuditVerification(False, checked, bad, reason)
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    if head is not None and (head.seq != checked or head.hash != prev):
        return AuditVerification(
            False, checked, checked + 1, f"events after #{checked} were deleted (the chain head says #{head.seq})"
        )
    if head is None and checked:
        return AuditVerification(False, checked, None, "the chain head record is missing")
    return AuditVerification(True, checked, None, None, checked or None, prev if checked else None)


def list_events(
    conn: Connection,
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
    """Events matching every given filter (``action`` may end in ``*`` for a prefix)."""
    q = sa.select(audit_events)
    if actor:
        q = q.where(audit_events.c.actor == actor)
    if action:
        q = q.where(audit_events.c.action.like(action[:-1] + "%") if action.endswith("*") else audit_events.c.action == action)
    if object_type:
        q = q.where(audit_events.c.object_type == object_type)
    if object_id:
        q = q.where(audit_events.c.object_id == object_id)
    if since:
        q = q.where(audit_events.c.ts >= since)
    if until:
        q = q.where(audit_events.c.ts <= until)
    order = audit_events.c.seq.desc() if newest_first else audit_events.c.seq.asc()
    q = q.order_by(order).limit(max(1, min(int(limit), 10_000))).offset(max(0, int(offset)))
    return [to_event(r) for r in conn.execute(q)]
