"""The composition root: settings, stores and the acting identity, in one object.

Every mutating call goes through a :class:`Workspace`, so every front-end (Python, magics, CLI,
REST, widgets) is audited and lineage-linked the same way. Capabilities receive the workspace and
use three things from it: :meth:`Workspace.transaction` (a ``BEGIN IMMEDIATE`` write
transaction), :meth:`Workspace.record` (append the audit event inside it) and
:meth:`Workspace.link` (a lineage edge inside it), so a metadata write and its audit event commit
together or not at all.

Opening a workspace, and every listing of runs, reaps the runs whose owner process is gone
(:mod:`jupyter_mlops.tracking.liveness`); a workspace this user cannot write (an archived or
evidence copy) opens read-only: everything reads, nothing is written, and a write is refused with
"read-only workspace".
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import CONFIG_FILE, CONFIG_TEMPLATE, WORKSPACE_DIR, Settings, resolve_settings, settings_context
from .core.entities import AuditEvent, AuditVerification, RunInfo
from .errors import InvalidInput, MlopsError, PermissionDenied, WorkspaceCorrupt

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .cards.service import CardService
    from .data.service import DataService
    from .evaluation.service import EvaluationService
    from .lineage.graph import LineageGraph
    from .pipelines.service import PipelineService
    from .quality.service import QualityService
    from .registry.service import ModelRegistry
    from .store.fsspec_objects import FsspecObjectStore
    from .store.metadata import MetadataStore
    from .store.objects import ObjectStore
    from .tracking.liveness import Reaped
    from .tracking.mlflow_backend import MlflowBackend
    from .tracking.runs import ActiveRun, RunTable

__all__ = ["Workspace", "init"]

log = logging.getLogger("jupyter_mlops.workspace")

#: Modules whose ``SCHEMA`` component is migrated when a workspace opens.
SCHEMA_MODULES = (
    "jupyter_mlops.audit.chain",
    "jupyter_mlops.tracking.schema",
    "jupyter_mlops.lineage.schema",
    "jupyter_mlops.data.schema",
    "jupyter_mlops.registry.schema",
    "jupyter_mlops.quality.schema",
    "jupyter_mlops.evaluation.schema",
    "jupyter_mlops.cards.schema",
    "jupyter_mlops.pipelines.schema",
    "jupyter_mlops.serving.schema",
)

#: Who may do what when ``[access] mode = "enforce"``: permission -> roles (``owner`` = the creator).
PERMISSIONS: dict[str, frozenset[str]] = {
    "data.read_sensitive": frozenset({"owner", "data_steward", "admin"}),
    "model.approve": frozenset({"reviewer"}),
    "model.promote": frozenset({"owner", "reviewer", "admin"}),
    "audit.export": frozenset({"auditor", "admin"}),
}


class Workspace:
    """One project's settings, metadata database, object store, tracking back-end and identity.

    Open one with :meth:`Workspace.open` (discovery like git) or :func:`init`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._migrated = False

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        root: str | Path | None = None,
        *,
        user: str | None = None,
        start: str | Path | None = None,
        services: Mapping[str, Any] | None = None,
    ) -> Workspace:
        """Open the workspace at ``root`` or the nearest one above ``start`` (default: cwd).

        ``services`` overrides the service settings (see :meth:`services`): how a Dask worker
        started elsewhere opens the same stores as the process that sent it a stage.
        """
        with settings_context(**dict(services or {})):
            settings = resolve_settings(root, user=user, start=start)
        ws = cls(settings)
        ws._ensure_schema()
        return ws

    def services(self) -> dict[str, Any]:
        """Where this workspace's stores are (URLs with any password stripped), for :meth:`open`.

        A worker given these reaches the same stores with its own credentials (a ``.pgpass``
        file, MLflow's variables): no secret travels with a task.
        """
        from .config import TEAM_KEYS
        from .core.urls import strip_password

        values = {name: getattr(self.settings, name) for name in TEAM_KEYS}
        return {k: strip_password(v) if isinstance(v, str) else v for k, v in values.items() if v not in (None, "")}

    def child_env(self, **values: str) -> dict[str, str]:
        """The environment for a child process (a notebook kernel) with ``JUPYTER_MLOPS_*`` values set.

        Lets the orchestration layer build a kernel environment without importing :mod:`.config`.
        """
        from .config import child_env

        return child_env(**values)

    def as_user(self, user: str) -> Workspace:
        """The same workspace acting as another identity (the server passes the Jupyter user)."""
        if not isinstance(user, str) or not user.strip() or len(user) > 256 or "\x00" in user:
            raise InvalidInput("invalid user name", value=repr(user)[:80], field="user")
        other = Workspace(self._with(user=user.strip()))
        other.__dict__.update({k: v for k, v in self.__dict__.items() if k in ("db", "objects", "tracking", "read_only")})
        other._migrated = self._migrated
        return other

    def _with(self, **changes: Any) -> Settings:
        import dataclasses

        return dataclasses.replace(self.settings, **changes)

    def upgrade_schema(self, *, target: str = "head") -> Any:
        """Apply the pending schema revisions (``jupyter-mlops db upgrade``); the way a shared database is upgraded.

        Returns the :class:`~jupyter_mlops.store.migrations.SchemaStatus` after it. Asking for a
        revision older than the database's is refused (:class:`~jupyter_mlops.errors.Conflict`).
        """
        components = [importlib.import_module(m).SCHEMA for m in SCHEMA_MODULES]
        self.db.migrate(components, upgrade=True, target=target)
        self._migrated = True
        return self.db.status()

    def _ensure_schema(self) -> None:
        if self._migrated:
            return
        components = [importlib.import_module(m).SCHEMA for m in SCHEMA_MODULES]
        self.db.migrate(components)
        self._migrated = True
        self._reap_quietly()

    # -- liveness ---------------------------------------------------------------------------
    @cached_property
    def read_only(self) -> bool:
        """Whether this workspace is opened for reading only.

        True with ``JUPYTER_MLOPS_READ_ONLY=1``, or when this user cannot write the ``.mlops/``
        folder or its SQLite metadata database (an archived or evidence copy).
        """
        from .store.metadata import sqlite_path

        if self.settings.read_only:
            return True
        path = sqlite_path(self.settings.metadata_url)
        if path is None:
            return False  # a database server decides for itself
        folder = os.path.dirname(path) or "."
        return not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK))

    def reap(self) -> tuple[Reaped, ...]:
        """Close the runs and pipeline runs whose owner process is gone; what was closed.

        Each gets status KILLED (in MLflow too), an end time of its last sign of life and a
        ``run.reaped`` audit event naming the reason. Cheap when nothing is stale (one query, no
        MLflow import); a read-only workspace is never changed.
        """
        from .tracking import liveness

        self._ensure_schema()
        if self.read_only:
            return ()
        dead = liveness.dead_owners(self)
        if not dead:
            return ()
        from .pipelines.liveness import reap_pipeline_runs

        return tuple(liveness.reap(self, dead, extra=(reap_pipeline_runs,)))

    def _reap_quietly(self) -> None:
        """Reap on open; a problem here (an unreachable tracking server ...) must not stop the open."""
        try:
            self.reap()
        except MlopsError as err:
            log.warning("jupyter-mlops: could not close runs left open by processes that are gone: %s", err)

    # -- stores -----------------------------------------------------------------------------
    @property
    def actor(self) -> str:
        """The identity every record of this workspace object is written as."""
        return self.settings.user

    @cached_property
    def db(self) -> MetadataStore:
        from .store.metadata import MetadataStore

        return MetadataStore(self.settings.metadata_url, read_only=self.read_only, passfile=self.settings.metadata_passfile)

    @cached_property
    def objects(self) -> ObjectStore | FsspecObjectStore:
        """The object store: a folder (local or a shared mount), or any other fsspec URL."""
        from .store.objects import ObjectStore

        url = self.settings.object_store
        if "://" in url and not url.startswith("file://"):
            from .store.fsspec_objects import FsspecObjectStore

            return FsspecObjectStore(url, read_only=self.read_only, options=self.settings.object_store_options)
        return ObjectStore(url.removeprefix("file://"), read_only=self.read_only)

    @cached_property
    def tracking(self) -> MlflowBackend:
        from .tracking.mlflow_backend import MlflowBackend

        s = self.settings
        return MlflowBackend(
            s.tracking_uri,
            s.registry_uri,
            s.artifact_location,
            read_only=self.read_only,
            workspace=s.tracking_workspace,
            id_map=self._id_map,
        )

    def _id_map(self) -> Any:
        """Recorded id -> MLflow id of a copied workspace (:mod:`jupyter_mlops.store.team`); read once."""
        from .store.team import load_id_map

        with self.db.read() as conn:
            return load_id_map(conn)

    # -- the three primitives every capability uses -------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; the metadata rows and audit events written in it commit together."""
        self._ensure_schema()
        with self.db.write() as conn:
            yield conn

    def record(
        self, conn: Connection, action: str, object_type: str, object_id: str, payload: dict[str, Any] | None = None
    ) -> AuditEvent:
        """Append an audit event inside ``conn``'s transaction, as :attr:`actor`."""
        from .audit.chain import append

        return append(conn, actor=self.actor, action=action, object_type=object_type, object_id=object_id, payload=payload)

    def link(
        self, conn: Connection, src: tuple[str, str], relation: str, dst: tuple[str, str], payload: dict[str, Any] | None = None
    ) -> bool:
        """Write a lineage edge inside ``conn``'s transaction."""
        from .lineage.graph import add_edge

        return add_edge(conn, actor=self.actor, src=src, relation=relation, dst=dst, payload=payload)

    def roles_of(self, user: str | None = None) -> set[str]:
        """The roles ``user`` (default: the actor) holds under ``[roles]`` and ``[review] reviewers``."""
        who = user or self.actor
        roles = {name for name, members in dict(self.settings.extra.get("roles", {})).items() if who in (members or [])}
        if who in self.settings.reviewers:
            roles.add("reviewer")
        return roles

    def authorize(self, permission: str, resource: str = "", *, owner: str | None = None) -> None:
        """Refuse (and audit the refusal) unless the actor may do ``permission`` on ``resource``.

        With ``[access] mode = "open"`` (the default) only role-gated review actions are checked;
        with ``mode = "enforce"`` every permission in :data:`PERMISSIONS` is.
        """
        allowed = PERMISSIONS.get(permission)
        if allowed is None:
            return
        mode = str(dict(self.settings.extra.get("access", {})).get("mode", "open"))
        if mode != "enforce" and permission not in ("model.approve",):
            return
        roles = self.roles_of()
        if owner is not None and owner == self.actor:
            roles.add("owner")
        if roles & allowed:
            return
        with self.transaction() as conn:
            self.record(conn, "access.denied", "permission", permission, {"resource": resource, "roles": sorted(roles)})
        raise PermissionDenied(
            f"{self.actor} may not {permission} on {resource or 'this workspace'}",
            value=self.actor,
            hint=f"it needs one of the roles {', '.join(sorted(allowed))} (set in .mlops/config.toml)",
        )

    # -- audit ------------------------------------------------------------------------------
    def verify_audit(self) -> AuditVerification:
        """Recompute the audit chain; the result names the first bad event, if any."""
        from .audit.chain import verify_chain

        self._ensure_schema()
        with self.db.read() as conn:
            return verify_chain(conn)

    def audit_events(self, **filters: Any) -> list[AuditEvent]:
        """Audit events filtered by ``actor``, ``action`` (``run.*``), ``object_type``, ``object_id``,
        ``since``, ``until``, paged by ``limit`` and ``offset``, newest first."""
        from .audit.chain import list_events

        self._ensure_schema()
        with self.db.read() as conn:
            return list_events(conn, **filters)

    # -- runs -------------------------------------------------------------------------------
    def start_run(
        self,
        name: str,
        *,
        experiment: str | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        source: dict[str, Any] | None = None,
        autolog: bool = False,
        kind: str = "run",
    ) -> ActiveRun:
        """A tracked run, to use as a context manager; see :class:`~jupyter_mlops.tracking.runs.ActiveRun`."""
        from .tracking.runs import ActiveRun

        self._ensure_schema()
        return ActiveRun(self, name, experiment=experiment, params=params, tags=tags, source=source, autolog=autolog, kind=kind)

    def resolve_run_id(self, run_id: str) -> str:
        """The MLflow run id that ``run_id`` names: a run id as it is, or a stage record's ``stage_run_id``.

        ``jupyter-mlops run --json`` prints both ids for every stage; either one works wherever a
        run id is asked for (``runs show``, ``rerun``, the REST run routes). An id that is
        neither is returned unchanged, so the caller reports it as not found.
        """
        import sqlalchemy as sa

        from .core.paths import validate_object_id
        from .errors import UnsafePath
        from .tracking.schema import runs

        try:
            validate_object_id(run_id)
        except UnsafePath:
            raise InvalidInput(
                f"invalid run id {str(run_id)[:80]!r}",
                value=str(run_id)[:80],
                hint="a run id is the 32-character hex id `jupyter-mlops runs list` shows; a stage_run_id works too",
                field="run_id",
            ) from None
        self._ensure_schema()
        with self.db.read() as conn:
            known = conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == run_id)).first()
        if known is not None:
            return run_id
        return self.pipelines.run_id_of(run_id) or run_id

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
        with_metrics: bool = True,
    ) -> RunTable:
        """Runs newest first, with their MLflow parameters and metrics for the page shown."""
        import sqlalchemy as sa

        from .tracking.runs import RunTable
        from .tracking.schema import runs

        if not 1 <= int(limit) <= 10_000:
            raise InvalidInput(f"limit must be between 1 and 10000, got {limit}", value=limit, field="limit")
        self._ensure_schema()
        self._reap_quietly()
        q = sa.select(runs).order_by(runs.c.started.desc()).limit(int(limit)).offset(max(0, int(offset)))
        if experiment:
            q = q.where(runs.c.experiment == experiment)
        if status:
            q = q.where(runs.c.status == status.upper())
        with self.db.read() as conn:
            rows = conn.execute(q).all()
        details: dict[str, dict[str, Any]] = {}
        if with_metrics and rows:
            by_exp: dict[str, list[str]] = {}
            for r in rows:
                by_exp.setdefault(r.experiment_id, []).append(r.run_id)
            for exp_id, ids in by_exp.items():
                quoted = ",".join(f"'{i}'" for i in ids)
                found, _ = self.tracking.search_runs(
                    [exp_id], filter_string=f"attributes.run_id IN ({quoted})", max_results=len(ids)
                )
                details.update({d["run_id"]: d for d in found})
        return RunTable(
            tuple(
                RunInfo(
                    run_id=r.run_id,
                    experiment=r.experiment,
                    name=r.name,
                    actor=r.actor,
                    status=r.status,
                    started=r.started,
                    ended=r.ended,
                    notebook=r.notebook,
                    cell_id=r.cell_id,
                    source_sha256=r.source_sha256,
                    parent_run_id=r.parent_run_id,
                    error=r.error,
                    params=details.get(r.run_id, {}).get("params", {}),
                    metrics=details.get(r.run_id, {}).get("metrics", {}),
                    audit_seqs=tuple(s for s in (r.start_seq, r.end_seq) if s is not None),
                )
                for r in rows
            )
        )

    # -- capability services (imported on first use) ---------------------------------------
    @cached_property
    def data(self) -> DataService:
        """Data versions, snapshots and diffs (:class:`~jupyter_mlops.data.service.DataService`)."""
        from .data.service import DataService

        return DataService(self)

    @cached_property
    def quality(self) -> QualityService:
        """Quality checks (:class:`~jupyter_mlops.quality.service.QualityService`)."""
        from .quality.service import QualityService

        return QualityService(self)

    @cached_property
    def evaluation(self) -> EvaluationService:
        """Model evaluation with fairness (:class:`~jupyter_mlops.evaluation.service.EvaluationService`)."""
        from .evaluation.service import EvaluationService

        return EvaluationService(self)

    @cached_property
    def models(self) -> ModelRegistry:
        """Model logging, registry and review (:class:`~jupyter_mlops.registry.service.ModelRegistry`)."""
        from .registry.service import ModelRegistry

        return ModelRegistry(self)

    @cached_property
    def cards(self) -> CardService:
        """Model cards (:class:`~jupyter_mlops.cards.service.CardService`)."""
        from .cards.service import CardService

        return CardService(self)

    @cached_property
    def pipelines(self) -> PipelineService:
        """Notebook and pipeline runs (:class:`~jupyter_mlops.pipelines.service.PipelineService`)."""
        from .pipelines.service import PipelineService

        return PipelineService(self)

    # -- lineage ----------------------------------------------------------------------------
    def lineage(self, node_type: str, node_id: str) -> LineageGraph:
        """Everything connected to ``node_type:node_id`` in the lineage graph."""
        from .lineage.graph import walk

        self._ensure_schema()
        with self.db.read() as conn:
            return walk(conn, (node_type, node_id))

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.settings.root)!r}, user={self.actor!r})"

    def _repr_html_(self) -> str:
        from .core.entities import escape

        return f"<b>jupyter-mlops workspace</b> <code>{escape(self.settings.root)}</code> as <b>{escape(self.actor)}</b>"


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
        _create_signing_key(home / "keys")
        (home / ".gitignore").write_text("*\n!config.toml\n!.gitignore\n", encoding="utf-8")
        with settings_context(**{k: v for k, v in team.items() if k in ("tracking_uri", "metadata_url", "object_store")}):
            ws = Workspace(resolve_settings(root, user=user))
        s = ws.settings
        if s.artifact_location and "://" not in s.artifact_location:
            Path(s.artifact_location).mkdir(mode=0o700, parents=True, exist_ok=True)
        if "://" not in s.object_store:
            Path(s.object_store).mkdir(mode=0o700, parents=True, exist_ok=True)
        from .tracking.mlflow_backend import create_local_store

        if s.tracking_uri.startswith("sqlite:"):
            create_local_store(s.tracking_uri, s.artifact_location)
        ws._ensure_schema()
        with ws.transaction() as conn:
            ws.record(conn, "workspace.init", "workspace", s.workspace_id, {"root_name": root.name, "team": s.team_mode})
        return ws
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise


def _create_signing_key(keys: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    keys.mkdir(mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = keys / "audit_ed25519.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (keys / "audit_ed25519.pub").write_bytes(pub)
