"""Read queries over quality reports: the checks recorded for one data version."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from .report import QualityReport
from .schema import quality_reports

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["reports_for"]


def reports_for(ctx: Context, data_ref: str, *, limit: int = 20) -> tuple[QualityReport, ...]:
    """The quality reports of data version ``data_ref`` (``"name@3"``), newest first."""
    from .service import _from_row

    q = (
        sa.select(quality_reports)
        .where(quality_reports.c.data_ref == data_ref)
        .order_by(quality_reports.c.ts.desc())
        .limit(max(1, min(int(limit), 1000)))
    )
    with ctx.read() as conn:
        return tuple(_from_row(r) for r in conn.execute(q))
