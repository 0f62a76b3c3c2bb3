"""Read queries over model cards: the current card of a model version.

The review page and the REST routes read cards here; :class:`~jupyter_mlops.cards.service.CardService`
builds and edits them. A card read back is checked against its recorded sha256.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from .card import ModelCard
from .schema import model_cards

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["latest"]


def latest(ctx: Context, name: str, version: int) -> ModelCard | None:
    """The newest card version of model ``name`` version ``version``, or ``None`` when none was built.

    Raises
    ------
    IntegrityError
        When the stored card does not match its recorded sha256.
    """
    from .service import CardService

    q = (
        sa.select(model_cards)
        .where(model_cards.c.model_name == name, model_cards.c.model_version == version)
        .order_by(model_cards.c.card_version.desc())
        .limit(1)
    )
    with ctx.read() as conn:
        row = conn.execute(q).first()
    return None if row is None else CardService._card(row)
