"""The compliance gate: with ``[review] require_compliance = POLICY``, no passing report, no serving alias.

Promotion to a serving alias (the registry's promotion gate) and ``serve``, ``package`` and
``deploy`` (:func:`jupyter_mlops.serving.gate.require_compliance`) call
:func:`require_passing_report`: the version's newest report against the policy file's current
content must exist and pass. Without the setting, only a report that exists and failed refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import ReviewRuleViolation
from .policy import load_policy

if TYPE_CHECKING:
    from ..core.context import SettingsView
    from .compliance import ComplianceReport, ComplianceService

__all__ = ["required_policy", "require_passing_report"]


def required_policy(settings: SettingsView) -> Path | None:
    """The policy file ``[review] require_compliance`` names (relative to the project folder), or ``None``."""
    review = settings.extra.get("review", {})
    value = review.get("require_compliance") if isinstance(review, dict) else None
    if not value:
        return None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else settings.root / path


class _HasCompliance(Protocol):
    @property
    def compliance(self) -> ComplianceService: ...

    @property
    def settings(self) -> SettingsView: ...


def require_passing_report(ctx: _HasCompliance, ref: str, *, action: str = "promote") -> ComplianceReport | None:
    """Refuse ``action`` on ``ref`` unless its compliance report allows it; the report relied on."""
    policy_file = required_policy(ctx.settings)
    if policy_file is None:
        report = ctx.compliance.latest_for(ref)
        if report is not None and not report.passed:
            raise ReviewRuleViolation(
                f"cannot {action} {ref}: its compliance report against {report.policy} did not pass "
                f"({', '.join(r.rule for r in report.failed)})",
                value=ref,
                hint=f"fix what the report names, then `jupyter-mlops compliance check {ref} --policy FILE` again",
                missing=["compliance"],
            )
        return report
    policy = load_policy(policy_file)
    report = ctx.compliance.latest_for(ref, policy_sha256=policy.sha256)
    if report is None or not report.passed:
        why = (
            "has no compliance report against it" if report is None else f"failed it ({', '.join(r.rule for r in report.failed)})"
        )
        raise ReviewRuleViolation(
            f"cannot {action} {ref}: [review] require_compliance names policy {policy.name}, and {ref} {why}",
            value=ref,
            hint=f"`jupyter-mlops compliance check {ref} --policy {policy_file.name}` (and fix what fails)",
            missing=["compliance"],
        )
    return report
