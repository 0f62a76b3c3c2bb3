"""The serving tables: each deployment's current state and every change to it.

- ``deployments``: one row per deployment name, with its state as JSON (variants, weights,
  roles, shadows, sticky header, analysis, stop switch, disabled variants, canary progress) and a
  revision number that every change increments (gateways poll it);
- ``deployment_changes``: every change, in order, with the state before and after and the audit
  event that recorded it.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..store.metadata import SchemaComponent, create_tables

__all__ = ["SCHEMA", "deployment_changes", "deployments"]

metadata = sa.MetaData()

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("updated", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
)

deployment_changes = sa.Table(
    "deployment_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, index=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text, nullable=False),
    sa.Column("audit_seq", sa.Integer, nullable=False),
)

SCHEMA = SchemaComponent("serving", [create_tables(metadata)])
