"""Where a gateway keeps its deployment state and records what changed it.

The state is plain JSON: the deployment spec (variants with weights and roles, shadows, sticky
header, analysis), whether the stop switch is on (who, when, why), the variants an operator
disabled, and the canary's failed windows. Every change goes through :meth:`Control.update`,
which applies a function to the current state and records the change with its state before and
after; events without a state change (alerts) go through :meth:`Control.event`.

Two implementations: :class:`FileControl` here, for a packaged container (a ``state.json`` and
an append-only, hash-linked ``events.jsonl`` in its state folder), and
:class:`~jupyter_mlops.serving.control.WorkspaceControl`, which keeps the state in the
workspace's metadata database and every change in its audit chain.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from .spec import DeploymentSpec

__all__ = ["Control", "FileControl", "initial_state"]

State = dict[str, Any]


def initial_state(spec: DeploymentSpec) -> State:
    """The state of a deployment that was just declared."""
    return {
        "revision": 1,
        "spec": spec.to_dict(),
        "stopped": False,
        "stop": None,
        "disabled": [],
        "canary": {"failures": 0, "windows": 0},
    }


class Control(Protocol):
    """What a gateway needs from whoever keeps its state."""

    actor: str

    def load(self) -> State:
        """The current state."""

    def update(self, action: str, change: Callable[[State], State], payload: dict[str, Any] | None = None) -> State:
        """Apply ``change`` to the current state atomically and record ``action`` with before/after."""

    def event(self, action: str, payload: dict[str, Any]) -> None:
        """Record an event that changes no state (an alert, a cleared alert)."""

    def poll(self, revision: int) -> State | None:
        """The state if its revision is newer than ``revision``, else ``None``."""

    def promoted(self, ref: str, aliases: Sequence[str]) -> dict[str, Any]:
        """A canary ``ref`` was promoted: point the registry ``aliases`` of the variants it replaced at it.

        Returns ``{"moved": [alias, ...], "not_moved": [{"alias": ..., "error": ...}, ...]}``.
        """


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def summarize(state: State) -> dict[str, Any]:
    """The parts of a state an audit event shows as before/after."""
    spec = state.get("spec") or {}
    return {
        "revision": state.get("revision"),
        "variants": [{k: v.get(k) for k in ("model", "weight", "role")} for v in spec.get("variants", [])],
        "shadow": [v.get("model") for v in spec.get("shadow", [])],
        "stopped": bool(state.get("stopped")),
        "disabled": list(state.get("disabled") or []),
    }


class FileControl:
    """State in ``state.json``, events in a hash-linked ``events.jsonl`` (container mode)."""

    def __init__(self, folder: str | Path, spec: DeploymentSpec, *, actor: str = "gateway") -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.actor = actor
        self._lock = threading.Lock()
        self._state_path = self.folder / "state.json"
        self._events_path = self.folder / "events.jsonl"
        if self._state_path.is_file():
            self._state: State = json.loads(self._state_path.read_text(encoding="utf-8"))
        else:
            self._state = initial_state(spec)
            self._save()
            self.event("deployment.create", {"after": summarize(self._state)})

    def _save(self) -> None:
        tmp = self._state_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._state, fh, sort_keys=True, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._state_path)

    def _last_hash(self) -> str:
        if not self._events_path.is_file():
            return "0" * 64
        last = ""
        with open(self._events_path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    last = line
        return str(json.loads(last)["sha256"]) if last else "0" * 64

    def load(self) -> State:
        with self._lock:
            return copy.deepcopy(self._state)

    def update(self, action: str, change: Callable[[State], State], payload: dict[str, Any] | None = None) -> State:
        with self._lock:
            before = copy.deepcopy(self._state)
            after = change(copy.deepcopy(self._state))
            after["revision"] = int(before.get("revision", 0)) + 1
            self._state = after
            self._save()
            self._append(action, {**(payload or {}), "before": summarize(before), "after": summarize(after)})
            return copy.deepcopy(after)

    def event(self, action: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self._append(action, payload)

    def _append(self, action: str, payload: dict[str, Any]) -> None:
        body = {"ts": _now(), "actor": self.actor, "action": action, "payload": payload, "prev_sha256": self._last_hash()}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        body["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        fd = os.open(self._events_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def poll(self, revision: int) -> State | None:
        with self._lock:
            return copy.deepcopy(self._state) if int(self._state.get("revision", 0)) > revision else None

    def promoted(self, ref: str, aliases: Sequence[str]) -> dict[str, Any]:
        """A packaged gateway has no registry: the aliases stay where they are (and the result says so)."""
        why = "a packaged gateway has no registry; move the alias from the workspace (jupyter-mlops model promote)"
        return {"moved": [], "not_moved": [{"alias": a, "error": why} for a in aliases]}

    def events(self) -> list[dict[str, Any]]:
        """Every event recorded in the state folder, oldest first."""
        if not self._events_path.is_file():
            return []
        with open(self._events_path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
