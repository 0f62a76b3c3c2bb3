"""The ``model_cards`` table: every version of every card, never updated in place.

A row is one card version of one model version: its sections as JSON, the sha256 of what it
says, the object id of its rendered JSON in the object store, who wrote it, when and why
(``build`` or ``edit`` of a section). The newest row is the current card; older rows are the
card's history, so a reviewer can see what a card said when a version was approved.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..store.metadata import SchemaComponent, create_tables

__all__ = ["SCHEMA", "model_cards"]

metadata = sa.MetaData()
model_cards = sa.Table(
    "model_cards",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("card_version", sa.Integer, nullable=False),
    sa.Column("sections", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("object_id", sa.String(64), nullable=False),
    sa.Column("author", sa.String(256), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("section", sa.String(64)),
    sa.Column("audit_seq", sa.Integer),
    sa.UniqueConstraint("model_name", "model_version", "card_version", name="uq_model_card_version"),
    sa.Index("ix_model_cards_model", "model_name", "model_version"),
)

SCHEMA = SchemaComponent("cards", [create_tables(metadata)])
