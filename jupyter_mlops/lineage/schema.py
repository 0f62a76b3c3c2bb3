"""The ``lineage_edges`` table: ``(src) -[relation]-> (dst)``, written in the same transaction as
the action that created the link, with its audit event.

Node types in use: ``notebook``, ``cell``, ``run``, ``data_version``, ``quality_report``,
``model_version``, ``evaluation``, ``card``, ``review``, ``pipeline_run``, ``stage_run``,
``endpoint``. Relations read left to right: ``data_version -input_of-> run``,
``run -produced-> model_version``, ``run -child_of-> run``, ``cell -source_of-> run``.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..store.metadata import SchemaComponent, create_tables

__all__ = ["SCHEMA", "lineage_edges"]

metadata = sa.MetaData()
lineage_edges = sa.Table(
    "lineage_edges",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("src_type", sa.String(32), nullable=False),
    sa.Column("src_id", sa.String(512), nullable=False),
    sa.Column("relation", sa.String(32), nullable=False),
    sa.Column("dst_type", sa.String(32), nullable=False),
    sa.Column("dst_id", sa.String(512), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("payload", sa.Text, nullable=False, server_default="{}"),
    sa.UniqueConstraint("src_type", "src_id", "relation", "dst_type", "dst_id", name="uq_lineage_edge"),
    sa.Index("ix_lineage_src", "src_type", "src_id"),
    sa.Index("ix_lineage_dst", "dst_type", "dst_id"),
)

SCHEMA = SchemaComponent("lineage", [create_tables(metadata)])
