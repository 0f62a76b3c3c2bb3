"""The registry's tables: what MLflow's model registry does not record.

MLflow keeps registered models, versions and aliases. It does not keep who logged a version, the
hash of every artifact file, the data and code it came from, reviews, or who moved an alias when
and on whose approval. Those live here, written in the same transaction as their audit event:

- ``model_versions``: one row per registered version, with its artifact manifest
  (relative path -> sha256 and size), run, data versions, code hash, content hash of the fitted
  model, author and review status;
- ``model_reviews``: every review request, approval and rejection, in order;
- ``model_alias_history``: every alias move (from version, to version, who, when, approved by).
  The current target of an alias is the ``to_version`` of its newest row.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..store.metadata import SchemaComponent, add_columns, create_tables

__all__ = ["SCHEMA", "model_alias_history", "model_reviews", "model_versions"]

metadata = sa.MetaData()

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("author", sa.String(256), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("model_uri", sa.Text, nullable=False),
    sa.Column("model_id", sa.String(64), nullable=False),
    sa.Column("artifact_uri", sa.Text, nullable=False),
    sa.Column("flavor", sa.String(32), nullable=False),
    sa.Column("serialization", sa.String(32), nullable=False),
    sa.Column("trusted_types", sa.Text, nullable=False, server_default="[]"),
    sa.Column("manifest", sa.Text, nullable=False),
    sa.Column("manifest_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("code_sha256", sa.String(64)),
    sa.Column("data_versions", sa.Text, nullable=False, server_default="[]"),
    sa.Column("signature", sa.Text),
    sa.Column("model_type", sa.String(512), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="none"),
    sa.Column("log_seq", sa.Integer, nullable=False),
    # A content hash of the fitted model (tracking.models.model_sha256): evaluations of the same
    # object, made before or after it was logged, attach to this version.
    sa.Column("model_sha256", sa.String(64), index=True),
)

model_reviews = sa.Table(
    "model_reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("text", sa.Text, nullable=False, server_default=""),
    sa.Column("status_before", sa.String(16), nullable=False),
    sa.Column("status_after", sa.String(16), nullable=False),
    sa.Column("audit_seq", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
    sa.Index("ix_model_reviews_version", "name", "version"),
)

model_alias_history = sa.Table(
    "model_alias_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("alias", sa.String(64), nullable=False),
    sa.Column("from_version", sa.Integer),
    sa.Column("to_version", sa.Integer),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("approved_by", sa.String(256)),
    sa.Column("audit_seq", sa.Integer, nullable=False),
    sa.Index("ix_model_alias_history", "name", "alias"),
)

SCHEMA = SchemaComponent("registry", [create_tables(metadata), add_columns(model_versions, "model_sha256")])
