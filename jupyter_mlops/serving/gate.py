"""The serving gate: only approved versions are served, packaged or deployed.

:func:`require_servable` is the one check that ``serve``, ``package`` and ``deploy`` call before
they touch a model. A refusal is a :class:`~jupyter_mlops.errors.ReviewRuleViolation` that names
the missing step (evaluation, card, review request, approval) and the command that does it.

:func:`require_compliance` is where the governance capability hooks in: with ``[review]
require_compliance = POLICY`` a version without a passing report against that policy is refused
by the same three commands (and a failed report is refused always).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ReviewRuleViolation

if TYPE_CHECKING:
    from ..registry.entities import ModelVersion
    from .context import ServingContext

__all__ = ["compliance_report", "require_compliance", "require_servable"]


def require_servable(ctx: ServingContext, spec: str, *, action: str = "serve") -> ModelVersion:
    """The version ``spec`` names, if it may be served; otherwise a refusal naming the missing step."""
    mv = ctx.models.get(spec)
    ref = mv.ref
    if mv.status != "approved":
        steps = _missing_steps(ctx, mv)
        raise ReviewRuleViolation(
            f"cannot {action} {spec if spec == ref else f'{spec} ({ref})'}: {ref} has no approval: {steps}",
            value=ref,
            hint=f"`jupyter-mlops model request-review {ref}`, then a reviewer runs `jupyter-mlops model approve {ref}`",
            missing=["approval"],
        )
    require_compliance(ctx, mv, action=action)
    return mv


def _missing_steps(ctx: ServingContext, mv: ModelVersion) -> str:
    if mv.status == "pending":
        return "its review is pending; a reviewer other than its author must approve it first"
    if mv.status == "rejected":
        last = next((r for r in reversed(ctx.models.reviews(mv.ref)) if r.action == "reject"), None)
        who = f" by {last.actor}" if last else ""
        return f"it was rejected{who}; log a fixed version or request a new review, and get one reviewer's approval first"
    todo = []
    if ctx.evaluation.latest_for(mv.ref) is None:
        todo.append("evaluate it (mlops.evaluate)")
    if ctx.cards.latest_for(mv.ref) is None:
        todo.append("build its model card (mlops.build_card)")
    todo.append("request review and get one reviewer's approval first")
    return ", ".join(todo)


def compliance_report(ctx: ServingContext, mv: ModelVersion) -> Any | None:
    """The version's latest compliance report (:class:`~jupyter_mlops.governance.compliance.ComplianceReport`), or ``None``."""
    return ctx.compliance.latest_for(mv.ref)


def require_compliance(ctx: ServingContext, mv: ModelVersion, *, action: str = "serve") -> None:
    """Refuse a version without a passing compliance report when ``[review] require_compliance`` names a policy.

    Without that setting, a version whose latest report failed is refused and one without a
    report is served (:func:`jupyter_mlops.governance.gate.require_passing_report`).
    """
    from ..governance.gate import require_passing_report

    require_passing_report(ctx, mv.ref, action=action)
