"""Assembling a card from recorded facts (pure: builds sections, writes nothing)."""

from __future__ import annotations

from .card import CardSection, ModelCard, RecordedFacts
from .sections import build_recorded
from .spec import SECTIONS, UNKNOWN

__all__ = ["RecordedFacts", "assemble_card"]


def assemble_card(facts: RecordedFacts, written: dict[str, str] | None = None) -> ModelCard:
    """Build every section from ``facts`` and the human ``written`` texts (pure; writes nothing)."""
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
