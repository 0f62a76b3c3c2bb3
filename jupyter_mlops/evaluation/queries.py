"""Read queries over stored evaluations: one report by id, the latest of a model version, and the
history of a model version.

Model cards, the review page, ``ws.evaluation.get``/``history`` and the front-ends read evaluations
here, so a number shown in two places comes from one function. A report is read from the metadata
database and the object store (its bytes re-verified against their hash), so showing it never
imports the tracking back-end.
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

__all__ = ["history", "latest", "report"]


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


def latest(ctx: Context, model_version: str) -> EvaluationReport | None:
    """The most recent evaluation of ``model_version`` (a resolved ``"name@3"``), or ``None``.

    Parameters
    ----------
    ctx
        The workspace context.
    model_version
        The model version as ``name@number`` (resolve aliases with ``registry.queries.get`` first).
    """
    q = (
        sa.select(evaluations.c.report_object)
        .where(evaluations.c.model_version == model_version)
        .order_by(evaluations.c.seq.desc())
        .limit(1)
    )
    with ctx.read() as conn:
        found = conn.execute(q).first()
    if found is None:
        return None
    return EvaluationReport.from_dict(json.loads(ctx.objects.open_verified(found.report_object)))
