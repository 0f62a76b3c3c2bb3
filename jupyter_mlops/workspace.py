"""The composition root: settings, stores and the acting identity, in one object.

Every mutating call goes through a :class:`Workspace`, so every front-end (Python, magics, CLI,
REST, widgets) is audited and lineage-linked the same way. Capabilities never see the workspace
itself: they are handed it as a :class:`~jupyter_mlops.core.context.Context` (the write
transaction, a read connection, ``record``, ``link``, the acting identity, the stores, the tracking
back-end, the settings values and ``authorize``), so a metadata write and its audit event commit
together or not at all, and each capability is given the capabilities it builds on here, in one
place (the ``data`` ... ``cards`` properties below).

Opening a workspace, and every listing of runs, reaps the runs whose owner process is gone
(:mod:`jupyter_mlops.tracking.liveness`); a workspace this user cannot write (an archived or
evidence copy) opens read-only: everything reads, nothing is written, and a write is refused with
"read-only workspace".
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings, resolve_settings, settings_context
from .core.entities import AuditEvent, AuditVerification
from .errors import InvalidInput, MlopsError, PermissionDenied
from .wiring import SCHEMA_MODULES, CapabilityWiring

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .lineage.graph import LineageGraph
    from .store.fsspec_objects import FsspecObjectStore
    from .store.metadata import MetadataStore
    from .store.objects import ObjectStore
    from .tracking.entities import RunTable
    from .tracking.liveness import Reaped
    from .tracking.mlflow_backend import MlflowBackend
    from .tracking.runs import ActiveRun

__all__ = ["SCHEMA_MODULES", "Workspace"]

log = logging.getLogger("jupyter_mlops.workspace")


class Workspace(CapabilityWiring):
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
        identity_source: str | None = None,
        services: Mapping[str, Any] | None = None,
    ) -> Workspace:
        """Open the workspace at ``root`` or the nearest one above ``start`` (default: cwd).

        ``identity_source`` says where ``user`` came from (see :data:`jupyter_mlops.config.IDENTITY_SOURCES`);
        every audit event records it. ``services`` overrides the service settings (see
        :meth:`services`): how a Dask worker started elsewhere opens the same stores as the process
        that sent it a stage.
        """
        with settings_context(**dict(services or {})):
            settings = resolve_settings(root, user=user, start=start, identity_source=identity_source)
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
        A kernel handed this workspace's ``user`` also gets its ``identity_source``, so the events
        it writes say where that name came from (a JupyterHub user stays ``jupyterhub``).
        """
        from .config import child_env

        if "user" in values:
            values.setdefault("identity_source", self.identity_source)
        return child_env(**values)

    def opener(self) -> functools.partial[Workspace]:
        """A picklable callable that opens this workspace again (in a worker process) as the same actor.

        It carries the workspace's service settings (:meth:`services`, no credentials), so a Dask
        worker started elsewhere, without this process's ``JUPYTER_MLOPS_*`` variables, opens the
        same tracking server, metadata database and object store.
        """
        return functools.partial(
            Workspace.open,
            str(self.settings.root),
            user=self.actor,
            identity_source=self.identity_source,
            services=self.services(),
        )

    def for_stage(self, parent_run_id: str | None) -> Workspace:
        """The same workspace (and stores) with its own settings, runs opened in it children of ``parent_run_id``."""
        other = self.as_user(self.actor)
        other.settings = self._with(parent_run_id=parent_run_id)
        return other

    def as_user(self, user: str, *, source: str | None = None) -> Workspace:
        """The same workspace acting as another identity (the server passes the Jupyter user).

        ``source`` is where that identity came from (``jupyterhub``, ``identity-provider``,
        ``server-owner`` ...); ``None`` keeps this workspace's.
        """
        from .config import IDENTITY_SOURCES

        if not isinstance(user, str) or not user.strip() or len(user) > 256 or "\x00" in user:
            raise InvalidInput("invalid user name", value=repr(user)[:80], field="user")
        if source is not None and source not in IDENTITY_SOURCES:
            raise InvalidInput(f"unknown identity source {source!r}", value=source, hint="one of " + ", ".join(IDENTITY_SOURCES))
        other = Workspace(self._with(user=user.strip(), identity_source=source or self.identity_source))
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
        from .store.metadata import cannot_write

        return self.settings.read_only or cannot_write(self.settings.metadata_url)

    def reap(self) -> tuple[Reaped, ...]:
        """Close the runs and pipeline runs whose owner process is gone; what was closed.

        Each gets status KILLED (in MLflow too), an end time of its last sign of life and a
        ``run.reaped`` audit event naming the reason. Cheap when nothing is stale (one query, no
        MLflow import); a read-only workspace is never changed.
        """
        from .pipelines.liveness import reap_pipeline_runs
        from .tracking import liveness

        self._ensure_schema()
        liveness.add_reaper("pipeline_runs", reap_pipeline_runs)  # a dead pipeline's rows close with its runs
        return liveness.reap_stale(self)

    def _reap_quietly(self) -> None:
        """Reap on open; a problem here (an unreachable tracking server ...) must not stop the open."""
        from .governance import access

        if access.enforced(self.settings.extra) and not access.allowed(self.roles_of(), "read"):
            return  # an identity with no role changes nothing, not even by opening
        try:
            self.reap()
        except MlopsError as err:
            log.warning("jupyter-mlops: could not close runs left open by processes that are gone: %s", err)

    # -- stores -----------------------------------------------------------------------------
    @property
    def actor(self) -> str:
        """The identity every record of this workspace object is written as."""
        return self.settings.user

    @property
    def identity_source(self) -> str:
        """Where :attr:`actor` came from (``local``, ``server-owner``, ``jupyterhub``, ``identity-provider``)."""
        return self.settings.identity_source

    @cached_property
    def db(self) -> MetadataStore:
        from .store.metadata import MetadataStore

        return MetadataStore(self.settings.metadata_url, read_only=self.read_only, passfile=self.settings.metadata_passfile)

    @cached_property
    def objects(self) -> ObjectStore | FsspecObjectStore:
        """The object store: a folder (local or a shared mount), or any other fsspec URL."""
        from .store.fsspec_objects import open_store

        return open_store(self.settings.object_store, read_only=self.read_only, options=self.settings.object_store_options)

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

    # -- the context every capability is handed (jupyter_mlops.core.context.Context) ----------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; the metadata rows and audit events written in it commit together."""
        from .audit import checkpoints

        self._ensure_schema()
        try:
            with self.db.write() as conn:
                try:
                    yield conn
                finally:
                    signed = checkpoints.take(conn)
                    recorded = conn.info.pop("mlops_events", [])
        except PermissionDenied as err:
            refused = getattr(err, "refused", None)
            if refused is not None:  # the refused write rolled back; its refusal is recorded on its own
                self._audit_refusal(refused[0], refused[1], self.roles_of())
            raise
        checkpoints.publish(signed, self.settings)  # only once committed: the checkpoints it signed, to the files
        if recorded and "openlineage" in self.settings.extra:
            from .lineage.openlineage import send

            send(recorded, self.settings)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read connection of the metadata database, its schema current (``read`` is role-gated when enforced)."""
        self.authorize("read", "workspace")
        self._ensure_schema()
        with self.db.read() as conn:
            yield conn

    def record(
        self, conn: Connection, action: str, object_type: str, object_id: str, payload: dict[str, Any] | None = None
    ) -> AuditEvent:
        """Append an audit event inside ``conn``'s transaction, as :attr:`actor`.

        The payload also records ``identity_source`` (where the actor's name came from), inside
        the event's hash.
        """
        from .audit import checkpoints
        from .audit.chain import append

        self._check_action(action, f"{object_type}:{object_id}")
        body = {**(payload or {}), "identity_source": self.identity_source}
        event = append(conn, actor=self.actor, action=action, object_type=object_type, object_id=object_id, payload=body)
        checkpoints.on_event(conn, self.settings, event)  # signed in this transaction when the event asks for it
        conn.info.setdefault("mlops_events", []).append(event)  # for OpenLineage, once committed
        return event

    def _check_action(self, action: str, resource: str) -> None:
        """Deny by default: with ``[access] mode = "enforce"`` an audited action needs a role granting it.

        The refusal is raised inside the caller's transaction (so nothing of it is written) and
        audited by :meth:`transaction` once that rolled back.
        """
        from .governance import access

        self.refresh_access()
        if action != "access.denied" and access.enforced(self.settings.extra) and not access.allowed(self.roles_of(), action):
            err = self._denied(action, resource)
            err.refused = (action, resource)  # type: ignore[attr-defined]
            raise err

    def link(
        self, conn: Connection, src: tuple[str, str], relation: str, dst: tuple[str, str], payload: dict[str, Any] | None = None
    ) -> bool:
        """Write a lineage edge inside ``conn``'s transaction."""
        from .lineage.graph import add_edge

        return add_edge(conn, actor=self.actor, src=src, relation=relation, dst=dst, payload=payload)

    def roles_of(self, user: str | None = None) -> set[str]:
        """The roles ``user`` (default: the actor) holds (:func:`jupyter_mlops.governance.access.roles_of`).

        Read from ``config.toml`` as it is now: a reviewer added there counts without reopening.
        """
        from .governance.access import roles_of

        self.refresh_access()
        return roles_of(self.settings.extra, self.settings.reviewers, user or self.actor)

    def refresh_access(self) -> None:
        """Re-read reviewers, ``[roles]`` and ``[access]`` if ``config.toml`` changed (one ``stat`` otherwise)."""
        from .config import refresh_access

        self.settings = refresh_access(self.settings)

    def authorize(self, permission: str, resource: str = "", *, owner: str | None = None) -> None:
        """Refuse (and audit the refusal) unless the actor may do ``permission`` on ``resource``.

        With ``[access] mode = "enforce"`` every action is checked against the roles, denying by
        default (:mod:`jupyter_mlops.governance.access`); with ``mode = "open"`` (the default)
        only approvals are.
        """
        from .governance import access

        self.refresh_access()
        if not access.enforced(self.settings.extra) and permission != "model.approve":
            return
        roles = self.roles_of()
        if access.allowed(roles, permission, owner=owner is not None and owner == self.actor):
            return
        self._audit_refusal(permission, resource, roles)
        raise self._denied(permission, resource)

    def _denied(self, permission: str, resource: str) -> PermissionDenied:
        from .governance.access import denied

        return denied(self.actor, permission, resource)

    def _audit_refusal(self, permission: str, resource: str, roles: set[str]) -> None:
        with self.transaction() as conn:
            self.record(conn, "access.denied", "permission", permission, {"resource": resource, "roles": sorted(roles)})

    # -- audit ------------------------------------------------------------------------------
    def verify_audit(self) -> AuditVerification:
        """Recompute the audit chain; the result names the first bad event, if any."""
        from .audit.queries import verify

        return verify(self)

    def audit_events(self, **filters: Any) -> list[AuditEvent]:
        """Audit events filtered by ``actor``, ``action`` (``run.*``), ``object_type``, ``object_id``,
        ``since``, ``until``, paged by ``limit`` and ``offset``, newest first (see
        :func:`jupyter_mlops.audit.queries.events`)."""
        from .audit.queries import events

        return events(self, **filters)

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

        return ActiveRun(self, name, experiment=experiment, params=params, tags=tags, source=source, autolog=autolog, kind=kind)

    def resolve_run_id(self, run_id: str) -> str:
        """The MLflow run id that ``run_id`` names: a run id as it is, or a stage record's ``stage_run_id``.

        ``jupyter-mlops run --json`` prints both ids for every stage; either one works wherever a
        run id is asked for (``runs show``, ``rerun``, the REST run routes). An id that is
        neither is returned unchanged, so the caller reports it as not found.
        """
        from .pipelines.queries import resolve_run_id

        return resolve_run_id(self, run_id)

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
        with_metrics: bool = True,
    ) -> RunTable:
        """Recorded runs newest first, with their MLflow parameters and metrics for the page shown.

        See :func:`jupyter_mlops.tracking.queries.list_runs` (runs whose process died are closed first).
        """
        from .tracking.queries import list_runs

        return list_runs(self, experiment=experiment, status=status, limit=limit, offset=offset, with_metrics=with_metrics)

    # -- lineage ----------------------------------------------------------------------------
    def lineage(self, node_type: str, node_id: str) -> LineageGraph:
        """Everything connected to ``node_type:node_id`` in the lineage graph."""
        from .lineage.queries import graph

        return graph(self, node_type, node_id)

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.settings.root)!r}, user={self.actor!r})"

    def _repr_html_(self) -> str:
        from .core.entities import escape

        return f"<b>jupyter-mlops workspace</b> <code>{escape(self.settings.root)}</code> as <b>{escape(self.actor)}</b>"
