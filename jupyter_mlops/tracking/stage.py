"""The stage run seen from inside the notebook kernel a pipeline stage executes.

The stage runner (another process) opened the run; a kernel finds it through
``JUPYTER_MLOPS_PARENT_RUN_ID`` and logs onto it, so what a notebook logs at its top level lands
on the stage.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, MlopsError

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["StageRun", "stage_run"]


_stage_runs: dict[tuple[str, str], StageRun | None] = {}


_stage_lock = threading.Lock()


def stage_run(ctx: Context) -> StageRun | None:
    """The stage run executing this notebook (``JUPYTER_MLOPS_PARENT_RUN_ID``), or ``None``.

    Only a RUNNING run of kind ``stage`` of this workspace qualifies, so a worker process (whose
    parent run is the pipeline's run) or an unrelated id never receives top-level records. The
    answer is looked up in MLflow once per process and run id.
    """
    run_id = ctx.settings.parent_run_id
    if not run_id:
        return None
    key = (str(ctx.settings.root), run_id)
    with _stage_lock:
        if key in _stage_runs:
            found = _stage_runs[key]
            return None if found is None else found.bind(ctx)
        try:
            info = ctx.tracking.get_run(run_id)
        except MlopsError:
            info = None
        tags = (info or {}).get("tags") or {}
        ok = (
            info is not None
            and tags.get("mlops.kind") == "stage"
            and info.get("status") == "RUNNING"
            and tags.get("mlops.workspace") in (None, ctx.settings.workspace_id)
        )
        found = StageRun(ctx, run_id, notebook=ctx.settings.notebook_path) if ok else None
        _stage_runs[key] = found
        return found


def _metric_value(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"metric {key!r} must be a number, got {value!r}", value=repr(value)[:80], field=key) from None


class StageRun:
    """The stage run around a notebook that a pipeline stage executes, seen from inside its kernel.

    The stage runner (another process) opened the run and closes it when the kernel is done; the
    kernel reaches it through ``JUPYTER_MLOPS_PARENT_RUN_ID`` (:func:`stage_run`). Top-level
    ``mlops.log_metric(s)`` and ``log_param(s)`` are written to it at once, since the kernel does not
    know when the stage ends; the runner gathers them with the child runs' metrics, so a sweep's
    ``select`` and ``rerun`` read them.
    """

    kind = "stage"

    def __init__(self, ctx: Context, run_id: str, *, notebook: str | None = None) -> None:
        self.ctx = ctx
        self.run_id = run_id
        self.status = "RUNNING"
        self.source: dict[str, Any] = {"notebook": notebook} if notebook else {}

    def bind(self, ctx: Context) -> StageRun:
        """The same stage run, recording as ``ctx`` (another identity of the same workspace)."""
        return self if ctx is self.ctx else StageRun(ctx, self.run_id, notebook=self.source.get("notebook"))

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        """Write a metric value to the stage run now."""
        self.log_metrics({key: value}, step)

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        """Write several metric values to the stage run now (one call)."""
        now = int(time.time() * 1000)
        rows = [(str(k), _metric_value(k, v), now, int(step)) for k, v in metrics.items()]
        self.ctx.tracking.log_batch(self.run_id, metrics=rows)

    def log_param(self, key: str, value: Any) -> None:
        """Write a parameter to the stage run now (MLflow refuses a new value for a logged one)."""
        self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        """Write several parameters to the stage run now.

        Raises
        ------
        Conflict
            A parameter the run already has with another value (the stage's own parameters are
            logged when it starts); nothing is written.
        """
        from ..errors import Conflict
        from .mlflow_store import _param_text

        logged = self.ctx.tracking.get_run(self.run_id)["params"]
        clash = {str(k): v for k, v in params.items() if str(k) in logged and logged[str(k)] != _param_text(v)}
        if clash:
            key, value = next(iter(clash.items()))
            raise Conflict(
                f"parameter {key!r} of this stage run is {logged[key]!r} already; it cannot become {value!r}",
                value=key,
                hint="a stage's parameters are set by the pipeline or `-p`; log a changed value under another name",
            )
        self.ctx.tracking.log_batch(self.run_id, params={str(k): v for k, v in params.items()})

    def set_tag(self, key: str, value: Any) -> None:
        """Write a tag to the stage run now."""
        self.ctx.tracking.log_batch(self.run_id, tags={str(key): str(value)})

    def __repr__(self) -> str:
        return f"StageRun(run_id={self.run_id!r})"
