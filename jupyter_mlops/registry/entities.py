"""What the registry returns: model versions, reviews, alias moves and the tables that list them.

Every entity is a frozen dataclass with ``to_dict()`` for ``--json`` and REST, ``__str__`` for the
CLI and ``_repr_html_`` for notebooks; every user-written string goes through ``escape()``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..core.entities import Entity, escape

__all__ = ["AliasCheck", "AliasHistory", "AliasMove", "ModelTable", "ModelVersion", "Review"]

_STATUS_COLOURS = {"approved": "#1a7f37", "rejected": "#cf222e", "pending": "#9a6700", "none": "#57606a"}


def _status(status: str) -> str:
    return f"<span style='color:{_STATUS_COLOURS.get(status, '#57606a')}'>{escape(status)}</span>"


@dataclasses.dataclass(frozen=True)
class ModelVersion(Entity):
    """A registered model version as the registry recorded it.

    ``manifest`` maps each artifact file (relative path) to its ``sha256`` and ``size``;
    ``status`` is ``none``, ``pending``, ``approved`` or ``rejected``.
    """

    name: str
    version: int
    author: str
    created: str
    run_id: str
    model_uri: str
    model_id: str
    artifact_uri: str
    flavor: str
    serialization: str
    model_type: str
    manifest_sha256: str
    status: str = "none"
    code_sha256: str | None = None
    data_versions: tuple[str, ...] = ()
    trusted_types: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    manifest: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    signature: dict[str, Any] | None = None
    model_sha256: str | None = None

    @property
    def ref(self) -> str:
        """``name@version``: the id of this version in lineage, audit events and other services."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict, with ``ref`` (``name@version``) added."""
        return {"ref": self.ref, **super().to_dict()}

    def __str__(self) -> str:
        aliases = f" [{', '.join(self.aliases)}]" if self.aliases else ""
        return (
            f"{self.ref}{aliases} {self.model_type} by {self.author} at {self.created[:19]}, review: {self.status}, "
            f"run {self.run_id}, code {self.code_sha256 or 'unknown'}, data {', '.join(self.data_versions) or 'unknown'}, "
            f"{len(self.manifest)} files (manifest {self.manifest_sha256[:16]})"
        )

    def _repr_html_(self) -> str:
        files = "".join(
            f"<tr><td><code>{escape(path)}</code></td><td>{escape(entry.get('size'))}</td>"
            f"<td><code>{escape(str(entry.get('sha256'))[:16])}&hellip;</code></td></tr>"
            for path, entry in sorted(self.manifest.items())
        )
        rows = [
            ("type", escape(self.model_type)),
            ("author", escape(self.author)),
            ("logged", escape(self.created[:19])),
            ("review", _status(self.status)),
            ("aliases", escape(", ".join(self.aliases) or "none")),
            ("run", f"<code>{escape(self.run_id)}</code>"),
            ("code sha256", f"<code>{escape(self.code_sha256 or 'unknown')}</code>"),
            ("data versions", escape(", ".join(self.data_versions) or "unknown")),
            ("serialization", escape(self.serialization)),
        ]
        head = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return (
            f"<div class='mlops-model-version'><b>{escape(self.ref)}</b><table>{head}</table>"
            f"<details><summary>{len(self.manifest)} artifact files</summary><table>"
            f"<tr><th>file</th><th>bytes</th><th>sha256</th></tr>{files}</table></details></div>"
        )


@dataclasses.dataclass(frozen=True)
class Review(Entity):
    """One review step: ``request``, ``approve`` or ``reject``."""

    name: str
    version: int
    action: str
    actor: str
    ts: str
    text: str
    status_before: str
    status_after: str
    audit_seq: int

    def __str__(self) -> str:
        change = f"{self.status_before} -> {self.status_after}"
        return f"{self.name}@{self.version}: {self.action} by {self.actor} at {self.ts[:19]} ({change}) {self.text}"

    def _repr_html_(self) -> str:
        return (
            f"<div><b>{escape(self.name)}@{escape(self.version)}</b> {escape(self.action)} by <b>{escape(self.actor)}</b> "
            f"at {escape(self.ts[:19])}: {_status(self.status_after)} <i>{escape(self.text)}</i></div>"
        )


@dataclasses.dataclass(frozen=True)
class AliasMove(Entity):
    """One move of an alias: who pointed it from which version to which, when, on whose approval."""

    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    ts: str
    approved_by: str | None
    audit_seq: int

    def __str__(self) -> str:
        before = "-" if self.from_version is None else str(self.from_version)
        after = "-" if self.to_version is None else str(self.to_version)
        approved = self.approved_by or "nobody"
        return f"{self.ts[:19]} {self.name}@{self.alias}: {before} -> {after} by {self.actor} (approved by {approved})"


@dataclasses.dataclass(frozen=True)
class AliasHistory(Entity):
    """Every move of one model's aliases (or of one alias), oldest first."""

    name: str
    alias: str | None
    moves: tuple[AliasMove, ...]

    def __str__(self) -> str:
        return "\n".join(str(m) for m in self.moves) or f"no alias of {self.name} was ever set"

    def __len__(self) -> int:
        return len(self.moves)

    def _repr_html_(self) -> str:
        head = "<tr><th>when</th><th>alias</th><th>from</th><th>to</th><th>by</th><th>approved by</th></tr>"
        body = "".join(
            f"<tr><td>{escape(m.ts[:19])}</td><td>{escape(m.alias)}</td>"
            f"<td>{escape('-' if m.from_version is None else m.from_version)}</td>"
            f"<td>{escape('-' if m.to_version is None else m.to_version)}</td>"
            f"<td>{escape(m.actor)}</td><td>{escape(m.approved_by or '-')}</td></tr>"
            for m in self.moves
        )
        title = f"{self.name}@{self.alias}" if self.alias else self.name
        return f"<div><b>Alias history of {escape(title)}</b><table class='mlops-alias-history'>{head}{body}</table></div>"


@dataclasses.dataclass(frozen=True)
class ModelTable(Entity):
    """Registered model versions, newest first, shown as a table in notebooks."""

    versions: tuple[ModelVersion, ...]

    def __len__(self) -> int:
        return len(self.versions)

    def __iter__(self) -> Any:
        return iter(self.versions)

    def __str__(self) -> str:
        lines = [f"{'model':<32} {'version':>7}  {'author':<16} {'status':<9} aliases"]
        lines += [f"{v.name:<32} {v.version:>7}  {v.author:<16} {v.status:<9} {', '.join(v.aliases)}" for v in self.versions]
        return "\n".join(lines) if self.versions else "no models registered yet"

    def _repr_html_(self) -> str:
        head = "<tr><th>name</th><th>version</th><th>author</th><th>status</th><th>aliases</th><th>type</th><th>logged</th></tr>"
        body = "".join(
            f"<tr><td>{escape(v.name)}</td><td>{escape(v.version)}</td><td>{escape(v.author)}</td>"
            f"<td>{_status(v.status)}</td><td>{escape(', '.join(v.aliases))}</td><td>{escape(v.model_type)}</td>"
            f"<td>{escape(v.created[:19])}</td></tr>"
            for v in self.versions
        )
        return f"<table class='mlops-models'>{head}{body}</table>"


@dataclasses.dataclass(frozen=True)
class AliasCheck(Entity):
    """Aliases that are not in lower case (``jupyter-mlops model check-aliases``); empty when all is well.

    Each finding has ``model``, ``alias``, ``version``, ``where`` (``MLflow`` or ``alias history``),
    ``serving`` (whether its lower-case form is a serving alias) and ``fix``.
    """

    findings: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 7

    def __str__(self) -> str:
        if self.ok:
            return "aliases ok: every alias is in lower case"
        lines = [f"{len(self.findings)} alias(es) not in lower case (aliases are case-insensitive now):"]
        for f in self.findings:
            tag = " (a serving alias: it can dodge the approval rule)" if f.get("serving") else ""
            lines.append(f"  {f['model']}@{f['alias']} -> version {f['version']} in {f['where']}{tag}")
            lines.append(f"    fix: {f['fix']}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if self.ok:
            return "<div>aliases ok: every alias is in lower case</div>"
        rows = "".join(
            f"<tr><td>{escape(f['model'])}</td><td>{escape(f['alias'])}</td><td>{escape(f['version'])}</td>"
            f"<td>{escape(f['where'])}</td><td>{escape(f['fix'])}</td></tr>"
            for f in self.findings
        )
        return f"<table><tr><th>model</th><th>alias</th><th>version</th><th>where</th><th>fix</th></tr>{rows}</table>"
