"""Read queries over evaluations: the latest report of a model version, without loading MLflow.

The review page, the card and the REST routes read evaluations here. A report is read from the
metadata database and the object store (its bytes re-verified against their hash), so showing it
never imports the tracking back-end.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .report import EvaluationReport
from .schema import evaluations

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["latest"]


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
