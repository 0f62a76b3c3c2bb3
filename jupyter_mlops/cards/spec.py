"""What a model card is made of: its sections, their origin and their Annex IV points.

The vocabulary every other card module shares (the card entity, the section builders, the
renderers), so it depends on nothing but the error tree.
"""

from __future__ import annotations

import dataclasses
import difflib

from ..errors import InvalidInput

__all__ = [
    "ANNEX_IV",
    "CARD_SCHEMA",
    "SECTIONS",
    "UNKNOWN",
    "WRITTEN_SECTIONS",
    "SectionSpec",
    "check_text",
    "normalize_section_key",
]

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
