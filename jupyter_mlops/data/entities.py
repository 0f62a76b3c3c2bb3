"""The data layer's entities: a version, a page of versions, a diff and a store verification.

They are what every front-end shows: frozen, serializable (``to_dict``) and rendered as HTML in
notebooks. Sensitive columns are already masked in the profiles they carry, so nothing rendered
here can leak a raw value of a column declared sensitive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from ..core.entities import Entity, escape

__all__ = ["MASK", "DataDiff", "DataSetSummary", "DataVerification", "DataVersion", "DataVersionList"]

from ..core.entities import MASK

_STATS = ("min", "max", "mean", "std")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _profile_rows(columns: list[dict[str, Any]]) -> str:
    rows = []
    for c in columns:
        if c.get("masked"):
            stats = f"<td colspan='5'><i>{MASK} sensitive: values masked</i></td>"
        else:
            top = ", ".join(f"{escape(v)} ({n})" for v, n in c.get("top") or [])
            stats = "".join(f"<td>{escape(_fmt(c.get(k)))}</td>" for k in _STATS) + f"<td>{top}</td>"
        distinct = ("~" if c.get("distinct_estimated") else "") + escape(c.get("distinct"))
        rows.append(
            f"<tr><td><b>{escape(c['name'])}</b></td><td><code>{escape(c.get('dtype'))}</code></td>"
            f"<td>{escape(c.get('nulls'))}</td><td>{distinct}</td>{stats}</tr>"
        )
    head = (
        "<tr><th>column</th><th>dtype</th><th>nulls</th><th>distinct</th>"
        + "".join(f"<th>{k}</th>" for k in _STATS)
        + "<th>top values</th></tr>"
    )
    return f"<table class='mlops-profile'>{head}{''.join(rows)}</table>"


@dataclasses.dataclass(frozen=True)
class DataVersion(Entity):
    """One immutable version of a named data set.

    Attributes
    ----------
    name, version:
        The data set name and its number (1, 2, ... per name); ``spec`` is ``"name@version"``.
    kind:
        ``frame``, ``series``, ``file`` or ``folder``.
    fingerprint, scheme:
        The full-content BLAKE3 fingerprint and the encoding scheme it was computed with.
    schema, schema_hash:
        Columns and dtypes (or file names and sizes) and the SHA-256 of their canonical JSON.
    n_rows, n_cols:
        Row and column counts (files: 0 rows; folders: the file count as rows).
    profile:
        Per-column statistics; sensitive columns carry only counts, never values.
    source:
        Where the data came from (file path, notebook, cell, run).
    object_id, size_bytes:
        The snapshot's SHA-256 object id in the workspace object store and its size.
    key, sensitive:
        Key columns (for row-level diffs) and columns declared sensitive.
    """

    name: str
    version: int
    kind: str
    fingerprint: str
    scheme: str
    schema: dict[str, Any]
    schema_hash: str
    n_rows: int
    n_cols: int
    profile: dict[str, Any]
    source: dict[str, Any]
    object_id: str
    size_bytes: int
    creator: str
    created: str
    key: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    description: str | None = None

    @property
    def spec(self) -> str:
        """``"name@version"``, the reference ``load_data`` and ``diff_data`` accept."""
        return f"{self.name}@{self.version}"

    @property
    def location(self) -> str:
        """The snapshot's location in the workspace object store."""
        return f"mlops-object:{self.object_id}"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["spec"] = self.spec
        out["location"] = self.location
        return out

    def __str__(self) -> str:
        return (
            f"{self.spec}  {self.kind}  {self.n_rows} rows x {self.n_cols} cols  "
            f"fingerprint {self.fingerprint[:16]}  by {self.creator} at {self.created[:19]}"
        )

    def _repr_html_(self) -> str:
        sens = (
            f"<div style='color:#9a6700'>sensitive (masked): {escape(', '.join(self.sensitive))}</div>" if self.sensitive else ""
        )
        desc = f"<div>{escape(self.description)}</div>" if self.description else ""
        cols = self.profile.get("columns") or []
        table = _profile_rows(cols) if cols else ""
        files = ""
        if self.kind == "folder":
            items = "".join(
                f"<li><code>{escape(f['path'])}</code> ({escape(f['size'])} bytes)</li>"
                for f in self.schema.get("files", [])[:50]
            )
            files = f"<ul>{items}</ul>"
        return (
            f"<div class='mlops-data-version'><b>{escape(self.spec)}</b> <small>{escape(self.kind)}</small> "
            f"&middot; {escape(self.n_rows)} rows &times; {escape(self.n_cols)} columns &middot; "
            f"<code title='{escape(self.fingerprint)}'>{escape(self.fingerprint[:16])}</code> ({escape(self.scheme)}) "
            f"&middot; by {escape(self.creator)} at {escape(self.created[:19])}{desc}{sens}{table}{files}</div>"
        )


@dataclasses.dataclass(frozen=True)
class DataSetSummary(Entity):
    """A data set name and how many versions it has."""

    name: str
    n_versions: int


@dataclasses.dataclass(frozen=True)
class DataVersionList(Entity):
    """A list of data versions, newest first."""

    versions: tuple[DataVersion, ...]

    def __len__(self) -> int:
        return len(self.versions)

    def __iter__(self) -> Iterator[DataVersion]:
        return iter(self.versions)

    def __getitem__(self, i: int) -> DataVersion:
        return self.versions[i]

    def __str__(self) -> str:
        return "\n".join(str(v) for v in self.versions) or "no data versions"

    def _repr_html_(self) -> str:
        head = (
            "<tr>"
            + "".join(
                f"<th>{h}</th>" for h in ("version", "kind", "rows", "cols", "fingerprint", "creator", "created", "sensitive")
            )
            + "</tr>"
        )
        body = "".join(
            f"<tr><td><b>{escape(v.spec)}</b></td><td>{escape(v.kind)}</td><td>{escape(v.n_rows)}</td><td>{escape(v.n_cols)}</td>"
            f"<td><code>{escape(v.fingerprint[:16])}</code></td><td>{escape(v.creator)}</td><td>{escape(v.created[:19])}</td>"
            f"<td>{escape(', '.join(v.sensitive))}</td></tr>"
            for v in self.versions
        )
        return f"<table class='mlops-data-versions'>{head}{body}</table>"


@dataclasses.dataclass(frozen=True)
class DataDiff(Entity):
    """What changed between two data versions.

    ``profile_changes`` maps a column to ``{stat: [before, after]}``; with a key, ``rows_added``,
    ``rows_removed`` and ``rows_changed`` count rows and ``changed_examples`` lists a few keys
    with the columns that changed (keys of a sensitive key column are masked).
    """

    a: str
    b: str
    same_content: bool
    rows: tuple[int, int]
    columns_added: tuple[str, ...] = ()
    columns_removed: tuple[str, ...] = ()
    dtype_changes: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    profile_changes: dict[str, dict[str, list[Any]]] = dataclasses.field(default_factory=dict)
    key: tuple[str, ...] = ()
    rows_added: int | None = None
    rows_removed: int | None = None
    rows_changed: int | None = None
    changed_columns: dict[str, int] = dataclasses.field(default_factory=dict)
    added_examples: tuple[Any, ...] = ()
    removed_examples: tuple[Any, ...] = ()
    changed_examples: tuple[dict[str, Any], ...] = ()

    @property
    def schema_changed(self) -> bool:
        return bool(self.columns_added or self.columns_removed or self.dtype_changes)

    def __str__(self) -> str:
        if self.same_content:
            return f"{self.a} and {self.b} hold the same content"
        lines = [f"{self.a} -> {self.b}: rows {self.rows[0]} -> {self.rows[1]}"]
        if self.columns_added:
            lines.append(f"  columns added: {', '.join(self.columns_added)}")
        if self.columns_removed:
            lines.append(f"  columns removed: {', '.join(self.columns_removed)}")
        for col, (x, y) in self.dtype_changes.items():
            lines.append(f"  dtype of {col}: {x} -> {y}")
        for col, stats in self.profile_changes.items():
            lines.append(f"  {col}: " + ", ".join(f"{k} {_fmt(x)} -> {_fmt(y)}" for k, (x, y) in stats.items()))
        if self.key:
            lines.append(
                f"  by key {', '.join(self.key)}: {self.rows_added} added, {self.rows_removed} removed, "
                f"{self.rows_changed} changed"
            )
            for ex in self.changed_examples:
                lines.append(f"    {ex['key']}: {', '.join(ex['columns'])}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if self.same_content:
            return f"<div><b>{escape(self.a)}</b> and <b>{escape(self.b)}</b> hold the same content</div>"
        parts = [
            f"<div class='mlops-data-diff'><b>{escape(self.a)}</b> &rarr; <b>{escape(self.b)}</b>: "
            f"rows {self.rows[0]} &rarr; {self.rows[1]}"
        ]
        if self.schema_changed:
            items = [f"<li style='color:#1a7f37'>+ {escape(c)}</li>" for c in self.columns_added]
            items += [f"<li style='color:#cf222e'>&minus; {escape(c)}</li>" for c in self.columns_removed]
            items += [
                f"<li>{escape(c)}: <code>{escape(x)}</code> &rarr; <code>{escape(y)}</code></li>"
                for c, (x, y) in self.dtype_changes.items()
            ]
            parts.append(f"<div>Schema changes<ul>{''.join(items)}</ul></div>")
        if self.profile_changes:
            rows = "".join(
                f"<tr><td>{escape(col)}</td><td>{escape(k)}</td><td>{escape(_fmt(x))}</td><td>{escape(_fmt(y))}</td></tr>"
                for col, stats in self.profile_changes.items()
                for k, (x, y) in stats.items()
            )
            parts.append(f"<table><tr><th>column</th><th>statistic</th><th>before</th><th>after</th></tr>{rows}</table>")
        if self.key:
            parts.append(
                f"<div>By key <code>{escape(', '.join(self.key))}</code>: <b>{self.rows_added}</b> added, "
                f"<b>{self.rows_removed}</b> removed, <b>{self.rows_changed}</b> changed</div>"
            )
            if self.changed_examples:
                rows = "".join(
                    f"<tr><td><code>{escape(ex['key'])}</code></td><td>{escape(', '.join(ex['columns']))}</td></tr>"
                    for ex in self.changed_examples
                )
                parts.append(f"<table><tr><th>key</th><th>changed columns</th></tr>{rows}</table>")
        return "".join(parts) + "</div>"


@dataclasses.dataclass(frozen=True)
class DataVerification(Entity):
    """The result of re-hashing every object of the store and every object a version references."""

    checked: int
    missing: tuple[dict[str, str], ...] = ()
    corrupt: tuple[dict[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "ok": self.ok}

    def __str__(self) -> str:
        if self.ok:
            return f"all {self.checked} objects intact"
        lines = [f"{len(self.missing)} missing, {len(self.corrupt)} corrupt of {self.checked} objects"]
        lines += [f"  missing {m['object_id']} ({m.get('referenced_by', '')})" for m in self.missing]
        lines += [f"  corrupt {m['object_id']} ({m.get('referenced_by', '')})" for m in self.corrupt]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if self.ok:
            return f"<b style='color:#1a7f37'>&#10003; all {self.checked} objects intact</b>"
        items = "".join(
            f"<li>{state} <code>{escape(m['object_id'])}</code> {escape(m.get('referenced_by', ''))}</li>"
            for state, group in (("missing", self.missing), ("corrupt", self.corrupt))
            for m in group
        )
        return f"<b style='color:#cf222e'>&#10007; {len(self.missing)} missing, {len(self.corrupt)} corrupt</b><ul>{items}</ul>"
