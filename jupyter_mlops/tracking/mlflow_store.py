"""Reaching MLflow: the lazy import, its error wrapping, the embedded SQLite store and runs as plain data.

Every MLflow call of the adapter runs inside :func:`_wrap`, so no MLflow exception escapes the
public API; :func:`create_local_store` makes the embedded store a new workspace starts with.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import NotFound, PermissionDenied, TrackingError, WorkspaceCorrupt, WorkspaceError

__all__ = ["create_local_store"]


_uri_lock = threading.Lock()
_MAX_PARAM = 6000


@contextlib.contextmanager
def _wrap(what: str, uri: str | None = None) -> Iterator[None]:
    try:
        yield
    except (TrackingError, NotFound, WorkspaceError, PermissionDenied):
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
        refused = _refusal(exc, what, uri)
        if refused is not None:
            raise refused from None
        if isinstance(exc, (MlflowException, OSError, ValueError)):
            raise TrackingError(
                f"MLflow failed to {what}: {exc}", hint="check the tracking URI and that the store is reachable"
            ) from exc
        raise


def _refusal(exc: Exception, what: str, uri: str | None) -> PermissionDenied | None:
    """A tracking server's 401 / 403 as one clear error (MLflow's basic-auth app answers with these)."""
    code = getattr(exc, "error_code", None)
    if code not in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
        return None
    from mlflow.utils.credentials import read_mlflow_creds

    user = read_mlflow_creds().username
    server = uri or "the tracking server"
    if code == "UNAUTHENTICATED" and user:
        return PermissionDenied(
            f"the MLflow server {server} refused to {what}: it did not accept the password of user {user!r}",
            value=user,
            hint="check MLFLOW_TRACKING_PASSWORD (or ~/.mlflow/credentials) for that user; an MLflow admin can reset it",
        )
    if code == "UNAUTHENTICATED" or not user:
        return PermissionDenied(
            f"the MLflow server {server} refused to {what}: it needs a user name and password",
            value=server,
            hint="set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or write ~/.mlflow/credentials)",
        )
    writes = not what.startswith(("read", "look up", "search", "list", "connect"))
    needs = "EDIT" if writes else "READ"
    return PermissionDenied(
        f"the MLflow server {server} refused to {what}: its user {user!r} lacks {needs} permission there",
        value=user,
        hint=f"{'writing' if writes else 'reading'} needs a role with {needs} on the experiment or model "
        "(researcher or reviewer to write): an admin grants it in config.toml and runs `jupyter-mlops access sync`",
    )


#: Python database drivers SQLAlchemy may import for a tracking URI.
_DRIVERS = {"psycopg", "psycopg2", "pg8000", "asyncpg", "pymysql", "MySQLdb", "pymssql", "pyodbc", "cx_Oracle", "oracledb"}


def _import_mlflow() -> Any:
    """Import mlflow with its usage telemetry off: this toolkit must work air-gapped and never phone home."""
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # Against a tracking server MLflow prints "View run ... at: URL" on every run end; a library never prints.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
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


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 3] + "..."


def _activity_ms(run: Any) -> int:
    """A run's last sign of life: the latest of its start time and its metrics' timestamps."""
    stamps = [int(m.timestamp) for m in getattr(run.data, "_metric_objs", ()) if getattr(m, "timestamp", None)]
    return max([int(run.info.start_time or 0), *stamps])


def _run_dict(run: Any) -> dict[str, Any]:
    return {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "name": run.info.run_name,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": {k: v for k, v in run.data.tags.items()},
        "artifact_uri": run.info.artifact_uri,
    }
