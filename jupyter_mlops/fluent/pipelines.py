"""Fluent shortcuts for notebooks and pipelines run with papermill, on the current workspace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .context import current_workspace

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..pipelines.results import PipelinePlan, PipelineResult, RerunCheck
    from ..pipelines.tracked import NotebookRun

__all__ = ["rerun", "run_notebook", "run_pipeline"]


def run_notebook(
    notebook: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    output: str | Path | None = None,
    timeout: float | None = None,
    kernel: str | None = None,
    progress: Callable[[dict[str, Any]], None] | str | None = None,
) -> NotebookRun:
    """Execute a notebook with papermill inside a tracked stage run; see :meth:`PipelineService.run_notebook`.

    Parameters
    ----------
    notebook:
        The ``.ipynb`` file; ``parameters`` go into its cell tagged ``parameters``.
    output:
        Where the executed notebook is written (kept whatever the outcome).
    timeout:
        Seconds any one cell may run.
    kernel:
        Kernel name (default: the notebook's own).
    progress:
        ``"widget"`` shows a live progress widget (in a notebook); or a callable taking event dicts.

    Returns
    -------
    NotebookRun
        The classified outcome (SUCCEEDED, FAILED, KILLED, TIMED_OUT, EXITED_EARLY) and the run id.
    """
    return current_workspace().pipelines.run_notebook(
        notebook, parameters, output=output, timeout=timeout, kernel=kernel, progress=_progress(progress)
    )


def _progress(progress: Callable[[dict[str, Any]], None] | str | None) -> Callable[[dict[str, Any]], None] | None:
    """Resolve ``progress="widget"`` to a displayed progress widget (widgets are imported only then)."""
    if progress is None or callable(progress):
        return progress
    if progress == "widget":
        from ..widgets.progress import show_progress

        return show_progress()
    from ..errors import InvalidInput

    raise InvalidInput(
        f"progress must be 'widget', a callable or None, got {progress!r}", value=repr(progress)[:80], field="progress"
    )


def run_pipeline(
    pipeline: str | Path,
    *,
    stages: Sequence[str] = (),
    force: bool = False,
    executor: str | None = None,
    max_parallel: int = 2,
    dry_run: bool = False,
    progress: Callable[[dict[str, Any]], None] | str | None = None,
) -> PipelineResult | PipelinePlan:
    """Run a ``pipeline.yaml``: cached, swept, in parallel; see :meth:`PipelineService.run_pipeline`.

    Parameters
    ----------
    pipeline:
        The pipeline file.
    stages:
        Run only these stages and what they need.
    force:
        Re-run stages whose cache key is unchanged.
    executor:
        ``"local"`` or a Dask scheduler address ``dask://HOST:PORT``; default: the workspace's
        ``[executor] address``, else local.
    max_parallel:
        Local workers.
    dry_run:
        Show what would run, execute nothing.
    progress:
        ``"widget"`` shows a live progress widget (stages, sweep runs, elapsed time, outcome) in a
        notebook; or a callable taking event dicts.

    Returns
    -------
    PipelineResult or PipelinePlan
        What ran, was reused, failed or was skipped (a plan for ``dry_run``).
    """
    return current_workspace().pipelines.run_pipeline(
        pipeline,
        stages=stages,
        force=force,
        executor=executor,
        max_parallel=max_parallel,
        dry_run=dry_run,
        progress=None if dry_run else _progress(progress),
    )


def rerun(run_id: str, *, tolerance: float = 1e-6) -> RerunCheck:
    """Re-execute a recorded stage run and check its metrics reproduce within ``tolerance``.

    Parameters
    ----------
    run_id:
        The run id of a recorded notebook or stage run, or its ``stage_run_id``.
    tolerance:
        Largest absolute metric difference that passes.

    Returns
    -------
    RerunCheck
        Pass or fail, per-metric comparison; also recorded as an audit event.
    """
    return current_workspace().pipelines.rerun(run_id, tolerance=tolerance)
