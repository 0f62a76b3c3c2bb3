"""Pipeline runs whose process is gone: closed KILLED inside the reaper's transaction.

The tracking reaper (:func:`jupyter_mlops.tracking.liveness.reap`) closes the MLflow runs a dead
process left open; this hook closes the same process's ``pipeline_runs`` rows, with an end time of
the pipeline's last sign of life (its last recorded stage, or its owner's last write) and a
``run.reaped`` audit event, so the next run of the pipeline can name the stale run.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..tracking.liveness import Reaped
from .schema import pipeline_runs, stage_runs

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..core.context import Context

__all__ = ["reap_pipeline_runs"]


def reap_pipeline_runs(ctx: Context, conn: Connection, owner: Any, reason: str) -> list[Reaped]:
    """Close ``owner``'s RUNNING pipeline runs (called inside the reap transaction)."""
    p, s = pipeline_runs, stage_runs
    rows = conn.execute(sa.select(p).where(p.c.owner_id == owner.owner_id, p.c.status == "RUNNING")).all()
    out: list[Reaped] = []
    for row in rows:
        last_stage = conn.execute(sa.select(sa.func.max(s.c.ended)).where(s.c.pipeline_run_id == row.pipeline_run_id)).scalar()
        ended = max(str(x) for x in (row.started, last_stage, owner.last_seen) if x)
        summary = json.loads(row.summary or "{}")
        summary["reaped"] = {"reason": reason, "last_sign_of_life": ended}
        event = ctx.record(
            conn,
            "run.reaped",
            "pipeline_run",
            row.pipeline_run_id,
            {"pipeline": row.pipeline, "reason": reason, "status": "KILLED", "last_sign_of_life": ended, "run_id": row.run_id},
        )
        conn.execute(
            sa.update(p)
            .where(p.c.pipeline_run_id == row.pipeline_run_id)
            .values(status="KILLED", ended=ended, summary=json.dumps(summary, default=str))
        )
        out.append(Reaped("pipeline_run", row.pipeline_run_id, row.pipeline, "KILLED", reason, ended, event.seq))
    return out
