"""Roles that deny by default: who may do which action, in one table.

With ``[access] mode = "enforce"`` in ``.mlops/config.toml`` every audited action (the audit
event a mutation writes: ``run.start``, ``data.version``, ``model.approve`` ...) and every read is
allowed only when one of the actor's roles grants it; an identity with no role can do nothing,
and an action no role names is refused. Roles are granted in ``[access.roles]``::

    [access]
    mode = "enforce"

    [access.roles]
    viewer = ["victor"]
    researcher = ["rita"]
    reviewer = ["bob"]
    data_steward = ["dana"]
    auditor = ["ada"]
    admin = ["root"]

(``[review] reviewers`` also grants ``reviewer``.) No role, not even ``admin``, may edit or
delete audit events: there is no such action, and the chain's checkpoints catch a direct edit.
The owner of a model version or data version may also promote it or read it when sensitive,
if they hold any role. With ``mode = "open"`` (the default) only approvals are role-gated.

Team mode (MLflow's basic-auth server) keeps its own users and per-experiment permissions
(READ, EDIT, MANAGE); :data:`MLFLOW_PERMISSION` maps each role onto the one it needs there, so
the team-mode set-up can grant both from this one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from ..errors import PermissionDenied

__all__ = [
    "ACTIONS",
    "ALWAYS_ALLOWED",
    "MLFLOW_PERMISSION",
    "OWNER_ACTIONS",
    "ROLES",
    "allowed",
    "denied",
    "enforced",
    "matrix",
    "roles_of",
]

_WRITE_WORK = ("run.*", "stage.*", "pipeline.*", "data.version", "data.use", "data.check", "model.log", "model.evaluate")
#: What each role grants: action patterns (``fnmatch``); ``read`` is every read of the workspace.
ROLES: dict[str, tuple[str, ...]] = {
    "viewer": ("read",),
    "researcher": (
        "read",
        *_WRITE_WORK,
        "model.evaluation_attach",
        "model.review_request",
        "card.*",
        "compliance.check",
        "compliance.impact_level",
    ),
    "reviewer": ("read", "model.approve", "model.reject", "model.promote", "compliance.check", "serving.*"),
    "data_steward": ("read", "data.*", "data.read_sensitive", "compliance.check"),
    "auditor": ("read", "audit.export", "audit.checkpoint", "compliance.check"),
    "admin": (
        "read",
        "workspace.*",
        *_WRITE_WORK,
        "model.evaluation_attach",
        "model.promote",
        "data.read_sensitive",
        "card.*",
        "serving.*",
        "audit.checkpoint",
        "audit.export",
        "audit.key_rotated",
        "compliance.*",
    ),
}
#: Actions the owner of the object may do besides their roles' (if they hold any role).
OWNER_ACTIONS = frozenset({"model.promote", "data.read_sensitive"})
#: Housekeeping anyone's process may do (closing runs whose process died), and the record of a refusal.
ALWAYS_ALLOWED = frozenset({"access.denied", "run.reaped"})
#: The actions the matrix documents (docs/access.md), each checked against every role by a test.
ACTIONS = (
    "read",
    "run.start",
    "data.version",
    "data.read_sensitive",
    "model.log",
    "model.evaluate",
    "card.build",
    "model.review_request",
    "model.approve",
    "model.promote",
    "pipeline.start",
    "serving.deploy",
    "compliance.check",
    "audit.checkpoint",
    "audit.export",
    "audit.key_rotated",
    "audit.edit",
    "audit.delete",
    "workspace.init",
)
#: The MLflow basic-auth permission each role needs on the workspace's experiments (team mode).
MLFLOW_PERMISSION = {
    "viewer": "READ",
    "researcher": "EDIT",
    "reviewer": "READ",
    "data_steward": "READ",
    "auditor": "READ",
    "admin": "MANAGE",
}


def enforced(extra: Mapping[str, Any]) -> bool:
    """Whether ``[access] mode = "enforce"``."""
    access = extra.get("access", {})
    return isinstance(access, Mapping) and str(access.get("mode", "open")) == "enforce"


def roles_of(extra: Mapping[str, Any], reviewers: tuple[str, ...], user: str) -> set[str]:
    """The roles ``user`` holds under ``[access.roles]``, the older ``[roles]`` and ``[review] reviewers``."""
    access = extra.get("access", {})
    tables = [access.get("roles", {}) if isinstance(access, Mapping) else {}, extra.get("roles", {})]
    held = {name for table in tables if isinstance(table, Mapping) for name, members in table.items() if user in (members or [])}
    if user in reviewers:
        held.add("reviewer")
    return held


def allowed(roles: set[str], action: str, *, owner: bool = False) -> bool:
    """Whether any of ``roles`` grants ``action`` (deny by default: no role, no grant)."""
    if action in ALWAYS_ALLOWED:
        return True
    if not roles:
        return False
    if owner and action in OWNER_ACTIONS:
        return True
    return any(fnmatchcase(action, pattern) for role in roles for pattern in ROLES.get(role, ()))


def matrix() -> dict[str, dict[str, bool]]:
    """``{role: {action: allowed}}`` over :data:`ACTIONS` (the table in docs/access.md)."""
    return {role: {action: allowed({role}, action) for action in ACTIONS} for role in ROLES}


def denied(actor: str, action: str, resource: str) -> PermissionDenied:
    """The refusal of ``action`` on ``resource`` to ``actor``, naming the roles that would grant it."""
    granting = sorted(role for role, patterns in ROLES.items() if any(fnmatchcase(action, p) for p in patterns))
    return PermissionDenied(
        f"{actor} may not {action} on {resource or 'this workspace'}",
        value=actor,
        hint=f"it needs one of the roles {', '.join(granting) or '(none: no role may do this)'} "
        "in [access.roles] of .mlops/config.toml",
    )
