"""Runs nobody will ever close: found cheaply, closed KILLED, audited as ``run.reaped``.

Every process that starts a run first registers itself once in ``run_owners`` (host, boot id, PID
namespace, PID, process start time; see :mod:`jupyter_mlops.core.process` for why an owner record
and not a heartbeat lease). The registration commits *before* the MLflow run is created, and the
run carries its owner's id as the ``mlops.owner`` tag, so even a run killed in the instant between
its creation in MLflow and its first row here can be found again.

Any later open of the workspace and every listing calls :func:`dead_owners` (one indexed query
on the open owners and one ``/proc`` read each, no MLflow import) and, only when an owner is gone,
:func:`reap`: each RUNNING run of that owner (from our ``runs`` table and from MLflow by tag) gets
MLflow status KILLED with an end time of its last sign of life (the latest of its start, its
metrics' timestamps and its owner's last recorded write), its row is closed, and a ``run.reaped``
audit event names the reason. Pipelines close their own rows through the ``extra`` hook in the
same transaction. A read-only workspace is never reaped (nothing may be written).

A process that exits normally closes the runs it left open (KILLED, "the process exited while the
run was open") and its owner row at exit.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.entities import Entity, escape
from ..core.process import ProcessIdentity, process_state
from ..errors import MlopsError
from .schema import run_owners, runs

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..core.context import Context
    from .runs import ActiveRun

__all__ = [
    "Reaped",
    "RunAbandoned",
    "close_children",
    "dead_owners",
    "ensure_owner",
    "owner_identity",
    "add_reaper",
    "reap",
    "reap_stale",
    "touch",
]

log = logging.getLogger("jupyter_mlops.liveness")

#: ``reap(..., extra=...)`` hooks: ``fn(ctx, conn, owner_row, reason) -> [Reaped, ...]`` inside the reap transaction.
ExtraReaper = Callable[["Context", "Connection", Any, str], list["Reaped"]]


class RunAbandoned(Exception):
    """The process that owned a run ended (or its kernel died) while the run was open."""


@dataclasses.dataclass(frozen=True)
class Reaped(Entity):
    """A run or pipeline run closed because its owner is gone."""

    kind: str
    run_id: str
    name: str
    status: str
    reason: str
    ended: str
    seq: int | None = None

    def __str__(self) -> str:
        what = "pipeline run" if self.kind == "pipeline_run" else "run"
        return f"{what} {self.run_id} ({self.name}) marked {self.status}: {self.reason}; last sign of life {self.ended[:19]}"

    def _repr_html_(self) -> str:
        return f"<div>{escape(str(self))}</div>"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _ms(iso: str | None) -> int:
    if not iso:
        return 0
    try:
        return int(datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="microseconds")


# -- owners -------------------------------------------------------------------------------------
_lock = threading.Lock()
_owners: dict[tuple[str, int], tuple[str, Context]] = {}
_open: dict[str, set[ActiveRun]] = {}
_exit_hook = False


def ensure_owner(ctx: Context) -> str:
    """This process's owner id in ``ctx``'s database, registered (one committed write) on first use.

    Raises
    ------
    WorkspaceReadOnly
        On a read-only workspace: nothing that starts a run may go on (not even in MLflow).
    """
    if ctx.read_only:
        from ..store.metadata import readonly_error, sqlite_path

        raise readonly_error(sqlite_path(ctx.settings.metadata_url) or ctx.settings.metadata_url)
    key = (ctx.settings.metadata_url, os.getpid())
    hit = _owners.get(key)
    if hit is not None:
        return hit[0]
    global _exit_hook
    with _lock:
        hit = _owners.get(key)
        if hit is not None:
            return hit[0]
        me = ProcessIdentity.current()
        owner_id = uuid.uuid4().hex
        ts = _now()
        with ctx.transaction() as conn:
            conn.execute(
                sa.insert(run_owners).values(
                    owner_id=owner_id,
                    host=me.host[:256],
                    boot_id=me.boot_id[:64],
                    pid_namespace=me.pid_namespace[:64],
                    pid=me.pid,
                    pid_start=me.start[:64],
                    actor=ctx.actor,
                    registered=ts,
                    last_seen=ts,
                )
            )
        _owners[key] = (owner_id, ctx)
        if not _exit_hook:
            atexit.register(_at_exit)
            _exit_hook = True
        return owner_id


def _owner_id(ctx: Context) -> str | None:
    hit = _owners.get((ctx.settings.metadata_url, os.getpid()))
    return None if hit is None else hit[0]


def touch(ctx: Context, conn: Connection, *, besides: ActiveRun | None = None) -> None:
    """Record a sign of life of this process inside ``conn``'s transaction (no extra commit).

    Recorded only while this process has runs open other than ``besides``: a run's own start is
    already its sign of life, so the one that matters is what happened while an outer run (a
    pipeline, a stage, a run around %%track cells) was still open.
    """
    owner_id = _owner_id(ctx)
    if owner_id is None or not (_open.get(owner_id, set()) - {besides}):
        return
    conn.execute(sa.update(run_owners).where(run_owners.c.owner_id == owner_id).values(last_seen=_now()))


def track(run: ActiveRun, owner_id: str) -> None:
    """Remember an open run so that a normal exit of this process closes it."""
    with _lock:
        _open.setdefault(owner_id, set()).add(run)


def untrack(run: ActiveRun) -> None:
    with _lock:
        for runs_of in _open.values():
            runs_of.discard(run)


def owner_identity(row: Any) -> ProcessIdentity:
    """The :class:`ProcessIdentity` of a ``run_owners`` row."""
    return ProcessIdentity(
        host=row.host, pid=int(row.pid), start=row.pid_start, boot_id=row.boot_id, pid_namespace=row.pid_namespace
    )


def _at_exit() -> None:
    pid = os.getpid()
    for (_url, owner_pid), (owner_id, ctx) in list(_owners.items()):
        if owner_pid != pid:
            continue
        for run in list(_open.get(owner_id, ())):
            try:
                run.end(RunAbandoned("the process exited while the run was open"))
            except BaseException:  # noqa: S112 - nothing may stop the other runs from closing at exit
                continue
        try:
            with ctx.transaction() as conn:
                ts = _now()
                conn.execute(sa.update(run_owners).where(run_owners.c.owner_id == owner_id).values(closed=ts, last_seen=ts))
        except Exception:  # noqa: S110 - a later open reaps what this could not close
            pass


# -- finding and closing -------------------------------------------------------------------------
def dead_owners(ctx: Context) -> list[Any]:
    """Open owner rows whose process is certainly gone (cheap: one query, one ``/proc`` read each)."""
    with ctx.read() as conn:
        rows = conn.execute(sa.select(run_owners).where(run_owners.c.closed.is_(None))).all()
    return [r for r in rows if process_state(owner_identity(r)) == "dead"]


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _plan(
    ctx: Context, rows: dict[str, Any], found: dict[str, dict[str, Any]], reason: str, floor_ms: int
) -> list[tuple[str, str, int, dict[str, Any] | None, Any]]:
    """Close the runs in MLflow first (idempotent); returns what to record for each."""
    plan = []
    for run_id in sorted(rows.keys() | found.keys()):
        state = found.get(run_id) or ctx.tracking.run_state(run_id)
        row = rows.get(run_id)
        last = max(floor_ms, _ms(row.started) if row is not None else 0, int((state or {}).get("last_activity_ms") or 0))
        last = min(last, int(datetime.now(UTC).timestamp() * 1000))
        status = "KILLED"
        if state is not None and state.get("status") == "RUNNING":
            ctx.tracking.terminate(run_id, "KILLED", last, tags={"mlops.error": f"reaped: {reason}"[:5000]})
        elif state is not None and state.get("status"):
            status = str(state["status"])  # MLflow closed it; only our end record was lost
        plan.append((run_id, status, last, state, row))
    return plan


def _record(
    ctx: Context,
    conn: Connection,
    plan: Sequence[tuple[str, str, int, dict[str, Any] | None, Any]],
    reason: str,
    payload: dict[str, Any],
) -> list[Reaped]:
    out: list[Reaped] = []
    for run_id, status, last, state, row in plan:
        current = conn.execute(sa.select(runs.c.status).where(runs.c.run_id == run_id)).scalar()
        if current is not None and current != "RUNNING":
            continue  # closed meanwhile (by its owner, or by another reaper)
        ended = _iso(last)
        if row is not None and str(row.started) > ended:
            ended = str(row.started)  # MLflow keeps milliseconds: never end before the recorded start
        error = f"RunAbandoned: {reason}"[:2000]
        event = ctx.record(
            conn, "run.reaped", "run", run_id, {"reason": reason, "status": status, "last_sign_of_life": ended, **payload}
        )
        if current is None:
            tags = (state or {}).get("tags") or {}
            conn.execute(
                sa.insert(runs).values(
                    run_id=run_id,
                    experiment=ctx.tracking.experiment_name((state or {}).get("experiment_id") or ""),
                    experiment_id=str((state or {}).get("experiment_id") or ""),
                    name=str((state or {}).get("name") or "run")[:256],
                    actor=str(tags.get("mlops.actor") or tags.get("mlflow.user") or "unknown")[:256],
                    status=status,
                    started=_iso(int((state or {}).get("start_time") or last)),
                    ended=ended,
                    notebook=tags.get("mlops.notebook"),
                    cell_id=tags.get("mlops.cell_id"),
                    source_sha256=tags.get("mlops.source_sha256"),
                    parent_run_id=tags.get("mlflow.parentRunId"),
                    kind=str(tags.get("mlops.kind") or "run")[:32],
                    error=error,
                    end_seq=event.seq,
                    owner_id=tags.get("mlops.owner"),
                )
            )
            name = str((state or {}).get("name") or "run")
        else:
            conn.execute(
                sa.update(runs).where(runs.c.run_id == run_id).values(status=status, ended=ended, error=error, end_seq=event.seq)
            )
            name = str(row.name if row is not None else "run")
        out.append(Reaped("run", run_id, name, status, reason, ended, event.seq))
    return out


_extra_reapers: dict[str, ExtraReaper] = {}


def add_reaper(name: str, hook: ExtraReaper) -> None:
    """Have :func:`reap_stale` close ``hook``'s records of a dead owner too, in the same transaction.

    The composition root adds the pipelines' hook (their ``pipeline_runs`` rows) when a workspace opens.
    """
    _extra_reapers[name] = hook


def reap_stale(ctx: Context) -> tuple[Reaped, ...]:
    """Close the runs (and, through the added hooks, pipeline runs) whose owner process is gone.

    Each gets status KILLED (in MLflow too), an end time of its last sign of life and a
    ``run.reaped`` audit event naming the reason. Cheap when nothing is stale (one query, no
    MLflow import); a read-only workspace is never changed.
    """
    if ctx.read_only:
        return ()
    dead = dead_owners(ctx)
    if not dead:
        return ()
    return tuple(reap(ctx, dead, extra=tuple(_extra_reapers.values())))


def reap(ctx: Context, dead: Iterable[Any], *, extra: Sequence[ExtraReaper] = ()) -> list[Reaped]:
    """Close everything the ``dead`` owners left RUNNING, audit it, and close the owners."""
    out: list[Reaped] = []
    for owner in dead:
        who = owner_identity(owner)
        reason = f"its owner, {who} (started by {owner.actor}), ended without closing it"
        with ctx.read() as conn:
            rows = {
                r.run_id: r
                for r in conn.execute(sa.select(runs).where(runs.c.owner_id == owner.owner_id, runs.c.status == "RUNNING"))
            }
        found = {r["run_id"]: r for r in ctx.tracking.open_runs(f"tags.`mlops.owner` = '{_quote(owner.owner_id)}'")}
        plan = _plan(ctx, rows, found, reason, _ms(owner.last_seen))
        payload = {"owner": {**who.to_dict(), "actor": owner.actor, "owner_id": owner.owner_id}}
        with ctx.transaction() as conn:
            closed = conn.execute(sa.select(run_owners.c.closed).where(run_owners.c.owner_id == owner.owner_id)).first()
            if closed is None or closed[0] is not None:
                continue  # another process reaped this owner meanwhile
            out.extend(_record(ctx, conn, plan, reason, payload))
            for hook in extra:
                out.extend(hook(ctx, conn, owner, reason))
            conn.execute(sa.update(run_owners).where(run_owners.c.owner_id == owner.owner_id).values(closed=_now()))
    return out


def close_children(ctx: Context, parent_run_id: str, reason: str, *, search_mlflow: bool = True) -> list[Reaped]:
    """Close every run still RUNNING below ``parent_run_id`` (its kernel is gone), audited as ``run.reaped``."""
    rows: dict[str, Any] = {}
    found: dict[str, dict[str, Any]] = {}
    frontier = [parent_run_id]
    while frontier and len(rows) + len(found) < 10_000:
        with ctx.read() as conn:
            batch = {
                r.run_id: r
                for r in conn.execute(sa.select(runs).where(runs.c.parent_run_id.in_(frontier), runs.c.status == "RUNNING"))
            }
        more: dict[str, dict[str, Any]] = {}
        if search_mlflow:
            for parent in frontier:
                more.update({r["run_id"]: r for r in ctx.tracking.open_runs(f"tags.`mlflow.parentRunId` = '{_quote(parent)}'")})
        new = [i for i in batch.keys() | more.keys() if i not in rows and i not in found]
        rows.update(batch)
        found.update(more)
        frontier = new
    if not rows and not found:
        return []
    try:
        plan = _plan(ctx, rows, found, reason, 0)
    except MlopsError as err:
        log.warning("jupyter-mlops: could not close the runs left open below %s: %s", parent_run_id, err)
        return []
    with ctx.transaction() as conn:
        return _record(ctx, conn, plan, reason, {"parent_run_id": parent_run_id})
