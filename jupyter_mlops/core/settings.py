"""The resolved settings of a workspace: one frozen value, read by every layer.

:func:`jupyter_mlops.config.resolve_settings` builds it (argument, context, environment, file,
default); capabilities read it through :class:`jupyter_mlops.core.context.SettingsView`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import WorkspaceCorrupt
from .urls import has_password, mask_url

__all__ = ["CONFIG_TEMPLATE", "DEFAULT_SERVING_ALIASES", "IDENTITY_SOURCES", "WORKSPACE_DIR", "Settings"]

WORKSPACE_DIR = ".mlops"
#: Aliases that only an approved model version may take, unless ``[review] serving_aliases`` says otherwise.
DEFAULT_SERVING_ALIASES = ("champion", "production", "prod", "live")

#: Where an acting identity came from, recorded in every audit event (``identity_source``):
#: ``local`` (``JUPYTER_MLOPS_USER`` or the OS user of a kernel, script or CLI), ``server-owner`` (a
#: single-user Jupyter server under token or password login acts as its owner's local identity),
#: ``jupyterhub`` (the user JupyterHub names), ``identity-provider`` (the user another Jupyter
#: identity provider names).
IDENTITY_SOURCES = ("local", "server-owner", "jupyterhub", "identity-provider")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting of a workspace, resolved.

    Attributes
    ----------
    root:
        The project folder that holds ``.mlops/``.
    tracking_uri, registry_uri:
        Where MLflow keeps runs and registered models (SQLite file by default, or a server URL).
    artifact_location:
        MLflow artifact root for new experiments (a folder, or an object-store URL).
    metadata_url:
        SQLAlchemy URL of the metadata database (audit, data versions, lineage, reviews ...).
    object_store:
        Folder or fsspec URL of the content-addressed object store.
    user:
        The acting identity: ``JUPYTER_MLOPS_USER``, else the OS user; the server extension
        passes the Jupyter-authenticated user explicitly.
    identity_source:
        Where :attr:`user` came from, one of :data:`IDENTITY_SOURCES` (``local`` unless a
        front-end says otherwise).
    serving_alias:
        The alias ``promote`` moves by default (``champion``).
    serving_aliases:
        Every alias that only an approved version may take (``[review] serving_aliases``, default
        ``champion``, ``production``, ``prod``, ``live``, plus ``serving_alias``); aliases are
        compared in lower case.
    reviewers:
        Identities allowed to approve model versions.
    parent_run_id:
        Set by the pipeline runner so runs started inside a stage become its children.
    notebook_path:
        Set by the pipeline runner so a kernel knows which notebook it executes.
    read_only:
        Open the workspace for reading only (``JUPYTER_MLOPS_READ_ONLY=1``); a workspace this user
        cannot write is read-only whatever this says.
    executor:
        Where pipelines run unless told otherwise: ``local`` or a Dask scheduler
        (``[executor] address``, ``JUPYTER_MLOPS_EXECUTOR``).
    tracking_workspace:
        The MLflow workspace on a server started with ``--enable-workspaces``
        (``[tracking] workspace``, ``JUPYTER_MLOPS_TRACKING_WORKSPACE``).
    metadata_passfile:
        A ``.pgpass``-style file for the metadata database (``[metadata] passfile``,
        ``JUPYTER_MLOPS_METADATA_PASSFILE``); libpq's own ``PGPASSWORD`` / ``PGPASSFILE`` work too.
    object_store_options:
        fsspec storage options for a URL object store (``[objects] options``, e.g.
        ``endpoint_url``); never credentials.
    extra:
        The other tables of ``config.toml`` (pipelines, serving, policies ...), unparsed.
    config_stamp:
        ``(mtime_ns, size)`` of ``config.toml`` when it was read; :func:`refresh_access` re-reads
        reviewers and roles when the file changed since.
    """

    root: Path
    tracking_uri: str
    registry_uri: str
    artifact_location: str
    metadata_url: str
    object_store: str
    user: str
    default_experiment: str = "Default"
    serving_alias: str = "champion"
    serving_aliases: tuple[str, ...] = DEFAULT_SERVING_ALIASES
    reviewers: tuple[str, ...] = ()
    parent_run_id: str | None = None
    notebook_path: str | None = None
    workspace_id: str = ""
    read_only: bool = False
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    identity_source: str = "local"
    config_stamp: tuple[int, int] = (0, 0)
    executor: str = "local"
    tracking_workspace: str | None = None
    metadata_passfile: str | None = None
    object_store_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def home(self) -> Path:
        """The ``.mlops/`` folder."""
        return self.root / WORKSPACE_DIR

    @property
    def keys_dir(self) -> Path:
        """Where the workspace's signing key lives (mode 0700)."""
        return self.home / "keys"

    @property
    def team_mode(self) -> bool:
        """Whether any store is a shared service rather than a file under ``.mlops/``."""
        return not (
            self.tracking_uri.startswith("sqlite:") and self.metadata_url.startswith("sqlite:") and "://" not in self.object_store
        )

    def to_dict(self) -> dict[str, Any]:
        """Settings as plain data (for ``jupyter-mlops config --json``); passwords in URLs are masked."""
        out = dataclasses.asdict(self)
        out["root"] = str(self.root)
        out["reviewers"] = list(self.reviewers)
        out["serving_aliases"] = list(self.serving_aliases)
        out["extra"] = dict(self.extra)
        out["config_stamp"] = list(self.config_stamp)
        out["object_store_options"] = dict(self.object_store_options)
        for key in _URL_FIELDS:
            if isinstance(out.get(key), str):
                out[key] = mask_url(out[key])
        return out

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k not in ("extra",))
        return f"Settings({shown})"


#: Settings that hold a URL (masked when shown, checked for credentials in config.toml).
_URL_FIELDS = ("tracking_uri", "registry_uri", "artifact_location", "metadata_url", "object_store", "executor")

#: ``[objects] options`` keys that would be credentials (fsspec / s3fs names): refused in config.toml.
_SECRET_OPTION = ("key", "secret", "password", "token", "credential", "session")


def _refuse_credentials(file: Mapping[str, Any], where: Path) -> None:
    """config.toml is shared (often committed): a password or a secret option in it is an error."""
    for section, key in (
        ("tracking", "uri"),
        ("tracking", "registry_uri"),
        ("tracking", "artifact_location"),
        ("metadata", "url"),
        ("objects", "url"),
        ("executor", "address"),
    ):
        value = dict(file.get(section, {})).get(key)
        if isinstance(value, str) and has_password(value):
            raise WorkspaceCorrupt(
                f"{where.name} holds a password in [{section}] {key} ({mask_url(value)}); config.toml must hold no credentials",
                value=mask_url(value),
                hint=_CREDENTIAL_HINT.get(section, "remove it from the URL and give it through the environment"),
                field=f"{section}.{key}",
            )
    options = dict(file.get("objects", {})).get("options", {})
    for key in options if isinstance(options, Mapping) else ():
        if any(word in str(key).lower() for word in _SECRET_OPTION):
            raise WorkspaceCorrupt(
                f"{where.name} holds a credential in [objects] options ({key}); config.toml must hold no credentials",
                value=str(key),
                hint=_CREDENTIAL_HINT["objects"],
                field=f"objects.options.{key}",
            )


_CREDENTIAL_HINT = {
    "metadata": "remove the password from the URL and put it in a .pgpass file ([metadata] passfile, PGPASSFILE or ~/.pgpass) "
    "or PGPASSWORD",
    "tracking": "remove it from the URL; MLflow reads MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD "
    "or ~/.mlflow/credentials",
    "objects": "remove it; the S3 back-end reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws/credentials",
}


CONFIG_TEMPLATE = """\
# jupyter-mlops workspace settings. Paths are relative to the project folder.
# Environment variables JUPYTER_MLOPS_<NAME> override these; arguments override both.

[workspace]
format = "jupyter-mlops"
id = "{workspace_id}"
created = "{created}"

[tracking]
# Embedded default: .mlops/mlflow.db. Team mode: an MLflow server, e.g.
# uri = "http://mlflow.internal:5000"
default_experiment = "Default"

[metadata]
# Embedded default: .mlops/mlops.db. Team mode: PostgreSQL, e.g.
# url = "postgresql+psycopg://mlops@db.internal/mlops"

[objects]
# Embedded default: .mlops/objects. Team mode: any fsspec URL, e.g.
# url = "s3://bucket/mlops-objects"

[executor]
# Embedded default: a local process pool. Team mode: a Dask scheduler, e.g.
# address = "tcp://dask.internal:8786"

[review]
serving_alias = "champion"
# Aliases only an approved version may take (compared in lower case):
serving_aliases = ["champion", "production", "prod", "live"]
reviewers = []
"""
