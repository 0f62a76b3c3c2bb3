"""The ``runs`` table: who ran what, from which cell or notebook, and how it ended.

MLflow holds parameters, metrics and artifacts; this table cross-references each MLflow run id
with its actor, source and the audit events that opened and closed it.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..store.metadata import SchemaComponent, create_tables

__all__ = ["SCHEMA", "runs"]

metadata = sa.MetaData()
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("experiment", sa.String(256), nullable=False, index=True),
    sa.Column("experiment_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("started", sa.String(40), nullable=False),
    sa.Column("ended", sa.String(40)),
    sa.Column("notebook", sa.Text),
    sa.Column("cell_id", sa.String(128)),
    sa.Column("source_sha256", sa.String(64)),
    sa.Column("parent_run_id", sa.String(64), index=True),
    sa.Column("kind", sa.String(32), nullable=False, server_default="run"),
    sa.Column("error", sa.Text),
    sa.Column("start_seq", sa.Integer),
    sa.Column("end_seq", sa.Integer),
)

SCHEMA = SchemaComponent("tracking", [create_tables(metadata)])
