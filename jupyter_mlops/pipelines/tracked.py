"""One notebook execution inside a tracked run, and the records it leaves behind.

The stage run is opened (``kind="stage"``) before the kernel starts, so runs the notebook opens
(``%%track``, ``mlops.start_run``) become its children: the kernel gets ``JUPYTER_MLOPS_PARENT_RUN_ID``
and ``JUPYTER_MLOPS_HOME`` through ``ctx.child_env`` (the configuration layer builds the environment).
When the kernel is done, whatever the outcome, the executed notebook is stored in the object store and as an MLflow artifact,
the children's metrics and data versions are gathered, declared outputs are checked, the run is
closed, and one transaction writes the ``stage_runs`` row, the ``stage.end`` audit event and the
lineage edges.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.paths import resolve_inside, validate_file, validate_parameters
from ..errors import InvalidInput, MlopsError, StageFailed
from ..tracking.runs import ActiveRun
from .cache import fingerprint
from .engine import ProgressCallback
from .execute import Outcome, code_hash, declared_parameters, kernel_for, read_notebook
from .records import _close_kernel_runs, write_stage_record
from .results import NotebookRun
from .spec import IOSpec

if TYPE_CHECKING:
    from .context import PipelineContext

__all__ = ["NotebookRun", "UnknownParameterWarning", "check_parameters", "now", "run_tracked"]


class UnknownParameterWarning(UserWarning):
    """A parameter was given that the notebook's ``parameters`` cell does not define."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def check_parameters(nb: Mapping[str, Any], params: Mapping[str, Any], notebook: Path) -> tuple[str, ...]:
    """Refuse parameters for a notebook without a ``parameters`` cell; return (and warn about) unknown names."""
    if not params:
        return ()
    declared = declared_parameters(nb)
    if declared is None:
        raise InvalidInput(
            f"{notebook.name} has no cell tagged 'parameters', so {', '.join(sorted(params))} cannot be injected",
            value=str(notebook),
            hint="add the tag 'parameters' to the cell that defines the defaults (View > Cell Toolbar > Tags)",
            field="parameters",
        )
    unknown = tuple(sorted(k for k in params if k not in declared))
    if unknown:
        warnings.warn(
            f"{notebook.name}: parameter(s) {', '.join(unknown)} are not defined in its parameters cell; "
            "they are injected and recorded anyway",
            UnknownParameterWarning,
            stacklevel=3,
        )
    return unknown


def _stage_run_ids(ctx: PipelineContext, run_id: str) -> list[str]:
    """The stage run and the runs the notebook opened inside it (oldest first)."""
    from ..tracking.schema import runs

    with ctx.read() as conn:
        q = sa.select(runs.c.run_id).where(runs.c.parent_run_id == run_id).order_by(runs.c.started)
        return [run_id, *(r.run_id for r in conn.execute(q))]


def _link_declared_inputs(ctx: PipelineContext, run_id: str, inputs: Mapping[str, Any] | None) -> None:
    """The stage's declared data inputs count as read by its run from the start (models logged
    in the notebook name them as training data)."""
    for key, fp in (inputs or {}).items():
        if not key.startswith("file:") and fp:
            ctx.data.use(f"{key.split('@', 1)[0]}@{fp}", run_id)


def _children_details(ctx: PipelineContext, run_id: str) -> tuple[dict[str, float], set[str], list[tuple[str, str]]]:
    """The stage's metrics, the names it logged itself, and the data nodes linked to it and its children.

    Metrics come from the child runs (later runs win) and from the notebook's top level, which
    logs straight onto the stage run (:class:`~jupyter_mlops.tracking.runs.StageRun`) and wins.
    """
    from ..lineage.schema import lineage_edges

    ids = _stage_run_ids(ctx, run_id)
    children = ids[1:]
    with ctx.read() as conn:
        edges = conn.execute(
            sa.select(lineage_edges).where(
                sa.or_(
                    sa.and_(lineage_edges.c.src_type == "run", lineage_edges.c.src_id.in_(ids)),
                    sa.and_(lineage_edges.c.dst_type == "run", lineage_edges.c.dst_id.in_(ids)),
                )
            )
        ).all()
    data: list[tuple[str, str]] = []
    for e in edges:
        other = (e.dst_type, e.dst_id) if e.src_type == "run" and e.src_id in ids else (e.src_type, e.src_id)
        if other[0].startswith("data") and other not in data:
            data.append(other)
    metrics: dict[str, float] = {}
    own: dict[str, float] = {}
    for rid in [*children, run_id]:
        try:
            found = ctx.tracking.get_run(rid)["metrics"]
        except MlopsError:
            continue
        found = {k: v for k, v in found.items() if not k.startswith("mlops.")}  # not run timings
        metrics.update(found)
        if rid == run_id:
            own = found
    return metrics, set(own), data


def run_tracked(
    ctx: PipelineContext,
    notebook: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    output: str | Path | None = None,
    timeout: float | None = None,
    kernel: str | None = None,
    stage: str | None = None,
    experiment: str | None = None,
    pipeline_run_id: str | None = None,
    variant: int | None = None,
    attempt: int = 1,
    cache_key: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    outputs: Sequence[IOSpec] = (),
    base_dir: str | Path | None = None,
    on_event: ProgressCallback | None = None,
    stop_when: Callable[[], str | None] | None = None,
) -> NotebookRun:
    """Execute ``notebook`` inside a tracked stage run and record everything; see the module docstring.

    ``stop_when`` is polled while the notebook runs; a reason it returns stops the kernel and the
    stage ends KILLED with that reason (a worker uses it to stop when its pipeline process is gone).
    """
    from .execute import execute_notebook

    params = validate_parameters(parameters)  # names reach the kernel as code: checked before anything else
    path = validate_file(notebook).resolve()
    nb = read_notebook(path)
    unknown = check_parameters(nb, params, path)
    if output is not None and not str(output).endswith(".ipynb"):
        raise InvalidInput(f"--output must name a .ipynb file, got {str(output)!r}", value=str(output), field="output")
    if output is not None:
        validate_file(output, must_exist=False)
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise InvalidInput(f"timeout must be a positive number of seconds, got {timeout!r}", value=timeout, field="timeout")
    root = ctx.settings.root
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = str(path)
    chash = code_hash(nb)
    kernel, kernel_note = kernel_for(nb, kernel, path)
    name = stage or path.stem
    base = Path(base_dir) if base_dir is not None else path.parent
    started = now()
    t0 = time.perf_counter()
    wall0 = time.time()
    tags = {"mlops.notebook_sha256": chash, "mlops.stage": name}
    if pipeline_run_id:
        tags["mlops.pipeline_run_id"] = pipeline_run_id
    if unknown:
        tags["mlops.unknown_parameters"] = ",".join(unknown)
    run = ActiveRun(
        ctx, name, experiment=experiment, params=params, tags=tags, source={"notebook": rel, "source_sha256": chash}, kind="stage"
    )
    env = ctx.child_env(notebook_path=rel, home=str(root), user=ctx.actor)
    opened: list[bool] = []

    def open_run() -> dict[str, str]:
        """Open the stage run while the kernel boots (MLflow's import and store cost as much as
        the kernel's start-up); the kernel gets the run id before its first cell."""
        run.start()
        opened.append(True)
        if kernel_note:
            run.note(kernel_note)
        _link_declared_inputs(ctx, run.run_id, inputs)
        full = ctx.child_env(parent_run_id=run.run_id, notebook_path=rel, home=str(root), user=ctx.actor)
        return {k: v for k, v in full.items() if env.get(k) != v}

    def output_path() -> Path:
        if output is not None:
            return Path(output).resolve()
        return ctx.settings.home / "outputs" / f"{name}-{run.run_id[:12]}.ipynb"

    failure: BaseException | None = None
    result: dict[str, Any] = {
        "outcome": Outcome.FAILED.value,
        "message": "",
        "cell_index": None,
        "ename": None,
        "evalue": None,
        "traceback": "",
    }
    object_id: str | None = None
    produced: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    own_metrics: set[str] = set()
    data_nodes: list[tuple[str, str]] = []
    try:
        execution = execute_notebook(
            path,
            output_path,
            parameters=params,
            kernel_name=kernel,
            timeout=timeout,
            cwd=path.parent,
            env=env,
            on_event=on_event,
            stop_when=stop_when,
            before_cells=open_run,
        )
        result = {k: getattr(execution, k) for k in ("outcome", "message", "cell_index", "ename", "evalue", "traceback")}
    except BaseException as exc:  # KeyboardInterrupt included: the run must still close
        if not opened:
            raise  # the run never opened (nothing was recorded) and no cell ran
        failure = exc
        result["message"] = f"{type(exc).__name__}: {exc}"
        result["outcome"] = Outcome.KILLED.value if isinstance(exc, KeyboardInterrupt) else Outcome.FAILED.value
    _close_kernel_runs(ctx, run.run_id, result["outcome"])
    out_path = output_path()
    try:
        if out_path.is_file():
            object_id = ctx.objects.put_file(out_path).object_id
            ctx.tracking.log_artifact(run.run_id, out_path, "mlops")
        metrics, own_metrics, data_nodes = _children_details(ctx, run.run_id)
        if result["outcome"] == Outcome.SUCCEEDED.value:
            missing = []
            run_ids = _stage_run_ids(ctx, run.run_id) if any(io.kind == "model" for io in outputs) else []
            for io in outputs:
                fp = fingerprint(ctx, io, base, run_ids=run_ids)
                stale = io.kind == "file" and fp is not None and resolve_inside(base, io.ref).stat().st_mtime < wall0 - 1
                if fp is None or stale:
                    missing.append(io.ref)
                else:
                    produced[io.key] = fp
            if missing:
                result.update(outcome=Outcome.FAILED.value, message=f"declared output(s) not produced: {', '.join(missing)}")
    except MlopsError as err:
        if result["outcome"] == Outcome.SUCCEEDED.value:
            result.update(outcome=Outcome.FAILED.value, message=f"recording the stage failed: {err}")
    for k, v in metrics.items():
        if k not in own_metrics:  # the notebook's top-level metrics are on the run already
            run.log_metric(k, v)
    run.set_tag("mlops.outcome", result["outcome"])
    if object_id:
        run.set_tag("mlops.output_sha256", object_id)
    ok = result["outcome"] == Outcome.SUCCEEDED.value
    if not ok and stop_when is not None and str(result["message"]).startswith("stopped: "):
        from ..tracking.liveness import RunAbandoned

        failure = failure or RunAbandoned(result["message"])  # stopped for a dead pipeline: KILLED, not FAILED
    run.end(None if ok else (failure or StageFailed(result["message"] or result["outcome"])))
    seconds = time.perf_counter() - t0
    record = NotebookRun(
        stage_run_id=uuid.uuid4().hex,
        stage=name,
        notebook=rel,
        outcome=result["outcome"],
        run_id=run.run_id,
        pipeline_run_id=pipeline_run_id,
        variant=variant,
        attempt=attempt,
        message=result["message"],
        cell_index=result["cell_index"],
        ename=result["ename"],
        evalue=result["evalue"],
        traceback=result["traceback"] or "",
        output_path=str(out_path) if out_path.is_file() else None,
        output_object_id=object_id,
        code_sha256=chash,
        cache_key=cache_key,
        params=params,
        unknown_parameters=unknown,
        inputs=dict(inputs or {}),
        outputs=produced,
        metrics=metrics,
        data_versions=tuple(f"{t}:{i}" for t, i in data_nodes),
        seconds=round(seconds, 3),
    )
    write_stage_record(ctx, record, started=started, kernel=kernel, data_nodes=data_nodes, inputs_spec=inputs)
    if failure is not None and not isinstance(failure, Exception):
        raise failure
    return record
