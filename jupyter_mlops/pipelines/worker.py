"""What runs in an executor's worker process: one stage task, on a workspace opened once per worker.

A :class:`StageTask` is plain picklable data; the worker opens the workspace it names (cached per
process), executes the stage and returns its result. A worker whose parent died stops rather than
write into a pipeline nobody is waiting for.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.process import ProcessIdentity
from ..errors import MlopsError
from .tracked import NotebookRun

if TYPE_CHECKING:
    from .context import PipelineContext

__all__ = ["Event", "Opener", "StageTask", "run_stage_task", "warm_task", "warm_worker", "worker_workspace", "workspace_opener"]


Event = Callable[[dict[str, Any]], None]


#: Opens the workspace in a worker (``ctx.opener()``: the workspace class's ``open`` with the root and actor).
Opener = Callable[[], "PipelineContext"]


def workspace_opener(ctx: PipelineContext) -> Opener:
    """A picklable callable that opens ``ctx`` again (in a worker process) as the same actor."""
    return ctx.opener()


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
_opened: dict[tuple[str, str], tuple[tuple[int, int], PipelineContext]] = {}


_opened_lock = threading.Lock()


def _identity(root: str) -> tuple[int, int]:
    """Changes when the workspace at ``root`` is deleted and created again."""
    try:
        st = os.stat(os.path.join(root, ".mlops", "config.toml"))
    except OSError:
        return (0, 0)
    return (st.st_ino, st.st_mtime_ns)


def worker_workspace(opener: Opener, root: str, user: str) -> PipelineContext:
    """The workspace this worker opened earlier for ``(root, user)``, or a newly opened one."""
    key = (root, user)
    ident = _identity(root)
    with _opened_lock:
        hit = _opened.get(key)
        if hit is not None and hit[0] == ident:
            return hit[1]
        ctx = opener()
        _opened[key] = (ident, ctx)
        return ctx


def run_stage_task(task: StageTask) -> dict[str, Any]:
    """Worker entry point: run the stage (with retries) in the worker's workspace, return its record."""
    from .tracked import run_tracked

    base = worker_workspace(task.opener, task.root, task.user)
    ctx = base.for_stage(task.parent_run_id)  # shares the stores; its own settings, so concurrent tasks do not clash
    stop_when = _parent_gone(task.parent)
    rec: NotebookRun | None = None
    for attempt in range(1, task.retries + 2):
        if stop_when is not None and stop_when():
            break
        rec = run_tracked(
            ctx,
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
    from . import engine

    engine._register_engine()  # imports papermill, nbclient, nbformat
    environment()
    if opener is not None:
        ctx = worker_workspace(opener, root, user)
        ctx.tracking.experiment_id(ctx.settings.default_experiment)  # imports mlflow, opens its store


def warm_task(ctx: PipelineContext) -> Callable[[], None]:
    """A picklable zero-argument warm-up for ``ctx``'s workers (see :meth:`Executor.warm`)."""
    return functools.partial(warm_worker, workspace_opener(ctx), str(ctx.settings.root), ctx.actor)
