"""Reaching MLflow: the lazy import, its error wrapping, and the embedded SQLite store.

Every MLflow call of the adapter runs inside :func:`_wrap`, so no MLflow exception escapes the
public API; :func:`create_local_store` makes the embedded store a new workspace starts with.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, TrackingError, WorkspaceCorrupt, WorkspaceError

if TYPE_CHECKING:
    pass

__all__ = ["create_local_store"]


_uri_lock = threading.Lock()


@contextlib.contextmanager
def _wrap(what: str, uri: str | None = None) -> Iterator[None]:
    try:
        yield
    except (TrackingError, NotFound, WorkspaceError):
        raise
    except ImportError as exc:  # a database driver (psycopg, pymysql ...) the tracking URI needs
        if exc.name and exc.name.split(".")[0] in _DRIVERS:
            from ..store.metadata import driver_missing

            raise driver_missing(uri or exc.name, exc, what="the MLflow tracking store") from None
        raise
    except Exception as exc:  # MLflow raises MlflowException and plain errors alike
        from mlflow.exceptions import MlflowException
        from sqlalchemy.exc import DatabaseError

        if isinstance(exc, DatabaseError) or isinstance(exc.__cause__, DatabaseError):
            cause = getattr(exc, "orig", None) or exc.__cause__ or exc
            where = uri.removeprefix("sqlite:///") if uri and uri.startswith("sqlite:///") else (uri or "the tracking store")
            raise WorkspaceCorrupt(
                f"the MLflow store {where} cannot be read: {str(cause).splitlines()[0][:200]}",
                value=where,
                hint="the file is damaged or truncated; restore .mlops/mlflow.db from a backup",
            ) from None
        if isinstance(exc, (MlflowException, OSError, ValueError)):
            raise TrackingError(
                f"MLflow failed to {what}: {exc}", hint="check the tracking URI and that the store is reachable"
            ) from exc
        raise


#: Python database drivers SQLAlchemy may import for a tracking URI.
_DRIVERS = {"psycopg", "psycopg2", "pg8000", "asyncpg", "pymysql", "MySQLdb", "pymssql", "pyodbc", "cx_Oracle", "oracledb"}


def _import_mlflow() -> Any:
    """Import mlflow with its usage telemetry off: this toolkit must work air-gapped and never phone home."""
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    return mlflow


def create_local_store(tracking_uri: str, artifact_root: str) -> None:
    """Create MLflow's SQLite schema with the workspace's artifact folder as the default root.

    Creating the store ourselves (instead of letting the first client do it) pins the
    ``Default`` experiment's artifact location inside ``.mlops/artifacts`` rather than a
    ``./mlruns`` folder relative to whatever the working directory happened to be.
    """
    import logging

    quiet = [logging.getLogger(n) for n in ("mlflow.store.db.utils", "alembic.runtime.migration")]
    levels = [log.level for log in quiet]
    with _wrap("create its SQLite store", tracking_uri):
        _import_mlflow()
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        for log in quiet:
            log.setLevel(logging.WARNING)
        try:
            Path(artifact_root).mkdir(parents=True, exist_ok=True)
            store = SqlAlchemyStore(tracking_uri, Path(artifact_root).resolve().as_uri())  # type: ignore[no-untyped-call]
            store.engine.dispose()
        finally:
            for log, level in zip(quiet, levels, strict=True):
                log.setLevel(level)
