"""Our roles onto MLflow's basic-auth permissions, written down once.

Roles are granted in the workspace's ``config.toml`` (``[roles]``, ``[access.roles]`` and
``[review] reviewers``); that stays the only place they are kept. In team mode the MLflow server
enforces them too: :func:`sync_mlflow_roles` makes one MLflow role per role of ours
(``mlops-<role>``, in the MLflow workspace this workspace uses) with the permissions below and the
members config.toml names, and removes what no longer matches. ``--check`` reports the
differences without changing anything, so drift shows up in CI or cron.

=============  =========================================  ==========================================
our role       MLflow permissions (experiments, models)   why
=============  =========================================  ==========================================
viewer         READ, READ                                 reads runs and models
auditor        READ, READ                                 reads everything, changes nothing
data_steward   READ, READ                                 data lives in our metadata database
researcher     EDIT, EDIT (+ USE on the workspace)        tracks runs, logs and registers models
reviewer       EDIT, EDIT (+ USE on the workspace)        evaluates, and promote moves an alias
admin          MANAGE on the workspace                    everything, including permissions
=============  =========================================  ==========================================

``USE`` / ``MANAGE`` on the workspace exist only on a server with ``--enable-workspaces`` (they
let a role create experiments and models there); on one without, every user may create and the
rows above are the rest. Whether a reviewer may approve is still decided by our four-eyes rule,
not by MLflow: MLflow's permission only lets the promotion write the alias.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput

if TYPE_CHECKING:
    from ..tracking.auth import RoleChange

__all__ = ["ROLE_PERMISSIONS", "RoleSync", "role_members", "sync_mlflow_roles"]

_READ = frozenset({("experiment", "*", "READ"), ("registered_model", "*", "READ")})
_WRITE = frozenset({("experiment", "*", "EDIT"), ("registered_model", "*", "EDIT")})
_USE = ("workspace", "*", "USE")
_MANAGE = ("workspace", "*", "MANAGE")

#: our role -> MLflow permissions ``(resource type, pattern, permission)``, on a server with workspaces.
ROLE_PERMISSIONS: dict[str, frozenset[tuple[str, str, str]]] = {
    "viewer": _READ,
    "auditor": _READ,
    "data_steward": _READ,
    "researcher": _WRITE | {_USE},
    "reviewer": _WRITE | {_USE},
    "admin": frozenset({_MANAGE}),
}


def role_members(settings: Any) -> dict[str, set[str]]:
    """role -> members, from ``[roles]``, ``[access.roles]`` and ``[review] reviewers``."""
    out: dict[str, set[str]] = {}
    tables = [dict(settings.extra.get("roles", {})), dict(dict(settings.extra.get("access", {})).get("roles", {}))]
    for table in tables:
        for role, members in table.items():
            if not isinstance(members, (list, tuple)) or not all(isinstance(m, str) for m in members):
                raise InvalidInput(f"[roles] {role} in config.toml must be a list of names", value=repr(members)[:80])
            out.setdefault(str(role), set()).update(members)
    out.setdefault("reviewer", set()).update(settings.reviewers)
    return out


@dataclasses.dataclass(frozen=True)
class RoleSync:
    """What :func:`sync_mlflow_roles` found (and changed, unless it only checked)."""

    server: str
    workspace: str
    changes: tuple[RoleChange, ...]
    unknown_users: tuple[str, ...]
    ignored_roles: tuple[str, ...]
    applied: bool

    @property
    def in_sync(self) -> bool:
        return not self.changes and not self.unknown_users

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "workspace": self.workspace,
            "changes": [c.to_dict() for c in self.changes],
            "unknown_users": list(self.unknown_users),
            "ignored_roles": list(self.ignored_roles),
            "applied": self.applied,
            "in_sync": self.in_sync,
        }

    def __str__(self) -> str:
        verb = "changed" if self.applied else "to change"
        lines = [f"MLflow roles of workspace {self.workspace} on {self.server}: {len(self.changes)} {verb}"]
        lines += [f"  {c.role}: {c.change} {c.detail}" for c in self.changes]
        if self.unknown_users:
            lines.append(
                f"  no MLflow account for {', '.join(self.unknown_users)}: an MLflow admin creates each with its own password"
            )
        if self.ignored_roles:
            lines.append(f"  roles with no MLflow meaning, left out: {', '.join(self.ignored_roles)}")
        return "\n".join(lines)


def sync_mlflow_roles(ws: Any, *, check: bool = False) -> RoleSync:
    """Make the tracking server's ``mlops-*`` roles match ``config.toml`` (see the module docstring).

    Runs with MLflow's own admin credentials (``MLFLOW_TRACKING_USERNAME`` / ``_PASSWORD``).
    Applying writes an ``access.sync`` audit event listing the changes.
    """
    from ..tracking import auth

    uri = ws.settings.tracking_uri
    if not uri.startswith(("http://", "https://")):
        raise InvalidInput(
            f"access sync needs a tracking server; this workspace tracks to {uri}",
            value=uri,
            hint="set [tracking] uri to the MLflow server (team mode); an embedded workspace has no server to sync",
        )
    auth.check_roles_api(uri)
    has_workspaces = auth.server_has_workspaces(uri)
    members = role_members(ws.settings)
    table = {r: p if has_workspaces else frozenset(x for x in p if x[0] != "workspace") for r, p in ROLE_PERMISSIONS.items()}
    table = {r: p for r, p in table.items() if p}
    ignored = tuple(sorted(r for r in members if r not in ROLE_PERMISSIONS))
    workspace = ws.settings.tracking_workspace if has_workspaces else None
    if check:
        changes, unknown = auth.sync_roles(uri, workspace, auth.role_specs(table, members), apply=False)
    else:
        ws._ensure_schema()
        if ws.read_only:
            from ..store.metadata import readonly_error

            raise readonly_error(ws.settings.metadata_url)
        changes, unknown = auth.sync_roles(uri, workspace, auth.role_specs(table, members), apply=True)
        if changes:
            with ws.transaction() as conn:
                ws.record(
                    conn,
                    "access.sync",
                    "tracking_server",
                    workspace or "default",
                    {"changes": [c.to_dict() for c in changes], "unknown_users": unknown},
                )
    return RoleSync(uri, workspace or "default", tuple(changes), tuple(unknown), ignored, applied=not check)
