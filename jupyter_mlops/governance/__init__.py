"""Governance: roles that deny by default, compliance checks against a written policy, the compliance gate.

``mlops.check_compliance("model@3", policy="policy.yaml")`` works on the current workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .compliance import ComplianceReport
    from .policy import Policy

__all__ = ["check_compliance"]


def check_compliance(spec: str, policy: Policy | str | Path) -> ComplianceReport:
    """Check model version ``spec`` against ``policy`` (a file or a parsed :class:`~.policy.Policy`).

    See :meth:`jupyter_mlops.governance.compliance.ComplianceService.check`; the report is stored
    and audited, and ``report.passed`` is true when every rule passed.
    """
    from ..fluent import current_workspace

    return current_workspace().compliance.check(spec, policy)
