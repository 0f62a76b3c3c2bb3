"""MLflow's basic-auth roles, read and written through the tracking server's admin API.

MLflow's ``basic-auth`` app (3.x) has roles of its own: a role lives in an MLflow workspace
(``default`` when the server runs without ``--enable-workspaces``), holds permissions
``(resource type, pattern, READ | USE | EDIT | MANAGE)`` and is assigned to users. This adapter
keeps a set of roles (named ``mlops-<role>``) equal to what it is told; which roles and members
that is comes from the workspace's ``config.toml`` (:mod:`jupyter_mlops.governance.mlflow_roles`),
so roles are written down once and MLflow enforces them at its door. Roles it did not make are
never touched. It needs an MLflow admin's credentials (MLflow's own ``MLFLOW_TRACKING_USERNAME``
and ``MLFLOW_TRACKING_PASSWORD``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from ..errors import TrackingError
from .mlflow_store import _import_mlflow, _wrap

__all__ = ["PREFIX", "RoleChange", "RoleSpec", "check_roles_api", "role_specs", "server_has_workspaces", "sync_roles"]

#: Prefix of the MLflow roles this package manages.
PREFIX = "mlops-"


@dataclasses.dataclass(frozen=True)
class RoleSpec:
    """One MLflow role as it should be: its permissions and its members."""

    name: str
    permissions: frozenset[tuple[str, str, str]]
    members: frozenset[str]


@dataclasses.dataclass(frozen=True)
class RoleChange:
    """One difference between MLflow's roles and the wanted ones (applied unless checking)."""

    role: str
    change: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def sync_roles(
    tracking_uri: str, workspace: str | None, wanted: Sequence[RoleSpec], *, apply: bool = True
) -> tuple[list[RoleChange], list[str]]:
    """Make the ``mlops-*`` roles of ``workspace`` equal to ``wanted``; return the changes and unknown users.

    ``workspace=None`` is MLflow's ``default`` workspace (a server without workspaces). Users
    named in ``wanted`` who have no MLflow account are returned, not created: an account needs a
    password, and this tool makes none up.
    """
    with _wrap("manage roles", tracking_uri):
        _import_mlflow()
        from mlflow.server.auth.client import AuthServiceClient
        from mlflow.server.auth.routes import LIST_USERS

        client = AuthServiceClient(tracking_uri)
        where = workspace or "default"
        users = {u["username"]: int(u["id"]) for u in client._request(LIST_USERS, "GET").get("users", [])}
        names = {u: n for n, u in users.items()}
        have = {r.name: r for r in client.list_roles(where) if r.name.startswith(PREFIX)}
        changes: list[RoleChange] = []
        unknown = sorted({m for spec in wanted for m in spec.members if m not in users})
        for spec in wanted:
            role = have.get(spec.name)
            if role is None:
                changes.append(RoleChange(spec.name, "create", f"in MLflow workspace {where}"))
                role = client.create_role(where, spec.name, "managed by jupyter-mlops (access sync)") if apply else None
            current = (
                {(p.resource_type, p.resource_pattern, p.permission): p.id for p in client.list_role_permissions(role.id)}
                if role
                else {}
            )
            for perm in sorted(spec.permissions - set(current)):
                changes.append(RoleChange(spec.name, "grant", ":".join(perm)))
                if apply and role is not None:
                    client.add_role_permission(role.id, *perm)
            for perm in sorted(set(current) - spec.permissions):
                changes.append(RoleChange(spec.name, "revoke", ":".join(perm)))
                if apply:
                    client.remove_role_permission(current[perm])
            members = {names.get(a.user_id, f"#{a.user_id}") for a in client.list_role_users(role.id)} if role else set()
            for user in sorted(spec.members - members - set(unknown)):
                changes.append(RoleChange(spec.name, "assign", user))
                if apply and role is not None:
                    client.assign_role(user, role.id)
            for user in sorted(members - spec.members):
                changes.append(RoleChange(spec.name, "unassign", user))
                if apply and role is not None and not user.startswith("#"):
                    client.unassign_role(user, role.id)
        for name in sorted(set(have) - {s.name for s in wanted}):
            changes.append(RoleChange(name, "delete", "no such role in config.toml any more"))
            if apply:
                client.delete_role(have[name].id)
        return changes, unknown


def server_has_workspaces(tracking_uri: str) -> bool:
    """Whether the tracking server runs with ``--enable-workspaces``."""
    with _wrap("ask the server about workspaces", tracking_uri):
        _import_mlflow()
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        try:
            MlflowClient(tracking_uri).list_workspaces()
            return True
        except MlflowException as exc:
            if getattr(exc, "error_code", "") in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
                raise
            return False


def check_roles_api(tracking_uri: str) -> None:
    """Refuse clearly when the installed MLflow has no roles (before 3.1x)."""
    try:
        from mlflow.server.auth.client import AuthServiceClient
    except ImportError as exc:
        raise TrackingError(
            f"MLflow's basic-auth client is not installed: {exc}", hint="pip install 'jupyter-mlops[team]'"
        ) from None
    if not hasattr(AuthServiceClient, "create_role"):
        raise TrackingError(
            "this MLflow has no basic-auth roles; `access sync` needs MLflow 3 with roles (3.17 has them)",
            value=tracking_uri,
            hint="pip install -U 'mlflow>=3.17'",
        )


def role_specs(permissions: Mapping[str, frozenset[tuple[str, str, str]]], members: Mapping[str, set[str]]) -> list[RoleSpec]:
    """The wanted ``mlops-*`` roles from a role -> permissions table and role -> members."""
    return [RoleSpec(PREFIX + role, perms, frozenset(members.get(role, set()))) for role, perms in sorted(permissions.items())]
