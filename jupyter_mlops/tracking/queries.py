"""Read queries over the tracking tables: the one place other capabilities and front-ends read runs.

Serving's ``trace`` (and anything else that needs a run's provenance) calls these instead of
selecting from ``runs`` itself, so a run shows the same fields wherever it is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..core.entities import RunInfo
from .schema import runs

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["get_run_record"]


def get_run_record(ctx: Context, run_id: str) -> RunInfo | None:
    """The jupyter-mlops record of run ``run_id`` (provenance, no MLflow metrics), or ``None``.

    Parameters
    ----------
    ctx
        The workspace context.
    run_id
        The MLflow run id.
    """
    with ctx.read() as conn:
        r = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
    if r is None:
        return None
    return RunInfo(
        run_id=r.run_id,
        experiment=r.experiment,
        name=r.name,
        actor=r.actor,
        status=r.status,
        started=r.started,
        ended=r.ended,
        notebook=r.notebook,
        cell_id=r.cell_id,
        source_sha256=r.source_sha256,
        parent_run_id=r.parent_run_id,
        error=r.error,
        audit_seqs=tuple(s for s in (r.start_seq, r.end_seq) if s is not None),
    )
