"""The MLflow adapter: the only place that imports mlflow (imported lazily, on first use).

Runs are started through MLflow's fluent API, so ``mlflow.log_metric`` calls a user writes inside
a tracked cell land in the same run; everything else goes through an explicit ``MlflowClient``.
MLflow exceptions are wrapped in :class:`~jupyter_mlops.errors.TrackingError` here and never
escape the public API; a tracking server's "permission denied" (MLflow's basic-auth app) is a
:class:`~jupyter_mlops.errors.PermissionDenied` that names the MLflow user and the way to a role.

Against a tracking server the same calls go over its REST API (artifacts through its proxy, in
the MLflow workspace ``[tracking] workspace`` names on a server with workspaces). Runs a workspace
recorded before it was copied to a server have another id there: :class:`IdMap` translates them
on the way in and back (see :mod:`jupyter_mlops.store.team`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, TrackingError
from .mlflow_store import _activity_ms, _import_mlflow, _param_text, _refusal, _run_dict, _uri_lock, _wrap, create_local_store

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlflow import MlflowClient

    from ..core.context import TrackingBackend
    from ..store.team import IdMap

__all__ = ["MlflowBackend", "as_mlflow", "create_local_store"]


class MlflowBackend:
    """Tracking back-end over MLflow (SQLite file or a tracking server)."""

    def __init__(
        self,
        tracking_uri: str,
        registry_uri: str,
        artifact_location: str,
        *,
        read_only: bool = False,
        workspace: str | None = None,
        id_map: Callable[[], IdMap] | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self.artifact_location = artifact_location
        self.read_only = read_only
        self.workspace = workspace
        self._id_map_loader = id_map
        self._ids: IdMap | None = None
        self._client: MlflowClient | None = None
        self._experiments: dict[str, str] = {}
        self._stats_checked = False

    # -- plumbing -----------------------------------------------------------------------------
    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            with _wrap("connect", self.tracking_uri):
                _import_mlflow()
                from mlflow import MlflowClient

                self._use_workspace()
                self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        return self._client

    def _use_workspace(self) -> None:
        """Point MLflow's client at the server workspace this workspace uses (a process-wide setting in MLflow)."""
        if self.workspace:
            from mlflow.utils import workspace_context

            if workspace_context.get_request_workspace() != self.workspace:
                workspace_context.set_workspace(self.workspace)

    # -- ids of a workspace copied to a tracking server --------------------------------------
    @property
    def ids(self) -> IdMap:
        """Recorded id <-> MLflow id (empty unless this workspace was copied to a tracking server)."""
        if self._ids is None:
            from ..store.team import IdMap

            self._ids = self._id_map_loader() if self._id_map_loader is not None else IdMap()
        return self._ids

    def mlflow_run_id(self, run_id: str) -> str:
        """The id MLflow holds the recorded run ``run_id`` under."""
        return self.ids.to_mlflow("run", run_id) if self.ids else run_id

    def recorded_run_id(self, mlflow_run_id: str) -> str:
        """The id this workspace recorded for MLflow's run ``mlflow_run_id``."""
        return self.ids.from_mlflow("run", mlflow_run_id) if self.ids else mlflow_run_id

    def _filter_ids(self, filter_string: str) -> str:
        if not self.ids or not filter_string:
            return filter_string
        import re

        return re.sub(r"\b[0-9a-f]{32}\b", lambda m: self.mlflow_run_id(m.group(0)), filter_string)

    def _run_dict(self, run: Any) -> dict[str, Any]:
        out = _run_dict(run)
        if self.ids:
            out["run_id"] = self.recorded_run_id(out["run_id"])
            parent = out["tags"].get("mlflow.parentRunId")
            if parent:
                out["tags"]["mlflow.parentRunId"] = self.recorded_run_id(parent)
        return out

    def _activate(self) -> Any:
        mlflow = _import_mlflow()

        with _uri_lock:
            if mlflow.get_tracking_uri() != self.tracking_uri:
                mlflow.set_tracking_uri(self.tracking_uri)
            if mlflow.get_registry_uri() != self.registry_uri:
                mlflow.set_registry_uri(self.registry_uri)
            self._use_workspace()
        return mlflow

    def _artifact_location_for(self, name: str) -> str | None:
        if not self.artifact_location:  # a tracking server decides (its --artifacts-destination)
            return None
        if "://" in self.artifact_location:
            return self.artifact_location.rstrip("/") + "/" + name
        return (Path(self.artifact_location) / name).resolve().as_uri()

    # -- experiments and runs --------------------------------------------------------------------
    def experiment_id(self, name: str, *, create: bool = True) -> str:
        """The id of experiment ``name``, created (with its artifact folder) if needed."""
        cached = self._experiments.get(name)
        if cached is not None:
            return cached
        with _wrap(f"look up experiment {name!r}", self.tracking_uri):
            exp = self.client.get_experiment_by_name(name)
        if exp is None:
            if not create:
                raise NotFound(
                    f"no experiment named {name!r}", value=name, hint="`jupyter-mlops runs list` shows the experiments"
                )
            with _wrap(f"create experiment {name!r}", self.tracking_uri):
                from mlflow.exceptions import MlflowException

                try:
                    exp_id = self.client.create_experiment(name, artifact_location=self._artifact_location_for(name))
                except MlflowException as exc:  # created concurrently by another process?
                    again = self.client.get_experiment_by_name(name)
                    if again is None:
                        raise exc from None
                    exp_id = again.experiment_id
        else:
            exp_id = exp.experiment_id
        self._experiments[name] = exp_id
        return exp_id

    def experiment_name(self, experiment_id: str) -> str:
        """The name of experiment ``experiment_id`` (``"unknown"`` when MLflow has none)."""
        for name, eid in self._experiments.items():
            if eid == experiment_id:
                return name
        with _wrap(f"look up experiment {experiment_id}", self.tracking_uri):
            from mlflow.exceptions import MlflowException

            try:
                return str(self.client.get_experiment(experiment_id).name)
            except MlflowException:
                return "unknown"

    def start_run(
        self,
        *,
        experiment_id: str,
        name: str,
        tags: Mapping[str, str],
        parent_run_id: str | None = None,
    ) -> tuple[str, str]:
        """Start an MLflow run as the active fluent run; returns its id and artifact URI."""
        with _wrap("start a run", self.tracking_uri):
            mlflow = self._activate()
            nested = mlflow.active_run() is not None
            run = mlflow.start_run(
                experiment_id=experiment_id,
                run_name=name,
                nested=nested,
                parent_run_id=None if nested or parent_run_id is None else self.mlflow_run_id(parent_run_id),
                tags=dict(tags),
                log_system_metrics=False,
            )
            return str(run.info.run_id), str(run.info.artifact_uri)  # a new run: the same id on both sides

    def log_batch(
        self,
        run_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | list[tuple[str, float, int, int]] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Log params, metrics and tags in one call (one transaction on SQLite)."""
        with _wrap("log parameters and metrics", self.tracking_uri):
            from mlflow.entities import Metric, Param, RunTag

            now = int(time.time() * 1000)
            params, metrics, tags = params or {}, metrics or {}, tags or {}
            if isinstance(metrics, Mapping):
                metric_rows = [(k, float(v), now, 0) for k, v in metrics.items()]
            else:
                metric_rows = list(metrics)
            m = [Metric(k, v, ts, step) for k, v, ts, step in metric_rows if not math.isnan(v)]
            p = [Param(k, _param_text(v)) for k, v in params.items()]
            t = [RunTag(k, str(v)) for k, v in tags.items()]
            for i in range(0, max(len(m), len(p), len(t), 1), 100):
                chunk_m, chunk_p, chunk_t = m[i : i + 100], p[i : i + 100], t[i : i + 100]
                if chunk_m or chunk_p or chunk_t:
                    self.client.log_batch(self.mlflow_run_id(run_id), metrics=chunk_m, params=chunk_p, tags=chunk_t)

    def log_text(self, run_id: str, text: str, artifact_file: str, *, artifact_uri: str | None = None) -> None:
        """Store ``text`` as an artifact file of the run.

        With a local ``file:`` artifact URI already known the file is written in place, which is
        what MLflow's local artifact repository does, without its extra ``get_run`` round trip.
        """
        if artifact_uri and artifact_uri.startswith("file://"):
            from urllib.parse import unquote, urlsplit

            base = Path(unquote(urlsplit(artifact_uri).path))
            target = (base / artifact_file).resolve()
            if base.resolve() in target.parents:
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text, encoding="utf-8")
                    return
                except OSError as exc:
                    raise TrackingError(f"cannot write artifact {artifact_file}: {exc.strerror}", value=str(target)) from exc
        with _wrap(f"store artifact {artifact_file}", self.tracking_uri):
            self.client.log_text(self.mlflow_run_id(run_id), text, artifact_file)

    def log_artifact(self, run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts."""
        with _wrap(f"store artifact {Path(path).name}", self.tracking_uri):
            self.client.log_artifact(self.mlflow_run_id(run_id), str(path), artifact_path)

    def end_run(self, run_id: str, status: str) -> None:
        """End the run with ``FINISHED``, ``FAILED`` or ``KILLED`` (the fluent run if it is active)."""
        with _wrap("end a run", self.tracking_uri):
            mlflow = self._activate()
            active = mlflow.active_run()
            if active is not None and active.info.run_id == self.mlflow_run_id(run_id):
                mlflow.end_run(status=status)
            else:
                self.client.set_terminated(self.mlflow_run_id(run_id), status=status)

    def open_runs(self, filter_string: str, *, max_results: int = 1000) -> list[dict[str, Any]]:
        """RUNNING runs of every experiment that match ``filter_string``, with ``last_activity_ms``.

        ``last_activity_ms`` is the latest of the run's start time and its metrics' timestamps: the
        last sign of life a run leaves in the store.
        """
        with _wrap("search open runs", self.tracking_uri):
            from mlflow.entities import ViewType

            exp_ids = [e.experiment_id for e in self.client.search_experiments(view_type=ViewType.ALL)]
            found: list[dict[str, Any]] = []
            for i in range(0, len(exp_ids), 100):
                page = self.client.search_runs(
                    exp_ids[i : i + 100],
                    filter_string=f"{filter_string} and attributes.status = 'RUNNING'",
                    run_view_type=ViewType.ALL,
                    max_results=max_results,
                )
                found.extend(self._with_activity(r) for r in page)
            return found

    def run_state(self, run_id: str) -> dict[str, Any] | None:
        """A run's status, tags and ``last_activity_ms`` (``None`` when MLflow has no such run)."""
        with _wrap(f"read run {run_id}", self.tracking_uri):
            from mlflow.exceptions import MlflowException

            try:
                return self._with_activity(self.client.get_run(self.mlflow_run_id(run_id)))
            except MlflowException:
                return None

    def terminate(self, run_id: str, status: str, end_time_ms: int, tags: Mapping[str, str] | None = None) -> None:
        """Close a run another process left open, with its own end time (reaping)."""
        with _wrap(f"close run {run_id}", self.tracking_uri):
            if tags:
                self.log_batch(run_id, tags=tags)
            self.client.set_terminated(self.mlflow_run_id(run_id), status=status, end_time=int(end_time_ms))

    def get_run(self, run_id: str) -> dict[str, Any]:
        """A run's params, metrics, tags, status and times as plain data."""
        with _wrap(f"read run {run_id}", self.tracking_uri):
            from mlflow.exceptions import MlflowException

            try:
                run = self.client.get_run(self.mlflow_run_id(run_id))
            except MlflowException as exc:
                if _refusal(exc, f"read run {run_id}", self.tracking_uri) is not None:
                    raise
                raise NotFound(
                    f"no run with id {run_id!r}", value=run_id, hint="`jupyter-mlops runs list` shows run ids"
                ) from exc
            return self._run_dict(run)

    def search_runs(
        self,
        experiment_ids: list[str],
        *,
        filter_string: str = "",
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of runs (the store does the filtering, sorting and paging)."""
        self._refresh_sqlite_stats()
        with _wrap("search runs", self.tracking_uri):
            page = self.client.search_runs(
                experiment_ids,
                filter_string=self._filter_ids(filter_string),
                order_by=order_by,
                max_results=max_results,
                page_token=page_token,
            )
            return [self._run_dict(r) for r in page], page.token

    def read_text_artifact(self, run_id: str, artifact_file: str, *, max_bytes: int = 200_000) -> str | None:
        """The text of one run artifact (e.g. ``mlops/cell.py``), or ``None`` when it was not stored."""
        with _wrap(f"read artifact {artifact_file}", self.tracking_uri):
            import tempfile
            from urllib.parse import unquote, urlparse

            from mlflow.exceptions import MlflowException
            from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

            uri = self.client.get_run(self.mlflow_run_id(run_id)).info.artifact_uri
            try:
                if uri.startswith("file:"):  # local store: read in place (no temp copy, no progress bar)
                    base = Path(unquote(urlparse(uri).path)).resolve()
                    target = (base / artifact_file).resolve()
                    if not target.is_relative_to(base) or not target.is_file():
                        return None
                    data = target.read_bytes()[:max_bytes]
                else:
                    with tempfile.TemporaryDirectory() as tmp:
                        local = Path(tmp) / "artifact"
                        repo = get_artifact_repository(uri, tracking_uri=self.tracking_uri)
                        repo._download_file(artifact_file, str(local))  # type: ignore[no-untyped-call]
                        data = local.read_bytes()[:max_bytes]
            except (MlflowException, OSError):
                return None
            return data.decode("utf-8", errors="replace")

    def metric_history(self, run_id: str, key: str, *, max_points: int = 2000) -> list[tuple[int, float]]:
        """``(step, value)`` pairs of one metric of a run, in step order."""
        with _wrap(f"read metric history of {key}", self.tracking_uri):
            hist = self.client.get_metric_history(self.mlflow_run_id(run_id), key)
            return sorted((int(m.step), float(m.value)) for m in hist)[:max_points]

    def _refresh_sqlite_stats(self) -> None:
        """Give SQLite's query planner statistics for MLflow's tables when they are missing or stale.

        Without them, ``search_runs`` ordered by a metric on 10,000 runs took 27 s here (a full
        scan per page); after ``ANALYZE`` the same page took 0.26 s. MLflow never analyzes its
        store, so the adapter does, once per process and only when the runs table has grown to
        twice what the statistics describe.
        """
        if self._stats_checked or self.read_only or not self.tracking_uri.startswith("sqlite:///"):
            return
        self._stats_checked = True
        import sqlite3

        path = self.tracking_uri[len("sqlite:///") :]
        try:
            con = sqlite3.connect(path, timeout=30)
        except sqlite3.Error:
            return
        try:
            count = con.execute("SELECT count(*) FROM runs").fetchone()[0]
            try:
                row = con.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' LIMIT 1").fetchone()
                described = int(str(row[0]).split()[0]) if row else 0
            except sqlite3.OperationalError:  # no statistics table yet
                described = 0
            if count >= 500 and count > 2 * described:
                con.execute("ANALYZE")
                con.commit()
        except sqlite3.Error:
            pass  # statistics are an optimisation; never fail a listing over them
        finally:
            con.close()

    def autolog(self, enable: bool = True) -> None:
        """Turn scikit-learn autologging on or off (it logs into the active fluent run)."""
        with _wrap("configure autologging", self.tracking_uri):
            mlflow = self._activate()
            mlflow.sklearn.autolog(disable=not enable, silent=True, log_models=False)

    def active_run_id(self) -> str | None:
        """The id of MLflow's active fluent run in this thread, if any."""
        import sys

        if "mlflow" not in sys.modules:
            return None
        import mlflow

        run = mlflow.active_run()
        return None if run is None else self.recorded_run_id(str(run.info.run_id))

    def _with_activity(self, run: Any) -> dict[str, Any]:
        return {**self._run_dict(run), "last_activity_ms": _activity_ms(run)}


def as_mlflow(backend: TrackingBackend) -> MlflowBackend:
    """``backend`` as the MLflow adapter: the model registry and dataset inputs are MLflow's own.

    Raises
    ------
    TrackingError
        For a tracking back-end that is not MLflow (none ships with jupyter-mlops yet).
    """
    if isinstance(backend, MlflowBackend):
        return backend
    raise TrackingError(
        f"the model registry needs the MLflow tracking back-end, not {type(backend).__name__}",
        value=type(backend).__name__,
        hint="open the workspace with its MLflow tracking URI",
    )
