"""Creating a workspace: ``jupyter-mlops init`` and ``mlops.init``.

:func:`init` makes ``.mlops/`` (settings, stores, signing key) and records ``workspace.init`` as
the first audit event, or opens the workspace that is already there; a half-made folder is
removed when any step fails.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import CONFIG_FILE, WORKSPACE_DIR, resolve_settings, settings_context
from .core.settings import CONFIG_TEMPLATE
from .errors import WorkspaceCorrupt
from .workspace import Workspace

__all__ = ["init"]


def init(path: str | Path = ".", *, user: str | None = None, services: Mapping[str, Any] | None = None) -> Workspace:
    """Create ``.mlops/`` in ``path`` (or open it when it is already a jupyter-mlops workspace).

    Creates the MLflow SQLite store and artifact folder, the metadata database, the object store,
    the signing key (folder 0700, key 0600) and ``config.toml``, and records ``workspace.init``
    as the first audit event. If any step fails, the half-made folder is removed.

    Against team services (``services``, e.g. from :func:`~jupyter_mlops.config.load_team_file`,
    or ``JUPYTER_MLOPS_TRACKING_URI`` / ``_METADATA_URL`` / ``_OBJECT_STORE`` / ``_EXECUTOR``) no
    local store is made for what a service holds (no SQLite file, no artifact or object folder),
    and the service settings are written into ``config.toml`` (without credentials), so the
    workspace keeps using them when it is opened without those variables.
    """
    root = Path(path).expanduser().resolve()
    home = root / WORKSPACE_DIR
    if home.exists():
        if not home.is_dir():
            raise WorkspaceCorrupt(f"{home} exists and is not a folder", value=str(home), hint="move it away and run init again")
        ws = Workspace.open(root, user=user)
        return ws
    try:
        root.mkdir(parents=True, exist_ok=True)
        home.mkdir(mode=0o700)
    except OSError as exc:
        raise WorkspaceCorrupt(
            f"cannot create {home}: {exc.strerror}", value=str(home), hint="choose a folder you can write to"
        ) from exc
    try:
        from .config import service_overrides, write_team_settings

        created = datetime.now(UTC).isoformat(timespec="seconds")
        (home / CONFIG_FILE).write_text(CONFIG_TEMPLATE.format(workspace_id=uuid.uuid4().hex, created=created), encoding="utf-8")
        team = {**service_overrides(), **dict(services or {})}
        if team:
            write_team_settings(root, team)
        (home / "keys").mkdir(mode=0o700)
        (home / ".gitignore").write_text("*\n!config.toml\n!.gitignore\n", encoding="utf-8")
        with settings_context(**{k: v for k, v in team.items() if k in ("tracking_uri", "metadata_url", "object_store")}):
            ws = Workspace(resolve_settings(root, user=user))
        s = ws.settings
        if s.artifact_location and "://" not in s.artifact_location:
            Path(s.artifact_location).mkdir(mode=0o700, parents=True, exist_ok=True)
        if "://" not in s.object_store:
            Path(s.object_store).mkdir(mode=0o700, parents=True, exist_ok=True)
        from .audit.checkpoints import create_key, origin
        from .tracking.mlflow_backend import create_local_store

        signer = create_key(home / "keys", origin(s))
        if s.tracking_uri.startswith("sqlite:"):
            create_local_store(s.tracking_uri, s.artifact_location)
        ws._ensure_schema()
        with ws.transaction() as conn:
            payload = {
                "root_name": root.name,
                "audit_key": signer.vkey,
                "team": s.team_mode,
            }  # the chain commits to its first key
            ws.record(conn, "workspace.init", "workspace", s.workspace_id, payload)
        return ws
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
