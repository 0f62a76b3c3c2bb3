"""The pipeline scheduler: resolve, cache-check, fan out, wait, select, skip, record.

Stages whose needs have succeeded are prepared in the parent process: their parameters are
resolved against pipeline values and upstream results, their cache key is computed, and a stage
whose key matches a verified earlier run is reused without starting a kernel. The rest (and each
variant of a sweep) are submitted to an executor as :func:`run_stage_task`, which opens the
workspace in the worker and runs the notebook through :func:`~.tracked.run_tracked`. Downstream
stages of a failed stage are recorded as SKIPPED, never silently dropped.

The pipeline run names its owner process (``pipeline_runs.owner_id``); a pipeline whose process
died is reaped KILLED by the next open of the workspace, and the next run of the same pipeline
names it in its report. Outputs a dead pipeline's stages recorded are reused only when they
verify, and the report says where they came from. Each stage task carries the parent's process
identity, so a worker (local or Dask) stops a stage whose pipeline process is gone.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.process import ProcessIdentity
from ..errors import MlopsError
from .cache import cache_key, environment_hash, find_cached, fingerprint
from .dag import resolve_parameters, topological_order, upstream_closure
from .execute import Outcome, code_hash, read_notebook
from .results import PipelineResult
from .schema import pipeline_runs
from .spec import PipelineSpec, StageSpec
from .sweep import select_best
from .tracked import NotebookRun, now, write_stage_record

if TYPE_CHECKING:
    from ..executors.base import Executor
    from ..workspace import Workspace

__all__ = ["StageTask", "run_pipeline", "run_stage_task", "warm_task", "workspace_opener"]

Event = Callable[[dict[str, Any]], None]


#: Opens the workspace in a worker: ``functools.partial(type(ws).open, root, user=actor)``.
Opener = Callable[[], Any]


def workspace_opener(ws: Workspace) -> Opener:
    """A picklable callable that opens ``ws`` again (in a worker process) as the same actor.

    It carries the workspace's service settings (:meth:`Workspace.services`, no credentials), so a
    Dask worker started elsewhere, without this process's ``JUPYTER_MLOPS_*`` variables, opens the
    same tracking server, metadata database and object store.
    """
    return functools.partial(type(ws).open, str(ws.settings.root), user=ws.actor, services=ws.services())


@dataclasses.dataclass(frozen=True)
class StageTask:
    """Everything a worker needs to run one stage variant (picklable)."""

    opener: Opener
    root: str
    user: str
    parent_run_id: str | None
    pipeline_run_id: str
    stage: str
    notebook: str
    base_dir: str
    params: dict[str, Any]
    kernel: str | None
    timeout: float | None
    retries: int
    variant: int | None
    cache_key: str
    inputs: dict[str, Any]
    outputs: tuple[Any, ...]
    experiment: str | None = None
    parent: ProcessIdentity | None = None


# A worker keeps the workspaces it opened (stores, MLflow client, migrated schema) for later
# stages: opening, checking the schema and creating the MLflow client once per worker, not per stage.
_opened: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}
_opened_lock = threading.Lock()


def _identity(root: str) -> tuple[int, int]:
    """Changes when the workspace at ``root`` is deleted and created again."""
    try:
        st = os.stat(os.path.join(root, ".mlops", "config.toml"))
    except OSError:
        return (0, 0)
    return (st.st_ino, st.st_mtime_ns)


def worker_workspace(opener: Opener, root: str, user: str) -> Any:
    """The workspace this worker opened earlier for ``(root, user)``, or a newly opened one."""
    key = (root, user)
    ident = _identity(root)
    with _opened_lock:
        hit = _opened.get(key)
        if hit is not None and hit[0] == ident:
            return hit[1]
        ws = opener()
        _opened[key] = (ident, ws)
        return ws


def run_stage_task(task: StageTask) -> dict[str, Any]:
    """Worker entry point: run the stage (with retries) in the worker's workspace, return its record."""
    from .tracked import run_tracked

    base = worker_workspace(task.opener, task.root, task.user)
    ws = base.as_user(task.user)  # shares the stores; its own settings, so concurrent tasks do not clash
    ws.settings = dataclasses.replace(ws.settings, parent_run_id=task.parent_run_id)
    stop_when = _parent_gone(task.parent)
    rec: NotebookRun | None = None
    for attempt in range(1, task.retries + 2):
        if stop_when is not None and stop_when():
            break
        rec = run_tracked(
            ws,
            task.notebook,
            task.params,
            timeout=task.timeout,
            kernel=task.kernel,
            stage=task.stage,
            experiment=task.experiment,
            pipeline_run_id=task.pipeline_run_id,
            variant=task.variant,
            attempt=attempt,
            cache_key=task.cache_key,
            inputs=task.inputs,
            outputs=task.outputs,
            base_dir=task.base_dir,
            stop_when=stop_when,
        )
        if rec.ok:
            break
    if rec is None:
        raise MlopsError(f"stage {task.stage} was not started: the pipeline process that asked for it is gone")
    return rec.to_dict()


def _parent_gone(parent: ProcessIdentity | None) -> Callable[[], str | None] | None:
    """A check a worker runs while a stage executes: the reason to stop it, once the pipeline process is gone."""
    if parent is None:
        return None
    from ..core.process import process_state

    def check() -> str | None:
        if process_state(parent) == "dead":
            return f"the pipeline process that started this stage ({parent}) is gone"
        return None

    return check


def warm_worker(opener: Opener | None = None, root: str = "", user: str = "") -> None:
    """Pay once per worker process what every stage needs: papermill, the workspace, the MLflow client."""
    from ..tracking.capture import environment
    from . import execute

    execute._register_engine()  # imports papermill, nbclient, nbformat
    environment()
    if opener is not None:
        ws = worker_workspace(opener, root, user)
        ws.tracking.experiment_id(ws.settings.default_experiment)  # imports mlflow, opens its store


def warm_task(ws: Workspace) -> Callable[[], None]:
    """A picklable zero-argument warm-up for ``ws``'s workers (see :meth:`Executor.warm`)."""
    return functools.partial(warm_worker, workspace_opener(ws), str(ws.settings.root), ws.actor)


def _stage_result(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: rec.get(k) for k in ("run_id", "source_run_id", "params", "metrics", "outputs", "cache_key", "outcome")}


def _prepare(
    ws: Workspace, spec: PipelineSpec, stage: StageSpec, results: dict[str, dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """``(params, inputs, cache_key)`` for each variant of ``stage``."""
    base = spec.base_dir
    nb = read_notebook(spec.notebook_path(stage))
    chash = code_hash(nb)
    params = resolve_parameters(stage.parameters, spec.params, results)
    inputs: dict[str, Any] = {}
    for io in stage.inputs:
        fp = fingerprint(ws, io, base)
        if fp is None:
            raise MlopsError(
                f"input {io.ref!r} of stage {stage.name!r} does not exist", value=io.ref, hint="version it first or fix the name"
            )
        inputs[io.key] = fp
    upstream = {u: {"key": results[u].get("cache_key"), "outputs": results[u].get("outputs")} for u in stage.needs}
    env = environment_hash()
    out = []
    for grid in stage.sweep.variants() if stage.sweep else [{}]:
        merged = {**params, **grid}
        key = cache_key(
            code_sha256=chash, params=merged, inputs=inputs, upstream=upstream, environment_sha256=env, kernel=stage.kernel
        )
        out.append((merged, inputs, key))
    return out


def run_pipeline(
    ws: Workspace,
    spec: PipelineSpec,
    *,
    stages: Sequence[str] = (),
    force: bool = False,
    executor: str = "local",
    max_parallel: int = 2,
    on_event: Event | None = None,
    executor_obj: Executor | None = None,
) -> PipelineResult:
    """Run ``spec``'s stages (``stages`` and what they need, or all) and record everything."""
    emit = on_event or (lambda e: None)

    def end_unrun(name: str, notebook: str, outcome: Outcome, message: str, action: str, *, started: str | None = None) -> None:
        """Record and announce a stage that ended without running (skipped, or failed to prepare)."""
        rec = NotebookRun(
            stage_run_id=uuid.uuid4().hex,
            stage=name,
            notebook=notebook,
            outcome=outcome.value,
            pipeline_run_id=pid,
            message=message,
        )
        write_stage_record(ws, rec, started=started or now(), action=action)
        records.append(rec.to_dict())
        emit({"event": "stage_end", "stage": name, "variant": None, "outcome": rec.outcome, "seconds": 0.0, "message": message})

    for s in stages:
        spec.stage(s)
    needs = {s.name: s.needs for s in spec.stages}
    chosen = upstream_closure(needs, stages) if stages else set(needs)
    order = [n for n in topological_order(needs) if n in chosen]
    by_name = {s.name: s for s in spec.stages}
    pid = uuid.uuid4().hex
    t0 = time.perf_counter()
    opener = workspace_opener(ws)
    from ..tracking import liveness

    ws.reap()  # a pipeline run whose process is gone is closed KILLED before this one starts
    owner_id = liveness.ensure_owner(ws)
    notes: list[str] = []
    stale = _stale_run(ws, spec.name)
    if stale is not None:
        notes.append(stale[1])
    with ws.transaction() as conn:
        ev = ws.record(
            conn,
            "pipeline.start",
            "pipeline_run",
            pid,
            {
                "pipeline": spec.name,
                "spec_sha256": spec.sha256,
                "stages": order,
                "force": force,
                "executor": executor,
                "stale_run": stale[0] if stale else None,
            },
        )
        conn.execute(
            sa.insert(pipeline_runs).values(
                pipeline_run_id=pid,
                pipeline=spec.name,
                spec_path=spec.path,
                spec_sha256=spec.sha256,
                actor=ws.actor,
                executor=executor,
                status="RUNNING",
                started=ev.ts,
                owner_id=owner_id,
            )
        )
    emit({"event": "pipeline_start", "pipeline": spec.name, "pipeline_run_id": pid, "stages": order})
    if stale is not None:
        emit({"event": "stale_run", "pipeline_run_id": stale[0], "message": stale[1]})
    me = ProcessIdentity.current()
    results: dict[str, dict[str, Any]] = {}
    state = dict.fromkeys(order, "pending")
    records: list[dict[str, Any]] = []
    variants: dict[str, list[dict[str, Any] | None]] = {}
    running: dict[Future[Any], tuple[str, int]] = {}
    selected: dict[str, Any] = {}
    ex: Executor | None = executor_obj
    parent: Any = None
    status = "FAILED"
    try:
        while True:
            before = dict(state)
            for name in order:
                if state[name] != "pending":
                    continue
                stage = by_name[name]
                ups = [state[u] for u in stage.needs if u in state]
                if any(u in ("failed", "skipped") for u in ups):
                    bad = [u for u in stage.needs if state.get(u) in ("failed", "skipped")]
                    state[name] = "skipped"
                    end_unrun(
                        name,
                        stage.notebook,
                        Outcome.SKIPPED,
                        f"skipped because {', '.join(bad)} did not succeed",
                        "stage.skipped",
                    )
                    continue
                if not all(u == "done" for u in ups):
                    continue
                started = now()
                try:
                    plan = _prepare(ws, spec, stage, results)
                except MlopsError as err:
                    state[name] = "failed"
                    end_unrun(name, stage.notebook, Outcome.FAILED, str(err), "stage.end", started=started)
                    continue
                state[name] = "running"
                variants[name] = [None] * len(plan)
                for i, (params, inputs, key) in enumerate(plan):
                    vi = i if stage.sweep else None
                    hit = None if force else find_cached(ws, key, spec.base_dir)[0]
                    if hit is not None:
                        reuse = f"reused run {hit['run_id']} (cache key unchanged, outputs verified)"
                        died = _died(ws, hit.get("pipeline_run_id"), pid)
                        if died:
                            reuse = (
                                f"reused run {hit['run_id']} of pipeline run {hit['pipeline_run_id']}, which died before it "
                                "finished (marked KILLED); the stage itself had SUCCEEDED and its recorded outputs verified"
                            )
                            notes.append(f"{name}: {reuse}")
                        rec = NotebookRun(
                            stage_run_id=uuid.uuid4().hex,
                            stage=name,
                            notebook=hit["notebook"],
                            outcome=Outcome.CACHED.value,
                            source_run_id=hit["run_id"],
                            pipeline_run_id=pid,
                            variant=vi,
                            code_sha256=hit["code_sha256"],
                            cache_key=key,
                            params=params,
                            inputs=inputs,
                            outputs=json.loads(hit["outputs"]),
                            metrics=json.loads(hit["metrics"]),
                            output_object_id=hit["output_object_id"],
                            output_path=hit["output_path"],
                            message=reuse,
                        )
                        write_stage_record(ws, rec, started=started, action="stage.reuse")
                        variants[name][i] = rec.to_dict()
                        emit(
                            {
                                "event": "stage_end",
                                "stage": name,
                                "variant": vi,
                                "outcome": rec.outcome,
                                "seconds": 0.0,
                                "message": rec.message,
                            }
                        )
                        continue
                    if ex is None:
                        ex = executor_obj or _start_executor(ws, executor, max_parallel)
                    if parent is None:
                        parent = ws.start_run(spec.name, kind="pipeline", tags={"mlops.pipeline_run_id": pid}).start()
                    task = StageTask(
                        opener=opener,
                        root=str(ws.settings.root),
                        user=ws.actor,
                        parent_run_id=parent.run_id,
                        pipeline_run_id=pid,
                        stage=name,
                        notebook=str(spec.notebook_path(stage)),
                        base_dir=spec.base_dir,
                        params=params,
                        kernel=stage.kernel,
                        timeout=stage.timeout,
                        retries=stage.retries,
                        variant=vi,
                        cache_key=key,
                        inputs=inputs,
                        outputs=stage.outputs,
                        parent=me,
                    )
                    running[ex.submit(run_stage_task, task)] = (name, i)
                    emit({"event": "stage_start", "stage": name, "variant": vi, "params": params})
                _finish_ready(ws, by_name, variants, state, results, records, selected, pid, emit)
            if not running:
                if state == before:
                    break
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                name, i = running.pop(fut)
                try:
                    rec_dict = fut.result()
                except Exception as exc:  # the worker itself failed (pickling, lost worker, unreachable cluster)
                    rec = NotebookRun(
                        stage_run_id=uuid.uuid4().hex,
                        stage=name,
                        notebook=by_name[name].notebook,
                        outcome=Outcome.FAILED.value,
                        pipeline_run_id=pid,
                        message=f"the executor failed: {type(exc).__name__}: {exc}",
                    )
                    write_stage_record(ws, rec, started=now())
                    rec_dict = rec.to_dict()
                variants[name][i] = rec_dict
                emit(
                    {
                        "event": "stage_end",
                        "stage": name,
                        "variant": rec_dict.get("variant"),
                        "outcome": rec_dict["outcome"],
                        "seconds": rec_dict.get("seconds", 0.0),
                        "message": rec_dict.get("message", ""),
                    }
                )
            _finish_ready(ws, by_name, variants, state, results, records, selected, pid, emit)
        status = "SUCCEEDED" if all(v == "done" for v in state.values()) else "FAILED"
    except BaseException:
        if ex is not None and executor_obj is None:
            ex.close()  # an interrupted run does not leave kernels behind in a shared pool
        raise
    finally:
        for fut in running:
            fut.cancel()
        if ex is not None and executor_obj is None and executor != "local":
            ex.close()
        if parent is not None:
            from ..errors import StageFailed

            parent.end(None if status == "SUCCEEDED" else StageFailed(f"pipeline {spec.name} {status.lower()}"))
        summary = {"stages": state, "selected": selected, "seconds": round(time.perf_counter() - t0, 3)}
        with ws.transaction() as conn:
            ev = ws.record(conn, "pipeline.end", "pipeline_run", pid, {"pipeline": spec.name, "status": status, **summary})
            conn.execute(
                sa.update(pipeline_runs)
                .where(pipeline_runs.c.pipeline_run_id == pid)
                .values(
                    status=status, ended=ev.ts, run_id=parent.run_id if parent else None, summary=json.dumps(summary, default=str)
                )
            )
    emit({"event": "pipeline_end", "pipeline_run_id": pid, "status": status})
    return PipelineResult(
        pipeline_run_id=pid,
        pipeline=spec.name,
        status=status,
        stages=tuple(NotebookRun.from_dict(r) for r in records),
        selected=selected,
        run_id=parent.run_id if parent else None,
        seconds=round(time.perf_counter() - t0, 3),
        notes=tuple(notes),
    )


def _stale_run(ws: Workspace, pipeline: str) -> tuple[str, str] | None:
    """The previous run of ``pipeline`` when it was reaped (its process died), with a sentence about it."""
    p = pipeline_runs
    with ws.db.read() as conn:
        row = conn.execute(sa.select(p).where(p.c.pipeline == pipeline).order_by(p.c.started.desc()).limit(1)).first()
    if row is None or row.status != "KILLED":
        return None
    reaped = json.loads(row.summary or "{}").get("reaped")
    if not reaped:
        return None
    return row.pipeline_run_id, (
        f"the previous run {row.pipeline_run_id} of {pipeline} was left RUNNING ({reaped.get('reason')}); "
        f"it was marked KILLED, last sign of life {str(reaped.get('last_sign_of_life'))[:19]}"
    )


def _died(ws: Workspace, pipeline_run_id: str | None, current: str) -> bool:
    """Whether the pipeline run that recorded a reused stage died (was reaped) before it finished."""
    if not pipeline_run_id or pipeline_run_id == current:
        return False
    p = pipeline_runs
    with ws.db.read() as conn:
        row = conn.execute(sa.select(p.c.status, p.c.summary).where(p.c.pipeline_run_id == pipeline_run_id)).first()
    return row is not None and row.status == "KILLED" and "reaped" in json.loads(row.summary or "{}")


def _start_executor(ws: Workspace, executor: str, max_parallel: int) -> Executor:
    """The executor for this run; the local pool is shared by the runs of this process and stays warm.

    Warm-up (imports, opening the workspace) is submitted before any stage, so the workers pay for
    it while this process starts the pipeline's run.
    """
    from ..executors.base import get_executor

    if executor == "local":
        from ..executors.local import shared_pool

        pool = shared_pool(max_parallel)
        pool.warm_async(warm_task(ws), key=(str(ws.settings.root), ws.actor))
        return pool
    return get_executor(executor, max_parallel)


def _finish_ready(
    ws: Workspace,
    by_name: dict[str, StageSpec],
    variants: dict[str, list[dict[str, Any] | None]],
    state: dict[str, str],
    results: dict[str, dict[str, Any]],
    records: list[dict[str, Any]],
    selected: dict[str, Any],
    pid: str,
    emit: Event,
) -> None:
    for name, recs in variants.items():
        if state[name] != "running" or any(r is None for r in recs):
            continue
        full = [r for r in recs if r is not None]
        records.extend(full)
        best, why = select_best(by_name[name], full)
        if best is None:
            state[name] = "failed"
            if by_name[name].sweep is not None:
                # The variants may all have SUCCEEDED; the stage did not: say so as its own outcome.
                rec = NotebookRun(
                    stage_run_id=uuid.uuid4().hex,
                    stage=name,
                    notebook=by_name[name].notebook,
                    outcome=Outcome.FAILED.value,
                    pipeline_run_id=pid,
                    message=f"sweep selection failed: {why}",
                )
                write_stage_record(ws, rec, started=now())
                records.append(rec.to_dict())
                emit(
                    {
                        "event": "stage_end",
                        "stage": name,
                        "variant": None,
                        "outcome": rec.outcome,
                        "seconds": 0.0,
                        "message": rec.message,
                    }
                )
            continue
        state[name] = "done"
        results[name] = _stage_result(best)
        if by_name[name].sweep is not None:
            sweep = by_name[name].sweep
            assert sweep is not None
            chosen = {
                "variant": best.get("variant"),
                "run_id": best.get("run_id") or best.get("source_run_id"),
                "params": best.get("params"),
                "metric": sweep.metric,
                "value": best["metrics"][sweep.metric],
                "outputs": best.get("outputs") or {},
            }
            selected[name] = chosen
            with ws.transaction() as conn:
                ws.record(conn, "pipeline.sweep_select", "pipeline_run", pid, {"stage": name, **chosen})
            emit({"event": "sweep_select", "stage": name, **chosen})
