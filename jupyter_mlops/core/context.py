"""The narrow context: what a capability may ask of the workspace, as Protocols.

A capability (tracking, data, quality, registry, evaluation, cards ...) is handed a
:class:`Context` and uses nothing else of the workspace: the write transaction and a read
connection of the metadata database, :meth:`Context.record` (an audit event inside that
transaction) and :meth:`Context.link` (a lineage edge inside it), the acting identity, the object
store, the tracking back-end, the settings values it is given and :meth:`Context.authorize`.
:class:`jupyter_mlops.workspace.Workspace` implements it; a capability never imports the
workspace, the fluent layer or the configuration, so every import points down.

The stores and the back-end are typed by the roles they play here (:class:`ObjectStore`,
:class:`TrackingBackend`), not by their implementations, which live above this package. At run
time this module needs only the standard library (SQLAlchemy's ``Connection`` is a type here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .entities import AuditEvent

__all__ = ["Context", "ObjectStore", "SettingsView", "StoredRef", "TrackingBackend"]


class SettingsView(Protocol):
    """The settings values capabilities read (a :class:`jupyter_mlops.config.Settings` is one)."""

    @property
    def root(self) -> Path:
        """The project folder that holds ``.mlops/``."""
        ...

    @property
    def home(self) -> Path:
        """The ``.mlops/`` folder."""
        ...

    @property
    def metadata_url(self) -> str:
        """The metadata database's URL (also this process's key for its run owner)."""
        ...

    @property
    def workspace_id(self) -> str: ...

    @property
    def default_experiment(self) -> str: ...

    @property
    def serving_alias(self) -> str: ...

    @property
    def serving_aliases(self) -> tuple[str, ...]: ...

    @property
    def parent_run_id(self) -> str | None:
        """The stage run a notebook kernel runs under (set by the pipeline runner)."""
        ...

    @property
    def notebook_path(self) -> str | None:
        """The notebook a kernel executes (set by the pipeline runner)."""
        ...

    @property
    def executor(self) -> str:
        """Where pipelines run unless told otherwise: ``local`` or a Dask scheduler address."""
        ...

    @property
    def extra(self) -> Mapping[str, Any]:
        """The other tables of config.toml (``[audit]``, ``[access]``, ``[models]`` ...), unparsed."""
        ...


class StoredRef(Protocol):
    """What storing bytes returns."""

    @property
    def object_id(self) -> str: ...

    @property
    def size(self) -> int: ...


class ObjectStore(Protocol):
    """The content-addressed object store (:class:`jupyter_mlops.store.objects.ObjectStore`)."""

    def check(self, object_id: str) -> None:
        """Refuse an id that is not an object of this store (or a link out of it)."""
        ...

    def put_bytes(self, data: bytes) -> StoredRef:
        """Store ``data`` once; its id is its sha256."""
        ...

    def put_file(self, source: str | Path) -> StoredRef:
        """Store a file's bytes once."""
        ...

    def put_stream(self, write: Callable[[BinaryIO], object]) -> StoredRef:
        """Store what ``write`` writes to the file it is given (hashed on the way to disk) once."""
        ...

    def open_verified(self, object_id: str) -> bytes:
        """The bytes of an object after re-hashing them."""
        ...

    def verify(self, object_id: str) -> str | None:
        """``None`` when the object is intact, else what is wrong."""
        ...

    def iter_ids(self) -> Iterator[str]:
        """Every object id in the store."""
        ...


class TrackingBackend(Protocol):
    """The tracking back-end role (:class:`jupyter_mlops.tracking.mlflow_backend.MlflowBackend`).

    Runs are plain data here (``dict``: ``run_id``, ``experiment_id``, ``name``, ``status``,
    ``start_time``, ``end_time`` in ms, ``params``, ``metrics``, ``tags``, ``artifact_uri``).
    """

    def experiment_id(self, name: str, *, create: bool = True) -> str: ...

    def experiment_name(self, experiment_id: str) -> str: ...

    def start_run(
        self, *, experiment_id: str, name: str, tags: Mapping[str, str], parent_run_id: str | None = None
    ) -> tuple[str, str]: ...

    def log_batch(
        self,
        run_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | list[tuple[str, float, int, int]] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None: ...

    def log_text(self, run_id: str, text: str, artifact_file: str, *, artifact_uri: str | None = None) -> None: ...

    def log_artifact(self, run_id: str, path: str | Path, artifact_path: str | None = None) -> None: ...

    def end_run(self, run_id: str, status: str) -> None: ...

    def open_runs(self, filter_string: str, *, max_results: int = 1000) -> list[dict[str, Any]]: ...

    def run_state(self, run_id: str) -> dict[str, Any] | None: ...

    def terminate(self, run_id: str, status: str, end_time_ms: int, tags: Mapping[str, str] | None = None) -> None: ...

    def get_run(self, run_id: str) -> dict[str, Any]: ...

    def search_runs(
        self,
        experiment_ids: list[str],
        *,
        filter_string: str = "",
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    def read_text_artifact(self, run_id: str, artifact_file: str, *, max_bytes: int = 200_000) -> str | None: ...

    def metric_history(self, run_id: str, key: str, *, max_points: int = 2000) -> list[tuple[int, float]]: ...

    def autolog(self, enable: bool = True) -> None: ...


class Context(Protocol):
    """What a capability sees of the workspace; :class:`~jupyter_mlops.workspace.Workspace` is one.

    Every write goes through :meth:`transaction`, and the audit event (:meth:`record`) and lineage
    edges (:meth:`link`) of a write are made inside it, so they commit with the data or not at all.
    """

    @property
    def actor(self) -> str:
        """The identity every record is written as."""
        ...

    @property
    def settings(self) -> SettingsView: ...

    @property
    def read_only(self) -> bool:
        """Whether nothing may be written (an evidence copy, ``JUPYTER_MLOPS_READ_ONLY=1``)."""
        ...

    @property
    def objects(self) -> ObjectStore: ...

    @property
    def tracking(self) -> TrackingBackend: ...

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction of the metadata database (``BEGIN IMMEDIATE`` on SQLite)."""
        ...

    def read(self) -> AbstractContextManager[Connection]:
        """A read connection of the metadata database (its schema is current)."""
        ...

    def record(
        self, conn: Connection, action: str, object_type: str, object_id: str, payload: dict[str, Any] | None = None
    ) -> AuditEvent:
        """Append an audit event inside ``conn``'s transaction, as :attr:`actor`."""
        ...

    def link(
        self, conn: Connection, src: tuple[str, str], relation: str, dst: tuple[str, str], payload: dict[str, Any] | None = None
    ) -> bool:
        """Write a lineage edge inside ``conn``'s transaction; ``False`` when it existed."""
        ...

    def authorize(self, permission: str, resource: str = "", *, owner: str | None = None) -> None:
        """Refuse (and audit the refusal) unless the actor may do ``permission`` on ``resource``."""
        ...
