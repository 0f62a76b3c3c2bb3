"""Notebook and pipeline runs for a workspace: ``ws.pipelines``.

:meth:`PipelineService.run_notebook` executes one notebook as a tracked stage;
:meth:`PipelineService.run_pipeline` runs a ``pipeline.yaml`` (cached, swept, in parallel, on a
local pool or Dask); :meth:`PipelineService.rerun` re-executes a recorded stage and checks that its
metrics reproduce. Every front-end (Python, ``%mlops``, the CLI) calls these.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.paths import validate_file, validate_parameters
from ..errors import InvalidInput, MlopsError, NotFound
from .results import PipelinePlan, PipelineResult, RerunCheck
from .schema import pipeline_runs, stage_runs
from .spec import PipelineSpec, load_spec
from .tracked import NotebookRun

if TYPE_CHECKING:
    from ..executors.base import Executor
    from .context import PipelineContext

__all__ = ["PipelineService"]

Event = Callable[[dict[str, Any]], None]


class PipelineService:
    """Runs notebooks and pipelines of one workspace."""

    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx

    def run_notebook(
        self,
        notebook: str | Path,
        parameters: Mapping[str, Any] | None = None,
        *,
        output: str | Path | None = None,
        timeout: float | None = None,
        kernel: str | None = None,
        experiment: str | None = None,
        progress: Event | None = None,
    ) -> NotebookRun:
        """Execute one notebook with papermill inside a tracked ``stage`` run.

        Parameters
        ----------
        notebook:
            The ``.ipynb`` file.
        parameters:
            Values injected after the cell tagged ``parameters``; names the cell does not define
            are injected with a warning and recorded.
        output:
            Where the executed notebook is written (atomically, whatever the outcome); default
            ``.mlops/outputs/<name>-<run id>.ipynb``.
        timeout:
            Seconds any one cell may run before the stage is TIMED_OUT.
        kernel:
            Kernel name (default: the notebook's own kernelspec).
        progress:
            Called with progress events (dicts: ``stage_start``, ``cell_start``, ``cell_done``,
            ``stage_end``); see :mod:`jupyter_mlops.pipelines.progress`.

        Returns
        -------
        NotebookRun
            The outcome (SUCCEEDED, FAILED, KILLED, TIMED_OUT, EXITED_EARLY), the run id, the
            executed notebook's path and hash, and the metrics its child runs logged.
        """
        from .tracked import run_tracked

        # Bad input and a read-only workspace are one clear error, before anything is shown as started.
        validate_parameters(parameters)
        validate_file(notebook)
        if self.ctx.read_only:
            from ..store.metadata import readonly_error

            raise readonly_error(str(self.ctx.settings.home))
        emit = progress or _noop_event
        name = Path(str(notebook)).stem
        emit({"event": "stage_start", "stage": name, "variant": None, "params": dict(parameters or {})})
        try:
            rec = run_tracked(
                self.ctx,
                notebook,
                parameters,
                output=output,
                timeout=timeout,
                kernel=kernel,
                experiment=experiment,
                on_event=progress,
            )
        except BaseException as exc:
            emit({"event": "stage_end", "stage": name, "variant": None, "outcome": "FAILED", "seconds": 0.0, "message": str(exc)})
            raise
        end = {"outcome": rec.outcome, "seconds": rec.seconds, "message": rec.message}
        emit({"event": "stage_end", "stage": name, "variant": None, **end})
        return rec

    def load(self, path: str | Path) -> PipelineSpec:
        """Read and validate a ``pipeline.yaml`` (every problem is reported at once)."""
        return load_spec(path)

    def run_pipeline(
        self,
        pipeline: str | Path | PipelineSpec,
        *,
        stages: Sequence[str] = (),
        force: bool = False,
        executor: str | None = None,
        max_parallel: int = 2,
        dry_run: bool = False,
        progress: Event | None = None,
        executor_obj: Executor | None = None,
    ) -> PipelineResult | PipelinePlan:
        """Run a pipeline: independent stages in parallel, cached stages reused, sweeps fanned out.

        Parameters
        ----------
        stages:
            Run only these stages and what they need (needed stages are usually reused).
        force:
            Re-run every stage even when its cache key is unchanged.
        executor:
            ``"local"`` (a process pool) or a Dask scheduler address ``dask://HOST:PORT``; default:
            the workspace's ``[executor] address`` (``JUPYTER_MLOPS_EXECUTOR``), else local.
        max_parallel:
            Local workers (at most this many kernels at once).
        dry_run:
            Validate and show what would run or be reused; nothing is executed or written.
        progress:
            Called with progress events (dicts: ``pipeline_start``, ``stage_start``, ``stage_end``,
            ``sweep_select``, ``pipeline_end``); see :mod:`jupyter_mlops.pipelines.progress`.
        executor_obj:
            An executor you started (and warmed) yourself; it is used and left open.
        """
        spec = pipeline if isinstance(pipeline, PipelineSpec) else load_spec(pipeline)
        if not isinstance(max_parallel, int) or max_parallel < 1:
            raise InvalidInput(
                f"max_parallel must be a positive integer, got {max_parallel!r}", value=max_parallel, field="max_parallel"
            )
        from ..executors.base import EXECUTORS

        executor = executor or self.ctx.settings.executor
        if "://" not in executor:
            EXECUTORS.get(executor)
        if dry_run:
            return self.plan(spec, stages=stages, force=force)
        from .runner import run_pipeline

        owned = None
        if executor_obj is None and "://" in executor:
            from ..executors.base import get_executor

            owned = executor_obj = get_executor(executor, max_parallel)
            try:
                from .runner import warm_task

                executor_obj.warm(warm_task(self.ctx))  # connect now: an unreachable cluster writes nothing
            except BaseException:
                executor_obj.close()
                raise
        try:
            return run_pipeline(
                self.ctx,
                spec,
                stages=stages,
                force=force,
                executor=executor,
                max_parallel=max_parallel,
                on_event=progress,
                executor_obj=executor_obj,
            )
        finally:
            if owned is not None:
                owned.close()

    def plan(self, spec: PipelineSpec, *, stages: Sequence[str] = (), force: bool = False) -> PipelinePlan:
        """What a run would do, without running or writing anything."""
        from .cache import find_cached
        from .dag import topological_order, upstream_closure
        from .runner import _prepare

        for s in stages:
            spec.stage(s)
        needs = {s.name: s.needs for s in spec.stages}
        chosen = upstream_closure(needs, stages) if stages else set(needs)
        results: dict[str, dict[str, Any]] = {}
        steps: list[dict[str, Any]] = []
        for name in (n for n in topological_order(needs) if n in chosen):
            stage = spec.stage(name)
            if not all(u in results for u in stage.needs):
                steps.append({"stage": name, "action": "run", "detail": "an upstream stage will run"})
                continue
            try:
                plan = _prepare(self.ctx, spec, stage, results)
            except MlopsError as err:
                steps.append({"stage": name, "action": "run", "detail": f"cannot check the cache yet: {err.message}"})
                continue
            hits = [None if force else find_cached(self.ctx, key, spec.base_dir)[0] for _, _, key in plan]
            n = len(plan)
            if all(h is not None for h in hits) and (stage.sweep is None or n):
                from .sweep import select_best

                recs = [
                    {
                        **h,
                        "outcome": "CACHED",
                        "params": json.loads(h["params"]),
                        "metrics": json.loads(h["metrics"]),
                        "outputs": json.loads(h["outputs"]),
                    }
                    for h in hits
                    if h
                ]
                best, _ = select_best(stage, recs)
                if best is not None:
                    results[name] = {k: best.get(k) for k in ("run_id", "params", "metrics", "outputs", "cache_key")}
                steps.append(
                    {
                        "stage": name,
                        "action": "cached",
                        "detail": f"reuse run {hits[0]['run_id'] if hits[0] else ''}"
                        + (f" (+{n - 1} sweep runs)" if n > 1 else ""),
                    }
                )
            else:
                steps.append(
                    {
                        "stage": name,
                        "action": "run",
                        "detail": "forced" if force else f"{n} run(s)" if n > 1 else "cache key changed or never ran",
                    }
                )
        return PipelinePlan(pipeline=spec.name, steps=tuple(steps))

    def run(
        self, target: str | Path, parameters: Mapping[str, Any] | None = None, **options: Any
    ) -> NotebookRun | PipelineResult | PipelinePlan:
        """Run a ``.ipynb`` (as :meth:`run_notebook`) or a pipeline ``.yaml`` (as :meth:`run_pipeline`)."""
        suffix = Path(str(target)).suffix.lower()
        if suffix == ".ipynb":
            return self.run_notebook(target, parameters, **options)
        if suffix in (".yaml", ".yml"):
            if parameters:
                raise InvalidInput(
                    "-p/parameters apply to a notebook; set pipeline values under 'params:' in the yaml", field="parameters"
                )
            return self.run_pipeline(target, **options)
        raise InvalidInput(
            f"cannot run {str(target)!r}", value=str(target), hint="give a notebook (.ipynb) or a pipeline (.yaml)"
        )

    # -- reproducibility check -------------------------------------------------------------------
    def run_id_of(self, stage_run_id: str) -> str | None:
        """The MLflow run id behind a ``stage_run_id`` (the reused run's for a CACHED record), or ``None``."""
        from .queries import run_id_of

        return run_id_of(self.ctx, stage_run_id)

    def stage_record(self, run_id: str) -> dict[str, Any]:
        """The recorded stage run with MLflow run id ``run_id`` (or with that ``stage_run_id``)."""
        run_id = self.run_id_of(run_id) or run_id
        with self.ctx.read() as conn:
            row = conn.execute(
                sa.select(stage_runs).where(stage_runs.c.run_id == run_id).order_by(stage_runs.c.ended.desc())
            ).first()
        if row is None:
            raise NotFound(
                f"no recorded notebook or stage run with id {run_id!r}",
                value=run_id,
                hint="`jupyter-mlops runs list` shows run ids; pick one of kind 'stage'",
            )
        return dict(row._mapping)

    def rerun(self, run_id: str, *, tolerance: float = 1e-6, timeout: float | None = None) -> RerunCheck:
        """Re-execute a recorded stage with its recorded parameters and compare its metrics.

        The check passes when the new run SUCCEEDED and every recorded metric is reproduced within
        ``tolerance`` (absolute difference). Pass or fail is recorded as a ``stage.rerun_check``
        audit event and a ``reproduces`` lineage edge.
        """
        from .cache import fingerprint
        from .spec import IOSpec
        from .tracked import run_tracked

        if not isinstance(tolerance, (int, float)) or math.isnan(tolerance) or tolerance < 0:
            raise InvalidInput(f"tolerance must be a non-negative number, got {tolerance!r}", value=tolerance, field="tolerance")
        row = self.stage_record(run_id)
        run_id = str(row["run_id"])
        notebook = Path(row["notebook"])
        if not notebook.is_absolute():
            notebook = self.ctx.settings.root / notebook
        validate_file(notebook)
        notes: list[str] = []
        inputs = json.loads(row["inputs"] or "{}")
        for key, fp in inputs.items():
            io = IOSpec("file", key[5:]) if key.startswith("file:") else IOSpec("data", key)
            try:
                now = fingerprint(self.ctx, io, notebook.parent)
            except MlopsError:
                now = None
            if now != fp:
                notes.append(f"input {key} changed since the recorded run")
        new = run_tracked(
            self.ctx,
            notebook,
            json.loads(row["params"] or "{}"),
            timeout=timeout,
            kernel=row["kernel"],
            stage=row["stage"],
            inputs=inputs,
        )
        if new.code_sha256 != row["code_sha256"]:
            notes.append("the notebook's code changed since the recorded run")
        recorded = json.loads(row["metrics"] or "{}")
        compared: dict[str, dict[str, float | None]] = {}
        passed = new.outcome == "SUCCEEDED"
        if not passed:
            notes.append(f"the re-run ended {new.outcome}: {new.message}")
        if not recorded:
            passed = False  # nothing compared is not a reproduction
            notes.append(
                "nothing to compare: the recorded run logged no metrics "
                "(log them with mlops.log_metric(...) in the notebook, at the top level or in a tracked run)"
            )
        for key, value in recorded.items():
            got = new.metrics.get(key)
            diff = None if got is None else abs(float(got) - float(value))
            compared[key] = {"recorded": value, "now": got, "diff": diff}
            if diff is None or diff > tolerance:
                passed = False
        check = RerunCheck(
            source_run_id=run_id,
            run_id=new.run_id,
            passed=passed,
            tolerance=float(tolerance),
            outcome=new.outcome,
            compared=compared,
            message="; ".join(notes),
        )
        with self.ctx.transaction() as conn:
            self.ctx.record(
                conn,
                "stage.rerun_check",
                "run",
                run_id,
                {"passed": passed, "new_run_id": new.run_id, "tolerance": tolerance, "compared": compared, "notes": notes},
            )
            if new.run_id:
                self.ctx.link(conn, ("run", new.run_id), "reproduces", ("run", run_id), {"passed": passed})
        return check

    def list_pipeline_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """Recent pipeline runs, newest first."""
        with self.ctx.read() as conn:
            rows = conn.execute(sa.select(pipeline_runs).order_by(pipeline_runs.c.started.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]


def _noop_event(event: dict[str, Any]) -> None:
    return None
