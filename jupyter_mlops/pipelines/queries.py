"""Read queries over recorded stage runs: which MLflow run a ``stage_run_id`` names.

``jupyter-mlops run --json`` prints both ids for every stage; :func:`resolve_run_id` lets either
one work wherever a run id is asked for (``runs show``, ``rerun``, the REST run routes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..core.paths import validate_object_id
from ..errors import InvalidInput, UnsafePath
from ..tracking.queries import get_run_record
from .schema import stage_runs

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["resolve_run_id", "run_id_of"]


def run_id_of(ctx: Context, stage_run_id: str) -> str | None:
    """The MLflow run id behind a ``stage_run_id`` (the reused run's for a CACHED record), or ``None``."""
    with ctx.read() as conn:
        row = conn.execute(
            sa.select(stage_runs.c.run_id, stage_runs.c.source_run_id).where(stage_runs.c.stage_run_id == stage_run_id)
        ).first()
    return None if row is None else (row.run_id or row.source_run_id)


def resolve_run_id(ctx: Context, run_id: str) -> str:
    """The MLflow run id that ``run_id`` names: a run id as it is, or a stage record's ``stage_run_id``.

    An id that is neither is returned unchanged, so the caller reports it as not found.
    """
    try:
        validate_object_id(run_id)
    except UnsafePath:
        raise InvalidInput(
            f"invalid run id {str(run_id)[:80]!r}",
            value=str(run_id)[:80],
            hint="a run id is the 32-character hex id `jupyter-mlops runs list` shows; a stage_run_id works too",
            field="run_id",
        ) from None
    if get_run_record(ctx, run_id) is not None:
        return run_id
    return run_id_of(ctx, run_id) or run_id
