"""The ``data_versions`` table: one row per version of a named data set.

The row is the catalogue entry (fingerprint, schema, profile, snapshot object, creator); the bytes
live in the object store and the history of who did what in the audit chain. ``(name, version)``
is unique, so two writers racing for the same next number cannot both succeed.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..store.metadata import SchemaComponent, create_tables

__all__ = ["SCHEMA", "data_versions"]

metadata = sa.MetaData()
data_versions = sa.Table(
    "data_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False, index=True),
    sa.Column("scheme", sa.String(64), nullable=False),
    sa.Column("schema_json", sa.Text, nullable=False),
    sa.Column("schema_hash", sa.String(64), nullable=False),
    sa.Column("n_rows", sa.BigInteger, nullable=False),
    sa.Column("n_cols", sa.Integer, nullable=False),
    sa.Column("profile_json", sa.Text, nullable=False),
    sa.Column("source_json", sa.Text, nullable=False),
    sa.Column("object_id", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("key_json", sa.Text, nullable=False, server_default="[]"),
    sa.Column("sensitive_json", sa.Text, nullable=False, server_default="[]"),
    sa.Column("description", sa.Text),
    sa.Column("creator", sa.String(256), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("audit_seq", sa.Integer),
    sa.UniqueConstraint("name", "version", name="uq_data_version"),
)

SCHEMA = SchemaComponent("data", [create_tables(metadata)])
