"""Read queries over stored evaluations: one report by id, and the history of a model version.

Model cards, the review, ``ws.evaluation.get``/``history`` and the front-ends read evaluations
here, so a number shown in two places comes from one function.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.paths import validate_object_id
from ..errors import InvalidInput, NotFound
from .report import EvaluationReport
from .schema import evaluations

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["history", "report"]


def report(ctx: Context, eval_id: str) -> EvaluationReport:
    """The stored report of evaluation ``eval_id`` (its bytes re-verified against their hash)."""
    validate_object_id(eval_id)
    with ctx.read() as conn:
        row = conn.execute(sa.select(evaluations.c.report_object).where(evaluations.c.id == eval_id)).first()
    if row is None:
        raise NotFound(f"no evaluation with id {eval_id!r}", value=eval_id, hint="`ws.evaluation.history()` lists evaluations")
    return EvaluationReport.from_dict(json.loads(ctx.objects.open_verified(row.report_object)))


def history(ctx: Context, model_version: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
    """Evaluations newest first (all, or of one resolved ``name@N`` model version)."""
    if not 1 <= int(limit) <= 10_000:
        raise InvalidInput(f"limit must be between 1 and 10000, got {limit}", value=limit, field="limit")
    q = sa.select(evaluations).order_by(evaluations.c.seq.desc()).limit(int(limit))
    if model_version is not None:
        q = q.where(evaluations.c.model_version == model_version)
    with ctx.read() as conn:
        rows = conn.execute(q).all()
    return [
        {
            "id": r.id,
            "model_version": r.model_version,
            "run_id": r.run_id,
            "task": r.task,
            "n_rows": r.n_rows,
            "passed": r.passed,
            "metrics": json.loads(r.metrics),
            "fairness": json.loads(r.fairness),
            "baseline": r.baseline,
            "actor": r.actor,
            "ts": r.ts,
            "report_object": r.report_object,
        }
        for r in rows
    ]
