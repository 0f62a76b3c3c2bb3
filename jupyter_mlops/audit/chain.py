"""The hash chain: append inside the caller's transaction, verify from the first event on.

Each event's hash covers its sequence number, time, actor, action, object and payload and the
previous event's hash, in canonical JSON. A one-row ``audit_head`` table holds the last sequence
number and hash, updated in the same transaction, so deleting events from the end is detected as
well as changing, deleting or reordering events in the middle. Signed checkpoints
(``audit_checkpoints``: a sequence number, its hash and an Ed25519 signature) extend this to
offline verification by a third party.

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
from ..core.hashing import canonical_json, sha256_text
from ..errors import InvalidInput
from ..store.metadata import WRITE_LOCK, SchemaComponent, create_tables

__all__ = ["GENESIS_HASH", "SCHEMA", "append", "event_hash", "iter_events", "list_events", "verify_chain"]

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
)

SCHEMA = SchemaComponent("audit", [create_tables(metadata)])


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def event_hash(
    seq: int, ts: str, actor: str, action: str, object_type: str, object_id: str, payload_json: str, prev_hash: str
) -> str:
    """SHA-256 over the canonical JSON of an event's fields (the payload as stored text)."""
    return sha256_text(
        canonical_json(
            {
                "seq": seq,
                "ts": ts,
                "actor": actor,
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "payload": payload_json,
                "prev_hash": prev_hash,
            }
        )
    )


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


def _to_event(row: Any) -> AuditEvent:
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = {"_unparseable": row.payload}
    return AuditEvent(row.seq, row.ts, row.actor, row.action, row.object_type, row.object_id, payload, row.prev_hash, row.hash)


def iter_events(conn: Connection, *, batch: int = 5000) -> Iterator[Any]:
    """Every stored row in sequence order, in batches (raw rows, for verification)."""
    last = 0
    while True:
        rows = conn.execute(
            sa.select(audit_events).where(audit_events.c.seq > last).order_by(audit_events.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain(conn: Connection) -> AuditVerification:
    """Recompute every hash; report the first event that was changed, deleted or reordered."""
    expected_seq = 1
    prev = GENESIS_HASH
    checked = 0
    for row in iter_events(conn):
        if row.seq != expected_seq:
            return AuditVerification(
                False, checked, expected_seq, f"event #{expected_seq} is missing (next stored is #{row.seq})"
            )
        if row.prev_hash != prev:
            return AuditVerification(
                False, checked, row.seq, f"event #{row.seq} does not follow event #{row.seq - 1} (reordered or replaced)"
            )
        digest = event_hash(row.seq, row.ts, row.actor, row.action, row.object_type, row.object_id, row.payload, row.prev_hash)
        if digest != row.hash:
            return AuditVerification(False, checked, row.seq, f"event #{row.seq} was modified after it was written")
        prev = row.hash
        checked += 1
        expected_seq += 1
    head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    last_seq = expected_seq - 1
    if head is not None and (head.seq != last_seq or head.hash != prev):
        return AuditVerification(
            False, checked, last_seq + 1, f"events after #{last_seq} were deleted (the chain head says #{head.seq})"
        )
    if head is None and checked:
        return AuditVerification(False, checked, None, "the chain head record is missing")
    return AuditVerification(True, checked, None, None, last_seq or None, prev if checked else None)


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
    return [_to_event(r) for r in conn.execute(q)]
