"""The model card entity and its sections, assembled from recorded facts only.

A card is evidence, so it is built from what the workspace recorded (registry, runs, data
versions, quality reports, evaluations, reviews), never from what someone types into a form.
The few sections a human must write (intended use, out-of-scope uses, ethical considerations,
caveats, and the regulatory statements) are kept apart as *written* sections and carried over
from one card version to the next. Whatever is neither recorded nor written reads ``"unknown"``.

Sections follow "Model Cards for Model Reporting" (Mitchell et al., 2019) and each one names the
points of Annex IV of the EU AI Act (Regulation (EU) 2024/1689, technical documentation) it
documents; :data:`ANNEX_IV` is the mapping table shown in every rendering.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..core.entities import Entity
from ..core.hashing import sha256_json
from .spec import (
    ANNEX_IV,
    CARD_SCHEMA,
    SECTIONS,
    UNKNOWN,
    WRITTEN_SECTIONS,
    SectionSpec,
    normalize_section_key,
)

__all__ = [
    "ANNEX_IV",
    "CARD_SCHEMA",
    "SECTIONS",
    "UNKNOWN",
    "WRITTEN_SECTIONS",
    "CardSection",
    "ModelCard",
    "RecordedFacts",
    "SectionSpec",
    "Table",
    "annex_iv_status",
    "normalize_section_key",
]

#: What a card says where nothing was recorded or written. Never a guess.


@dataclasses.dataclass(frozen=True)
class Table(Entity):
    """A titled table of plain values (rendered escaped)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": list(self.columns), "rows": [list(r) for r in self.rows]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Table:
        return cls(str(data["title"]), tuple(data["columns"]), tuple(tuple(r) for r in data["rows"]))


@dataclasses.dataclass(frozen=True)
class CardSection(Entity):
    """One section of a card.

    ``facts`` are ``(label, value)`` pairs, ``tables`` hold per-metric or per-group figures and
    ``text`` holds what a human wrote (``"unknown"`` until someone does). ``known`` is False when
    the section has no recorded or written fact at all.
    """

    key: str
    title: str
    origin: str
    mitchell: str
    annex_iv: tuple[str, ...]
    text: str = UNKNOWN
    facts: tuple[tuple[str, Any], ...] = ()
    tables: tuple[Table, ...] = ()
    known: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "origin": self.origin,
            "mitchell": self.mitchell,
            "annex_iv": list(self.annex_iv),
            "text": self.text,
            "facts": [[k, v] for k, v in self.facts],
            "tables": [t.to_dict() for t in self.tables],
            "known": self.known,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CardSection:
        return cls(
            key=str(data["key"]),
            title=str(data["title"]),
            origin=str(data["origin"]),
            mitchell=str(data.get("mitchell", "")),
            annex_iv=tuple(data.get("annex_iv", ())),
            text=str(data.get("text", UNKNOWN)),
            facts=tuple((str(k), v) for k, v in data.get("facts", ())),
            tables=tuple(Table.from_dict(t) for t in data.get("tables", ())),
            known=bool(data.get("known", False)),
        )


@dataclasses.dataclass(frozen=True)
class ModelCard(Entity):
    """A versioned model card of one registered model version.

    ``sha256`` covers the model reference and every section (not who built it or when), so two
    builds from the same records have the same hash and an edit always changes it.
    """

    model_name: str
    model_version: int
    sections: tuple[CardSection, ...]
    card_version: int = 0
    author: str = UNKNOWN
    ts: str = UNKNOWN
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", content_sha256(self.model_name, self.model_version, self.sections))

    @property
    def spec(self) -> str:
        """``name@version`` of the model version this card describes."""
        return f"{self.model_name}@{self.model_version}"

    @property
    def card_id(self) -> str:
        """The lineage node id of this card version: ``name@version/card-N``."""
        return f"{self.spec}/card-{self.card_version}"

    def section(self, key: str) -> CardSection:
        """The section ``key`` (a key or a heading such as ``"Intended Use"``)."""
        wanted = normalize_section_key(key, allowed=[s.key for s in self.sections])
        return next(s for s in self.sections if s.key == wanted)

    def written(self) -> dict[str, str]:
        """The human-written texts, by section key (only those someone wrote)."""
        return {s.key: s.text for s in self.sections if s.origin == "written" and s.known}

    def with_text(self, key: str, text: str) -> ModelCard:
        """A copy with section ``key`` rewritten (hash recomputed; version and author unchanged)."""
        sections = tuple(dataclasses.replace(s, text=text, known=True) if s.key == key else s for s in self.sections)
        return dataclasses.replace(self, sections=sections, sha256="")

    def annex_iv(self) -> list[dict[str, Any]]:
        """The Annex IV mapping table with what this card documents for each point."""
        return annex_iv_status(self.sections)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": CARD_SCHEMA,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "card_version": self.card_version,
            "author": self.author,
            "ts": self.ts,
            "sha256": self.sha256,
            "sections": [s.to_dict() for s in self.sections],
            "annex_iv": self.annex_iv(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        return cls(
            model_name=str(data["model_name"]),
            model_version=int(data["model_version"]),
            sections=tuple(CardSection.from_dict(s) for s in data["sections"]),
            card_version=int(data.get("card_version", 0)),
            author=str(data.get("author", UNKNOWN)),
            ts=str(data.get("ts", UNKNOWN)),
        )

    # -- renderings (see render.py) -----------------------------------------------------------
    def to_html(self, *, full_document: bool = False) -> str:
        """Self-contained HTML (no external assets; every value escaped)."""
        from .render import render_html

        return render_html(self, full_document=full_document)

    def to_markdown(self) -> str:
        """Markdown with every value escaped (HTML and Markdown syntax shown as text)."""
        from .render import render_markdown

        return render_markdown(self)

    def to_json(self) -> str:
        """Indented JSON of :meth:`to_dict` (what is stored with the model version)."""
        from .render import render_json

        return render_json(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.to_markdown()


def content_sha256(model_name: str, model_version: int, sections: tuple[CardSection, ...]) -> str:
    """The hash of what a card says (model reference and sections)."""
    return sha256_json({"model": f"{model_name}@{model_version}", "sections": [s.to_dict() for s in sections]})


def annex_iv_status(sections: tuple[CardSection, ...]) -> list[dict[str, Any]]:
    """For each Annex IV point: the card sections that document it and whether any is known."""
    out = []
    for point, title in ANNEX_IV:
        covering = [s for s in sections if point in s.annex_iv]
        known = [s for s in covering if s.known]
        status = "documented" if covering and len(known) == len(covering) else ("partly unknown" if known else UNKNOWN)
        out.append({"point": point, "title": title, "sections": [s.title for s in covering], "status": status})
    return out


@dataclasses.dataclass
class RecordedFacts:
    """Everything the workspace recorded about one model version, as plain JSON-safe data.

    ``None`` or an empty list means "not recorded"; the card then says ``"unknown"``.
    """

    model_name: str
    model_version: int
    model: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    training_data: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    evaluation: dict[str, Any] | None = None
    evaluation_data: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    review: dict[str, Any] | None = None
    lifecycle: dict[str, Any] | None = None
