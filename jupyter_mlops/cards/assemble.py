"""Assembling a card from recorded facts (pure: builds sections, writes nothing)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .card import CardSection, ModelCard
from .sections import build_recorded
from .spec import SECTIONS, UNKNOWN

__all__ = ["RecordedFacts", "assemble_card"]


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
