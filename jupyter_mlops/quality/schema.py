"""The ``quality_reports`` table: every quality check ever run, kept as evidence.

One row per report, written in the same transaction as its ``data.check`` audit event. Model
cards and reviewers read it back by data version (``data_ref``) or by fingerprint. ``failures``
holds the report's failure list as JSON, already masked for sensitive columns.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..store.metadata import SchemaComponent, create_tables

__all__ = ["SCHEMA", "quality_reports"]

metadata = sa.MetaData()
quality_reports = sa.Table(
    "quality_reports",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("data_ref", sa.String(256), index=True),
    sa.Column("data_name", sa.String(128), index=True),
    sa.Column("data_version", sa.Integer),
    sa.Column("fingerprint", sa.String(128), index=True),
    sa.Column("rules_source", sa.Text, nullable=False),
    sa.Column("rules_sha256", sa.String(64), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("n_columns", sa.Integer, nullable=False),
    sa.Column("n_checks", sa.Integer, nullable=False),
    sa.Column("n_failed_checks", sa.Integer, nullable=False),
    sa.Column("failures", sa.Text, nullable=False),
    sa.Column("sensitive", sa.Text, nullable=False, server_default="[]"),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False, index=True),
    sa.Column("run_id", sa.String(64), index=True),
    sa.Column("audit_seq", sa.Integer),
)

SCHEMA = SchemaComponent("quality", [create_tables(metadata)])
