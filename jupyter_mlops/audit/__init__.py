"""The audit trail: an append-only hash chain of every mutating action.

``mlops.audit.verify()`` and ``mlops.audit.log()`` work on the current workspace.
"""

from __future__ import annotations

from typing import Any

from ..core.entities import AuditEvent, AuditVerification

__all__ = ["AuditEvent", "AuditVerification", "checkpoint", "log", "verify"]


def verify() -> AuditVerification:
    """Recompute the current workspace's audit chain; see :meth:`Workspace.verify_audit`."""
    from ..fluent.context import current_workspace

    return current_workspace().verify_audit()


def log(**filters: Any) -> list[AuditEvent]:
    """List audit events of the current workspace; see :meth:`Workspace.audit_events`."""
    from ..fluent.context import current_workspace

    return current_workspace().audit_events(**filters)


def checkpoint() -> str | None:
    """Sign a checkpoint of the current workspace's chain head now; the C2SP signed note (``None``: empty log)."""
    from ..fluent.context import current_workspace
    from .checkpoints import checkpoint_now

    return checkpoint_now(current_workspace())
