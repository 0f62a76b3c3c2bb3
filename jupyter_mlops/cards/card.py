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
import difflib
from typing import Any

from ..core.entities import Entity
from ..core.hashing import sha256_json
from ..errors import InvalidInput

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
    "assemble_card",
    "normalize_section_key",
]

#: What a card says where nothing was recorded or written. Never a guess.
UNKNOWN = "unknown"
#: Version tag of the JSON rendering.
CARD_SCHEMA = "jupyter-mlops/model-card/v1"
_MAX_TEXT = 20_000


@dataclasses.dataclass(frozen=True)
class SectionSpec:
    """Where a section sits: its key, its heading, whether it is recorded or written, its Annex IV points."""

    key: str
    title: str
    origin: str  # "recorded" or "written"
    mitchell: str  # the Mitchell et al. (2019) section it belongs to, or "" for additions
    annex_iv: tuple[str, ...]
    prompt: str = ""


#: Every section, in the order cards show them.
SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("model_details", "Model Details", "recorded", "Model Details", ("1", "2")),
    SectionSpec(
        "intended_use",
        "Intended Use",
        "written",
        "Intended Use",
        ("1", "3"),
        "Primary intended uses and users: what decisions this model supports, for whom.",
    ),
    SectionSpec(
        "out_of_scope_uses",
        "Out-of-Scope Uses",
        "written",
        "Intended Use",
        ("1", "3"),
        "Uses this model must not be put to, and users it is not meant for.",
    ),
    SectionSpec("factors", "Factors", "recorded", "Factors", ("2", "3")),
    SectionSpec("metrics", "Metrics", "recorded", "Metrics", ("2", "4")),
    SectionSpec("evaluation_data", "Evaluation Data", "recorded", "Evaluation Data", ("2",)),
    SectionSpec("training_data", "Training Data", "recorded", "Training Data", ("2",)),
    SectionSpec("quantitative_analyses", "Quantitative Analyses", "recorded", "Quantitative Analyses", ("2", "3")),
    SectionSpec(
        "ethical_considerations",
        "Ethical Considerations",
        "written",
        "Ethical Considerations",
        ("3", "5"),
        "Sensitive data, risks to people and fundamental rights, mitigations, hard trade-offs.",
    ),
    SectionSpec(
        "caveats_and_recommendations",
        "Caveats and Recommendations",
        "written",
        "Caveats and Recommendations",
        ("3",),
        "Known limitations, conditions where the model is not reliable, recommended checks.",
    ),
    SectionSpec("review", "Review and Approvals", "recorded", "", ("3", "6")),
    SectionSpec("lifecycle", "Changes over the Lifecycle", "recorded", "", ("6",)),
    SectionSpec("environment", "Environment", "recorded", "", ("1", "2")),
    SectionSpec(
        "risk_management",
        "Risk Management",
        "written",
        "",
        ("5",),
        "The risk management system of Article 9 that covers this model (reference or summary).",
    ),
    SectionSpec(
        "standards_applied",
        "Standards Applied",
        "written",
        "",
        ("7",),
        "Harmonised standards or other specifications applied, with references.",
    ),
    SectionSpec(
        "declaration_of_conformity",
        "EU Declaration of Conformity",
        "written",
        "",
        ("8",),
        "Reference to the EU declaration of conformity (Article 47), if one was issued.",
    ),
    SectionSpec(
        "post_market_monitoring",
        "Post-Market Monitoring",
        "written",
        "",
        ("9",),
        "The plan to evaluate performance after deployment (Article 72): what is monitored, how often, by whom.",
    ),
)
_SPECS = {s.key: s for s in SECTIONS}
#: Keys of the sections a human writes (the only ones :func:`edit_card` accepts).
WRITTEN_SECTIONS: tuple[str, ...] = tuple(s.key for s in SECTIONS if s.origin == "written")

#: Annex IV of Regulation (EU) 2024/1689, point by point.
ANNEX_IV: tuple[tuple[str, str], ...] = (
    ("1", "General description of the AI system"),
    ("2", "Detailed description of the elements of the AI system and of the process for its development"),
    ("3", "Detailed information about the monitoring, functioning and control of the AI system"),
    ("4", "Description of the appropriateness of the performance metrics"),
    ("5", "Detailed description of the risk management system (Article 9)"),
    ("6", "Description of relevant changes made to the system through its lifecycle"),
    ("7", "List of the harmonised standards applied, or other solutions adopted"),
    ("8", "Copy of the EU declaration of conformity (Article 47)"),
    ("9", "System to evaluate performance in the post-market phase, incl. the post-market monitoring plan (Article 72)"),
)


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


def normalize_section_key(
    name: object, *, allowed: list[str] | tuple[str, ...] | None = None, listed: tuple[str, ...] | None = None
) -> str:
    """Map a key or heading (``"Intended Use"``, ``"intended-use"``) to a section key, or explain.

    Raises :class:`~jupyter_mlops.errors.InvalidInput` naming the closest section; the hint lists
    ``listed`` (default: every allowed key).
    """
    keys = list(allowed if allowed is not None else _SPECS)
    shown = ", ".join(listed if listed is not None else keys)
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput(
            "a card section must be named by a short string",
            value=repr(name)[:80],
            field="section",
            hint=f"one of {shown}",
        )
    key = "_".join(name.strip().lower().replace("-", " ").replace("_", " ").split())
    if key in keys:
        return key
    titles = {_SPECS[k].title.lower(): k for k in keys if k in _SPECS}
    if name.strip().lower() in titles:
        return titles[name.strip().lower()]
    pool = list(listed) if listed is not None else keys
    partial = [k for k in pool if k.startswith(key) or key in k]
    close = partial[:1] if len(partial) == 1 else difflib.get_close_matches(key, pool, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise InvalidInput(
        f"the card has no section named {name!r}",
        value=name[:80],
        field="section",
        hint=f"{hint}sections: {shown}",
    )


def check_text(text: object) -> str:
    """Validate human-written section text (a non-empty string without NUL, at most 20,000 characters)."""
    if not isinstance(text, str):
        raise InvalidInput(f"section text must be a string, got {type(text).__name__}", value=repr(text)[:80], field="text")
    if "\x00" in text:
        raise InvalidInput("section text contains a NUL byte", value=repr(text)[:80], field="text")
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("section text is empty", field="text", hint="write what the section should say")
    if len(stripped) > _MAX_TEXT:
        raise InvalidInput(
            f"section text is {len(stripped)} characters long",
            value=stripped[:80] + "...",
            field="text",
            hint=f"keep a section under {_MAX_TEXT} characters and link to longer documents",
        )
    return stripped


# -- assembling a card from recorded facts --------------------------------------------------------
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


def assemble_card(facts: RecordedFacts, written: dict[str, str] | None = None) -> ModelCard:
    """Build every section from ``facts`` and the human ``written`` texts (pure; writes nothing)."""
    from .sections import build_recorded

    written = written or {}
    recorded = build_recorded(facts)
    sections = []
    for spec in SECTIONS:
        if spec.origin == "written":
            text = written.get(spec.key)
            sections.append(
                CardSection(spec.key, spec.title, spec.origin, spec.mitchell, spec.annex_iv, text or UNKNOWN, known=bool(text))
            )
        else:
            facts_, tables = recorded.get(spec.key, ((), ()))
            known = any(v != UNKNOWN for _, v in facts_) or bool(tables)
            sections.append(
                CardSection(
                    spec.key,
                    spec.title,
                    spec.origin,
                    spec.mitchell,
                    spec.annex_iv,
                    UNKNOWN if not known else "",
                    facts_,
                    tables,
                    known,
                )
            )
    return ModelCard(facts.model_name, facts.model_version, tuple(sections))
