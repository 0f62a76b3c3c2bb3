"""Tables of the governance capability: stored compliance reports (portable SQLAlchemy Core)."""

from __future__ import annotations

import sqlalchemy as sa

from ..store.metadata import SchemaComponent, create_tables

__all__ = ["SCHEMA", "compliance_reports"]

metadata = sa.MetaData()
compliance_reports = sa.Table(
    "compliance_reports",
    metadata,
    sa.Column("report_id", sa.String(32), primary_key=True),
    sa.Column("model_name", sa.String(256), nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("policy", sa.String(256), nullable=False),
    sa.Column("policy_sha256", sa.String(64), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("audit_seq", sa.Integer, nullable=False),
    sa.Index("ix_compliance_model", "model_name", "model_version"),
)

SCHEMA = SchemaComponent("governance", [create_tables(metadata)])
