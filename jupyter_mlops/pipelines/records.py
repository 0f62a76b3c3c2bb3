"""The records a notebook execution leaves behind: its stage row, audit event and lineage edges, and the kernel's runs closed."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import MlopsError
from .cache import environment_hash
from .execute import Outcome
from .schema import stage_runs

if TYPE_CHECKING:
    from .context import PipelineContext
    from .results import NotebookRun

__all__ = ["write_stage_record"]


def _close_kernel_runs(ctx: PipelineContext, run_id: str, outcome: str) -> None:
    """Close the runs the notebook's kernel left open below the stage run (the kernel is gone now).

    A kernel that ended normally closed its own runs at exit, so only our table is checked then;
    after a dead or timed-out kernel MLflow is searched too (a run may have been created there in
    the instant before its row was written), and processes that are gone are reaped.
    """
    from ..tracking.liveness import close_children

    bad = outcome not in (Outcome.SUCCEEDED.value, Outcome.EXITED_EARLY.value)
    why = {
        Outcome.KILLED.value: "the stage's kernel died with the run open",
        Outcome.TIMED_OUT.value: "the stage timed out and its kernel was stopped with the run open",
    }.get(outcome, "the stage's kernel ended with the run open")
    try:
        close_children(ctx, run_id, why, search_mlflow=bad)
        if bad:
            from ..tracking.liveness import reap_stale

            reap_stale(ctx)
    except MlopsError:
        pass  # the next open of the workspace reaps them


def write_stage_record(
    ctx: PipelineContext,
    rec: NotebookRun,
    *,
    started: str,
    kernel: str | None = None,
    data_nodes: Sequence[tuple[str, str]] = (),
    inputs_spec: Mapping[str, Any] | None = None,
    action: str = "stage.end",
) -> None:
    """The ``stage_runs`` row, its audit event and lineage edges, in one transaction."""
    env_hash = environment_hash()
    with ctx.transaction() as conn:
        event = ctx.record(
            conn,
            action,
            "stage_run",
            rec.stage_run_id,
            {
                "stage": rec.stage,
                "variant": rec.variant,
                "attempt": rec.attempt,
                "outcome": rec.outcome,
                "run_id": rec.run_id,
                "source_run_id": rec.source_run_id,
                "pipeline_run_id": rec.pipeline_run_id,
                "notebook": rec.notebook,
                "code_sha256": rec.code_sha256,
                "cache_key": rec.cache_key,
                "message": rec.message,
                "cell_index": rec.cell_index,
                "ename": rec.ename,
                "output_sha256": rec.output_object_id,
                "unknown_parameters": list(rec.unknown_parameters),
                "outputs": rec.outputs,
            },
        )
        conn.execute(
            sa.insert(stage_runs).values(
                stage_run_id=rec.stage_run_id,
                pipeline_run_id=rec.pipeline_run_id,
                stage=rec.stage,
                variant=rec.variant,
                attempt=rec.attempt,
                run_id=rec.run_id,
                source_run_id=rec.source_run_id,
                notebook=rec.notebook,
                code_sha256=rec.code_sha256,
                kernel=kernel,
                cache_key=rec.cache_key,
                outcome=rec.outcome,
                message=rec.message,
                cell_index=rec.cell_index,
                ename=rec.ename,
                evalue=rec.evalue,
                output_object_id=rec.output_object_id,
                output_path=rec.output_path,
                params=json.dumps(rec.params, default=str, sort_keys=True),
                inputs=json.dumps(rec.inputs, default=str, sort_keys=True),
                outputs=json.dumps(rec.outputs, default=str, sort_keys=True),
                metrics=json.dumps(rec.metrics, sort_keys=True),
                environment_sha256=env_hash,
                started=started,
                ended=event.ts,
                seconds=rec.seconds,
            )
        )
        run_node = ("run", rec.run_id or rec.source_run_id or "")
        if rec.pipeline_run_id and run_node[1]:
            ctx.link(
                conn, ("pipeline_run", rec.pipeline_run_id), "contains", run_node, {"stage": rec.stage, "outcome": rec.outcome}
            )
        if rec.run_id:
            if rec.output_object_id:
                ctx.link(conn, run_node, "produced", ("object", rec.output_object_id), {"kind": "executed_notebook"})
            for node in data_nodes:
                ctx.link(conn, run_node, "used", node)
            for key, fp in (inputs_spec or {}).items():
                ctx.link(
                    conn,
                    ("file" if key.startswith("file:") else "data", key.removeprefix("file:")),
                    "input_to",
                    run_node,
                    {"fingerprint": fp},
                )
            for key, fp in rec.outputs.items():
                ctx.link(
                    conn,
                    run_node,
                    "produced",
                    ("file" if key.startswith("file:") else "data", key.removeprefix("file:")),
                    {"fingerprint": fp},
                )
