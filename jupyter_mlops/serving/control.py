"""Deployment state in the workspace: the metadata database, the audit chain and lineage.

:class:`WorkspaceControl` is the gateway's :class:`~.runtime.control.Control` inside a
workspace. Every change is one transaction: the new state and revision, a
``deployment_changes`` row with the state before and after, the audit event, and a lineage edge
``model_version -> deployment`` for every model the change adds. A gateway polls the revision,
so a change made from the CLI (``jupyter-mlops serve stop``) reaches it within a second.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import Conflict, MlopsError, NotFound
from .runtime.control import State, summarize
from .schema import deployment_changes, deployments

if TYPE_CHECKING:
    from .context import ServingContext

__all__ = ["WorkspaceControl"]


def _models(state: State | None) -> dict[str, str]:
    if not state:
        return {}
    spec = state.get("spec") or {}
    out = {v["model"]: v.get("role", "stable") for v in spec.get("variants", [])}
    out.update({v["model"]: "shadow" for v in spec.get("shadow", [])})
    return out


class WorkspaceControl:
    """The state of deployment ``name`` in ``ctx``'s metadata database."""

    def __init__(self, ctx: ServingContext, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.actor = ctx.actor

    def exists(self) -> bool:
        with self.ctx.read() as conn:
            return conn.execute(sa.select(deployments.c.name).where(deployments.c.name == self.name)).first() is not None

    def load(self) -> State:
        with self.ctx.read() as conn:
            row = conn.execute(sa.select(deployments.c.state).where(deployments.c.name == self.name)).first()
        if row is None:
            raise NotFound(
                f"no deployment named {self.name!r}",
                value=self.name,
                hint="start one with `jupyter-mlops serve MODEL@VERSION` (or --config deployment.yaml)",
                field="deployment",
            )
        state: State = json.loads(row.state)
        return state

    def poll(self, revision: int) -> State | None:
        with self.ctx.read() as conn:
            row = conn.execute(
                sa.select(deployments.c.revision, deployments.c.state).where(deployments.c.name == self.name)
            ).first()
        if row is None or int(row.revision) <= revision:
            return None
        state: State = json.loads(row.state)
        return state

    def _write(self, conn: Any, action: str, before: State | None, after: State, payload: dict[str, Any]) -> None:
        ctx = self.ctx
        event = ctx.record(
            conn,
            action,
            "deployment",
            self.name,
            {**payload, "before": None if before is None else summarize(before), "after": summarize(after)},
        )
        text = json.dumps(after, sort_keys=True)
        if before is None:
            conn.execute(
                sa.insert(deployments).values(
                    name=self.name, revision=after["revision"], state=text, created=event.ts, updated=event.ts, actor=ctx.actor
                )
            )
        else:
            conn.execute(
                sa.update(deployments)
                .where(deployments.c.name == self.name)
                .values(revision=after["revision"], state=text, updated=event.ts, actor=ctx.actor)
            )
        conn.execute(
            sa.insert(deployment_changes).values(
                name=self.name,
                revision=after["revision"],
                action=action,
                actor=ctx.actor,
                ts=event.ts,
                before=None if before is None else json.dumps(before, sort_keys=True),
                after=text,
                audit_seq=event.seq,
            )
        )
        old = _models(before)
        for ref, role in _models(after).items():
            if old.get(ref) != role:
                ctx.link(
                    conn,
                    ("model_version", ref),
                    "deployed_to",
                    ("deployment", self.name),
                    {"role": role, "revision": after["revision"]},
                )

    def create(self, state: State, action: str = "deployment.create", payload: dict[str, Any] | None = None) -> State:
        """Write the first state of a new deployment."""
        with self.ctx.transaction() as conn:
            if conn.execute(sa.select(deployments.c.name).where(deployments.c.name == self.name)).first() is not None:
                raise Conflict(f"deployment {self.name!r} exists already", value=self.name)
            self._write(conn, action, None, state, payload or {})
        return state

    def update(self, action: str, change: Callable[[State], State], payload: dict[str, Any] | None = None) -> State:
        with self.ctx.transaction() as conn:
            row = conn.execute(sa.select(deployments.c.state).where(deployments.c.name == self.name)).first()
            if row is None:
                raise NotFound(f"no deployment named {self.name!r}", value=self.name, field="deployment")
            before: State = json.loads(row.state)
            after = change(copy.deepcopy(before))
            after["revision"] = int(before.get("revision", 0)) + 1
            self._write(conn, action, before, after, payload or {})
        return after

    def event(self, action: str, payload: dict[str, Any]) -> None:
        with self.ctx.transaction() as conn:
            self.ctx.record(conn, action, "deployment", self.name, payload)

    def promoted(self, ref: str, aliases: Sequence[str]) -> dict[str, Any]:
        """Move each alias to the promoted canary ``ref`` through the registry.

        The registry's own rules apply: the serving alias only goes to an approved version, the
        actor needs ``model.promote``, and each move is its own ``model.promote`` audit event and
        alias-history row. A refusal leaves that alias where it was and is reported, not raised:
        the canary's promotion in the deployment stands either way.
        """
        moved: list[str] = []
        not_moved: list[dict[str, str]] = []
        name = ref.partition("@")[0]
        for alias in aliases:
            try:
                self.ctx.models.promote(ref, alias)
            except Conflict as err:
                try:
                    there = self.ctx.models.get(f"{name}@{alias}").ref == ref
                except MlopsError:
                    there = False
                if there:  # it already named the canary
                    moved.append(alias)
                else:
                    not_moved.append({"alias": alias, "error": err.message})
            except MlopsError as err:
                not_moved.append({"alias": alias, "error": err.message})
            else:
                moved.append(alias)
        return {"moved": moved, "not_moved": not_moved}

    def changes(self, limit: int = 200) -> list[dict[str, Any]]:
        """The deployment's changes, newest first."""
        t = deployment_changes
        with self.ctx.read() as conn:
            rows = conn.execute(sa.select(t).where(t.c.name == self.name).order_by(t.c.id.desc()).limit(limit)).all()
        return [
            {
                "revision": r.revision,
                "action": r.action,
                "actor": r.actor,
                "ts": r.ts,
                "audit_seq": r.audit_seq,
                "after": summarize(json.loads(r.after)),
            }
            for r in rows
        ]
