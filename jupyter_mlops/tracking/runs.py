"""The run lifecycle shared by ``%%track``, ``mlops.start_run`` and pipeline stages.

A run is opened in MLflow and recorded (``run.start`` audit event) before any user code runs, and
closed FINISHED, FAILED (with the error) or KILLED (KeyboardInterrupt) in a ``finally`` block, so
nothing the library can observe leaves a run RUNNING. Metrics and parameters logged through
jupyter-mlops are buffered and written in one batch when the run closes.

What the library cannot observe (``kill -9``, a dead kernel) is covered by the run's owner: the
process registers itself before the MLflow run exists and tags the run with its owner id, so a
later process reaps the run when that owner is gone (:mod:`jupyter_mlops.tracking.liveness`).
"""

from __future__ import annotations

import contextvars
import threading
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.entities import RunInfo
from ..core.hashing import sha256_text
from ..core.paths import validate_name
from ..errors import InvalidInput, MlopsError
from . import liveness
from .capture import environment, git_state
from .schema import runs
from .stage import StageRun, _metric_value, stage_run

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["ActiveRun", "StageRun", "TrackedRun", "current_run", "reading_runs", "run_for", "run_status_for", "stage_run"]

_stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar("jupyter_mlops_runs", default=())


def current_run() -> ActiveRun | None:
    """The innermost run opened in this context, if any."""
    stack = _stack.get()
    return stack[-1] if stack else None


def run_for(ctx: Context) -> TrackedRun | None:
    """The run that what ``ctx`` records now belongs to: the innermost open run, else the stage run.

    At the top level of a notebook that a pipeline stage executes, no run is open in the kernel,
    but the notebook *is* a tracked run: data read, metrics, parameters and models land on the
    stage run (see :func:`stage_run`).
    """
    run = current_run()
    return run if run is not None else stage_run(ctx)


def reading_runs(ctx: Context, run: TrackedRun) -> list[str]:
    """The runs whose data reads count as ``run``'s: itself and, inside a stage notebook, the stage.

    A run opened in a notebook that a pipeline stage executes read what the notebook loaded at
    its top level and what the stage declared as inputs, which are linked to the stage run.
    """
    ids = [run.run_id]
    parent = getattr(run, "parent_run_id", None)
    stage = stage_run(ctx) if parent else None
    if stage is not None and stage.run_id == parent:
        ids.append(parent)
    return ids


def run_status_for(exc: BaseException | None) -> str:
    """FINISHED without an exception, KILLED for KeyboardInterrupt, else FAILED."""
    if exc is None:
        return "FINISHED"
    if isinstance(exc, (KeyboardInterrupt, liveness.RunAbandoned)):
        return "KILLED"
    return "FAILED"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _clean_run_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or "\x00" in name or len(name) > 250:
        raise InvalidInput(
            f"invalid run name {name!r}", value=repr(name)[:80], hint="use a short non-empty name, e.g. 'train'", field="name"
        )
    return name.strip()


class ActiveRun:
    """A tracked run; use it as a context manager (``with mlops.start_run("train") as run:``).

    Parameters and metrics logged through it are written in one batch at the end; ``run_id`` is
    the MLflow run id.
    """

    def __init__(
        self,
        ctx: Context,
        name: str,
        *,
        experiment: str | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        source: dict[str, Any] | None = None,
        autolog: bool = False,
        kind: str = "run",
    ) -> None:
        self.ctx = ctx
        self.name = _clean_run_name(name)
        self.experiment = validate_name(experiment or ctx.settings.default_experiment, kind="experiment")
        self.params: dict[str, Any] = dict(params or {})
        self.tags: dict[str, str] = {str(k): str(v) for k, v in (tags or {}).items()}
        self.source = dict(source or {})
        self.autolog = autolog
        self.kind = kind
        self.metrics: list[tuple[str, float, int, int]] = []
        self.notes: list[str] = []
        self.run_id = ""
        self.experiment_id = ""
        self.status = "RUNNING"
        self.error: str | None = None
        self.parent_run_id: str | None = None
        self._t0 = 0.0
        self._git_info: dict[str, Any] = {}
        self._late_tags: dict[str, str] = {}
        self._logged_params: dict[str, str] = {}
        self._start_thread: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._artifact_uri: str | None = None
        self._token: contextvars.Token[tuple[ActiveRun, ...]] | None = None
        self._closed = False
        self._owner_id: str | None = None

    # -- logging --------------------------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter (written when the run closes)."""
        self.params[str(key)] = value

    def log_params(self, params: dict[str, Any]) -> None:
        """Record several parameters."""
        for k, v in params.items():
            self.log_param(k, v)

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        """Record a metric value (written when the run closes, with its time and step)."""
        self.metrics.append((str(key), _metric_value(key, value), int(time.time() * 1000), int(step)))

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        """Record several metric values."""
        for k, v in metrics.items():
            self.log_metric(k, v, step)

    def set_tag(self, key: str, value: Any) -> None:
        """Record a tag (set on the run at once when it is created, else when it closes)."""
        self.tags[str(key)] = str(value)
        if self.run_id:
            self._late_tags[str(key)] = str(value)

    def note(self, text: str) -> None:
        """Attach a remark to the run (stored as the ``mlops.notes`` tag and in the audit event)."""
        self.notes.append(text)

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> ActiveRun:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.end(exc)

    def start(self) -> ActiveRun:
        """Open the run in MLflow and record it; nothing is left behind if this fails."""
        ctx = self.ctx
        self._t0 = time.perf_counter()
        outer = current_run()
        self.parent_run_id = outer.run_id if outer else ctx.settings.parent_run_id
        backend = ctx.tracking
        # The owner is on record before the MLflow run exists, so a kill at any later moment is reapable.
        self._owner_id = liveness.ensure_owner(ctx)
        self.experiment_id = backend.experiment_id(self.experiment)
        # Everything known now goes on the run when it is created: one insert, no extra commit.
        git = git_state(ctx.settings.root)
        env, _, env_hash = environment()
        self._git_info = git
        tags = {
            "mlflow.user": ctx.actor,
            "mlops.actor": ctx.actor,
            "mlops.kind": self.kind,
            "mlops.workspace": ctx.settings.workspace_id,
            "mlops.git.commit": str(git.get("commit")),
            "mlops.git.branch": str(git.get("branch")),
            "mlops.git.dirty": str(git.get("dirty")),
            "mlops.environment_sha256": env_hash,
            "mlops.python": env["python"],
            **self.tags,
            "mlops.owner": self._owner_id,
        }
        if git.get("diff_sha256"):  # only a dirty tree has a diff to hash
            tags["mlops.git.diff_sha256"] = str(git["diff_sha256"])
        if git.get("commit") not in (None, "unknown"):
            tags["mlflow.source.git.commit"] = str(git["commit"])
        if self._source_hash():
            tags["mlops.source_sha256"] = str(self._source_hash())
        if self.source.get("execution_count") is not None:
            tags["mlops.execution_count"] = str(self.source["execution_count"])
        notebook = self.source.get("notebook") or ctx.settings.notebook_path
        if notebook:
            tags["mlflow.source.name"] = str(notebook)
            tags["mlflow.source.type"] = "NOTEBOOK"
            tags["mlops.notebook"] = str(notebook)
        if self.source.get("cell_id"):
            tags["mlops.cell_id"] = str(self.source["cell_id"])
        self.run_id, self._artifact_uri = backend.start_run(
            experiment_id=self.experiment_id, name=self.name, tags=tags, parent_run_id=self.parent_run_id
        )
        liveness.track(self, self._owner_id)
        try:
            if self.kind == "stage" and self.params:
                # The notebook may log parameters on this run itself (StageRun): the stage's own go
                # first, so a clash fails in the cell that caused it, not when the stage closes.
                backend.log_batch(self.run_id, params=self.params)
                self._logged_params = {k: str(v) for k, v in self.params.items()}
            if self.autolog:
                backend.autolog(True)
        except BaseException:
            backend.end_run(self.run_id, "FAILED")
            raise
        # The start record (row, audit event, lineage) commits on a helper thread while the cell
        # runs; end() joins it before writing the end record, so the chain order is kept and a
        # failure to record the start still surfaces, with the run closed FAILED.
        self._start_thread = threading.Thread(target=self._record_start, args=(notebook,), name="mlops-run-start", daemon=True)
        self._start_thread.start()
        self._token = _stack.set((*_stack.get(), self))
        return self

    def _record_start(self, notebook: str | None) -> None:
        ctx = self.ctx
        try:
            # Provenance artifacts are known at the start: write them while the cell runs.
            ctx.tracking.log_text(self.run_id, environment()[1], "mlops/environment.json", artifact_uri=self._artifact_uri)
            if isinstance(self.source.get("cell_source"), str):
                ctx.tracking.log_text(self.run_id, self.source["cell_source"], "mlops/cell.py", artifact_uri=self._artifact_uri)
            with ctx.transaction() as conn:
                event = ctx.record(
                    conn,
                    "run.start",
                    "run",
                    self.run_id,
                    {
                        "name": self.name,
                        "experiment": self.experiment,
                        "kind": self.kind,
                        "parent_run_id": self.parent_run_id,
                        "notebook": notebook,
                        "cell_id": self.source.get("cell_id"),
                        "source_sha256": self._source_hash(),
                    },
                )
                conn.execute(
                    sa.insert(runs).values(**self._row(notebook), status="RUNNING", started=event.ts, start_seq=event.seq)
                )
                liveness.touch(ctx, conn, besides=self)
                if self.parent_run_id:
                    ctx.link(conn, ("run", self.run_id), "child_of", ("run", self.parent_run_id))
                if notebook:
                    ctx.link(conn, ("notebook", str(notebook)), "source_of", ("run", self.run_id))
        except BaseException as exc:  # surfaced by end()
            self._start_error = exc

    def _row(self, notebook: str | None) -> dict[str, Any]:
        """The columns of this run's ``runs`` row that do not depend on how it ended."""
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "experiment_id": self.experiment_id,
            "name": self.name,
            "actor": self.ctx.actor,
            "notebook": notebook,
            "cell_id": self.source.get("cell_id"),
            "source_sha256": self._source_hash(),
            "parent_run_id": self.parent_run_id,
            "kind": self.kind,
            "owner_id": self._owner_id,
        }

    def _source_hash(self) -> str | None:
        src = self.source.get("cell_source")
        return sha256_text(src) if isinstance(src, str) else self.source.get("source_sha256")

    def end(self, exc: BaseException | None = None) -> None:
        """Close the run with the status ``exc`` implies; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        liveness.untrack(self)
        if self._token is not None:
            try:
                _stack.reset(self._token)
            except ValueError:  # closed from another context: drop it from the stack by value
                _stack.set(tuple(r for r in _stack.get() if r is not self))
        self.status = run_status_for(exc)
        if exc is not None:
            self.error = f"{type(exc).__name__}: {exc}"[:2000]
        if self._start_thread is not None:
            self._start_thread.join()
        ctx = self.ctx
        backend = ctx.tracking
        wall = time.perf_counter() - self._t0
        failures: list[str] = []
        if self._start_error is not None:
            failures.append(f"recording the run start failed: {self._start_error}")
        git = self._git_info
        env_hash = environment()[2]
        # Success path: params and metrics only (what a hand-written run logs too); tags only
        # when there is something to say.
        tags: dict[str, str] = dict(self._late_tags)
        if self.error:
            tags["mlops.error"] = self.error
        if self.notes:
            tags["mlops.notes"] = " | ".join(self.notes)[:5000]
        try:
            now = int(time.time() * 1000)
            metrics = [*self.metrics, ("mlops.wall_time_s", round(wall, 6), now, 0)]
            params = {k: v for k, v in self.params.items() if self._logged_params.get(k) != str(v)}
            backend.log_batch(self.run_id, params=params, metrics=metrics, tags=tags)
        except MlopsError as err:
            failures.append(str(err))
        if failures and self.status == "FINISHED":
            self.status = "FAILED"
            self.error = "; ".join(failures)
        try:
            if self.autolog:
                backend.autolog(False)
        except MlopsError as err:
            failures.append(str(err))
        try:
            backend.end_run(self.run_id, self.status)
        finally:
            with ctx.transaction() as conn:
                event = ctx.record(
                    conn,
                    "run.end",
                    "run",
                    self.run_id,
                    {
                        "name": self.name,  # so a reader of this event alone (OpenLineage) names the job
                        "status": self.status,
                        "error": self.error,
                        "params": sorted(self.params),
                        "metrics": {k: v for k, v, _, _ in self.metrics},
                        "git": git,
                        "environment_sha256": env_hash,
                        "wall_time_s": round(wall, 6),
                        "notes": self.notes,
                    },
                )
                updated = conn.execute(
                    sa.update(runs)
                    .where(runs.c.run_id == self.run_id)
                    .values(status=self.status, ended=event.ts, error=self.error, end_seq=event.seq)
                ).rowcount
                liveness.touch(ctx, conn, besides=self)  # an outer run's last sign of life
                if not updated:
                    conn.execute(
                        sa.insert(runs).values(
                            **self._row(self.source.get("notebook") or ctx.settings.notebook_path),
                            status=self.status,
                            started=event.ts,
                            ended=event.ts,
                            error=self.error,
                            end_seq=event.seq,
                        )
                    )

    def info(self) -> RunInfo:
        """This run as a :class:`RunInfo`."""
        return RunInfo(
            run_id=self.run_id,
            experiment=self.experiment,
            name=self.name,
            actor=self.ctx.actor,
            status=self.status,
            started="",
            parent_run_id=self.parent_run_id,
            error=self.error,
            params=dict(self.params),
            metrics={k: v for k, v, _, _ in self.metrics},
        )

    def _repr_html_(self) -> str:
        return self.info()._repr_html_()

    def __repr__(self) -> str:
        return f"ActiveRun(name={self.name!r}, run_id={self.run_id!r}, status={self.status!r})"


#: What records can be attached to: a run opened here, or the stage run around this notebook.
TrackedRun = ActiveRun | StageRun
