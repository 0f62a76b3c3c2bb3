"""Entities: frozen dataclasses that travel through the API, REST payloads, the audit log and cards.

Every entity has ``to_dict()`` (JSON-safe) and ``from_dict()``; the same objects appear in every
front-end. Entities here are the foundation's; capability packages define their own with the same
:class:`Entity` base.
"""

from __future__ import annotations

import dataclasses
import html
from datetime import datetime
from typing import Any, ClassVar, TypeVar

__all__ = ["MASK", "AuditEvent", "AuditVerification", "Entity", "RunInfo", "escape"]

#: What every front-end shows instead of a value of a sensitive column.
MASK = "***"

E = TypeVar("E", bound="Entity")


def escape(value: Any) -> str:
    """HTML-escape any value for display: user text is always shown as text."""
    return html.escape(str(value), quote=True)


@dataclasses.dataclass(frozen=True)
class Entity:
    """Base of frozen, serializable entities."""

    _datetime_fields: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (datetimes as ISO 8601 strings)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Entity):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = [v.to_dict() if isinstance(v, Entity) else v for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls: type[E], data: dict[str, Any]) -> E:
        """Rebuild the entity from :meth:`to_dict` output (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for key in cls._datetime_fields:
            if isinstance(kwargs.get(key), str):
                kwargs[key] = datetime.fromisoformat(kwargs[key])
        for f in dataclasses.fields(cls):
            if f.name in kwargs and isinstance(kwargs[f.name], list):
                kwargs[f.name] = tuple(kwargs[f.name])
        return cls(**kwargs)


@dataclasses.dataclass(frozen=True)
class AuditEvent(Entity):
    """One link of the audit hash chain.

    ``hash`` is SHA-256 over the canonical JSON of every other field, ``prev_hash`` is the hash
    of the event before (64 zeros for the first), so changing, deleting or reordering any event
    breaks verification from that event on.
    """

    seq: int
    ts: str
    actor: str
    action: str
    object_type: str
    object_id: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def _repr_html_(self) -> str:
        return (
            f"<code>#{self.seq}</code> {escape(self.ts)} <b>{escape(self.actor)}</b> "
            f"{escape(self.action)} {escape(self.object_type)}:{escape(self.object_id)}"
        )


@dataclasses.dataclass(frozen=True)
class AuditVerification(Entity):
    """The result of recomputing the audit chain."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    def _repr_html_(self) -> str:
        if self.ok:
            return f"<b style='color:#1a7f37'>&#10003; audit chain intact</b> ({self.checked} events)"
        return f"<b style='color:#cf222e'>&#10007; audit chain broken at event #{self.first_bad_seq}</b>: {escape(self.reason)}"


@dataclasses.dataclass(frozen=True)
class RunInfo(Entity):
    """A tracked run: the row every front-end shows (built by :mod:`jupyter_mlops.tracking.queries`).

    ``started`` and ``ended`` are ISO 8601 UTC times and ``duration_s`` the seconds between them,
    from the tracking store when it knows the run (what the MLflow UI shows too), else from the
    run's record; ``params``, ``metrics`` and ``tags`` (user tags only) come from the store.
    """

    run_id: str
    experiment: str
    name: str
    actor: str
    status: str
    started: str
    ended: str | None = None
    notebook: str | None = None
    cell_id: str | None = None
    source_sha256: str | None = None
    parent_run_id: str | None = None
    error: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    audit_seqs: tuple[int, ...] = ()
    experiment_id: str = ""
    duration_s: float | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)

    def _repr_html_(self) -> str:
        colour = {"FINISHED": "#1a7f37", "FAILED": "#cf222e", "KILLED": "#9a6700"}.get(self.status, "#555")
        return (
            f"<div><b>{escape(self.name)}</b> <code>{escape(self.run_id)}</code> "
            f"<span style='color:{colour}'>{escape(self.status)}</span> "
            f"in {escape(self.experiment)} by {escape(self.actor)}</div>"
        )
