"""The UK Algorithmic Transparency Recording Standard (ATRS) record of a model version, tier 1 and 2.

Every field is filled from what was recorded (the model card's sections and facts, the review
trail, the compliance report, the DADM impact level) or says ``"unknown"``; nothing is guessed.
``jupyter-mlops card export SPEC --format atrs`` prints it as JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compliance import ComplianceService

__all__ = ["atrs_record"]

UNKNOWN = "unknown"


def atrs_record(compliance: ComplianceService, spec: str) -> dict[str, Any]:
    """``{"tier_1": {...}, "tier_2": {...}}`` for version ``spec``, field names as the ATRS template."""
    mv = compliance.models.get(spec)
    card = compliance.cards.latest_for(mv.ref)
    written = card.written() if card is not None else {}

    def text(key: str) -> str:
        return written.get(key, UNKNOWN)

    def facts(key: str) -> dict[str, Any]:
        if card is None:
            return {}
        section = next((s for s in card.sections if s.key == key), None)
        return {} if section is None else {str(k): v for k, v in section.facts}

    reviews = [f"{r.action} by {r.actor} at {r.ts[:19]} (audit event #{r.audit_seq})" for r in compliance.models.reviews(mv.ref)]
    report = compliance.latest_for(mv.ref)
    level = compliance.impact_level(mv.ref)
    evaluation = compliance.evaluation.latest_for(mv.ref)
    performance = {k: v.get("value") for k, v in evaluation.metrics.items()} if evaluation is not None else UNKNOWN
    tier_1 = {
        "name": mv.ref,
        "description": text("intended_use"),
        "website": UNKNOWN,
        "contact_email": UNKNOWN,
        "how_it_works": f"{mv.model_type} ({mv.flavor}) trained in run {mv.run_id}",
        "why_it_is_being_used": text("intended_use"),
    }
    tier_2 = {
        "owner_and_responsibility": {
            "organisation_or_department": UNKNOWN,
            "team": UNKNOWN,
            "senior_responsible_owner": UNKNOWN,
            "model_author": mv.author,
            "external_supplier_involvement": UNKNOWN,
        },
        "description_and_rationale": {
            "detailed_description": text("intended_use"),
            "scope": text("out_of_scope_uses"),
            "benefit": UNKNOWN,
            "alternatives_considered": UNKNOWN,
        },
        "decision_making_process": {
            "process_integration": UNKNOWN,
            "human_decisions_and_review": reviews or UNKNOWN,
            "human_oversight_and_stop_procedure": text("risk_management"),
            "frequency_and_scale_of_usage": UNKNOWN,
            "appeals_and_review": UNKNOWN,
        },
        "tool_specification": {
            "system_architecture": facts("model_details") or UNKNOWN,
            "phase": "approved" if mv.status == "approved" else f"review status {mv.status}",
            "model_performance": performance,
            "datasets": list(mv.data_versions) or UNKNOWN,
            "training_data": facts("training_data") or UNKNOWN,
            "environment": facts("environment") or UNKNOWN,
        },
        "risks_mitigations_and_impact_assessments": {
            "impact_assessment": f"Canada DADM impact level {level[0]} (audit event #{level[1]})" if level else UNKNOWN,
            "risks_and_mitigations": text("ethical_considerations"),
            "caveats": text("caveats_and_recommendations"),
            "compliance_report": (
                f"{report.policy}: {'passed' if report.passed else 'failed'} (audit event #{report.audit_seq})"
                if report
                else UNKNOWN
            ),
        },
    }
    return {"standard": "UK Algorithmic Transparency Recording Standard", "tier_1": tier_1, "tier_2": tier_2}


def _report(report: Any) -> str:
    if report is None:
        return UNKNOWN
    return f"{report.policy}: {'passed' if report.passed else 'failed'} (audit event #{report.audit_seq})"
