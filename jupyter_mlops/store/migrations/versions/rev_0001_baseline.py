"""Baseline: the metadata schema of the last release before Alembic (a2d5358), frozen as DDL.

A database that release made already has these tables: it is adopted (brought to the component
versions below by the old per-component steps, then stamped with this revision), never re-created.
A new database gets them here. ``schema_versions`` stays, with the versions that release knows, so
that release can still open a database at this revision (the schema is the same); a later revision
that changes the schema in a way it cannot read raises a version there to make it refuse.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: ``schema_versions`` as release a2d5358 leaves it (component -> version).
LEGACY_VERSIONS = {
    "audit": 1,
    "tracking": 2,
    "lineage": 1,
    "data": 1,
    "registry": 2,
    "quality": 1,
    "evaluation": 2,
    "cards": 1,
    "pipelines": 2,
    "serving": 1,
}


def upgrade() -> None:
    versions = op.create_table(
        "schema_versions",
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("component"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=512), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
    )
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"], unique=False)
    op.create_index("ix_audit_object", "audit_events", ["object_type", "object_id"], unique=False)
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "data_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("schema_json", sa.Text(), nullable=False),
        sa.Column("schema_hash", sa.String(length=64), nullable=False),
        sa.Column("n_rows", sa.BigInteger(), nullable=False),
        sa.Column("n_cols", sa.Integer(), nullable=False),
        sa.Column("profile_json", sa.Text(), nullable=False),
        sa.Column("source_json", sa.Text(), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("key_json", sa.Text(), server_default="[]", nullable=False),
        sa.Column("sensitive_json", sa.Text(), server_default="[]", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("creator", sa.String(length=256), nullable=False),
        sa.Column("created", sa.String(length=40), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "version", name="uq_data_version"),
    )
    op.create_index(op.f("ix_data_versions_fingerprint"), "data_versions", ["fingerprint"], unique=False)
    op.create_table(
        "deployment_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_deployment_changes_name"), "deployment_changes", ["name"], unique=False)
    op.create_table(
        "deployments",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created", sa.String(length=40), nullable=False),
        sa.Column("updated", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=256), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("task", sa.String(length=16), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("fairness", sa.Text(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("baseline", sa.String(length=256), nullable=True),
        sa.Column("data_digest", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("report_object", sa.String(length=128), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_evaluations_model_sha256"), "evaluations", ["model_sha256"], unique=False)
    op.create_index(op.f("ix_evaluations_model_version"), "evaluations", ["model_version"], unique=False)
    op.create_index(op.f("ix_evaluations_run_id"), "evaluations", ["run_id"], unique=False)
    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("src_type", sa.String(length=32), nullable=False),
        sa.Column("src_id", sa.String(length=512), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("dst_type", sa.String(length=32), nullable=False),
        sa.Column("dst_id", sa.String(length=512), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("payload", sa.Text(), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("src_type", "src_id", "relation", "dst_type", "dst_id", name="uq_lineage_edge"),
    )
    op.create_index("ix_lineage_dst", "lineage_edges", ["dst_type", "dst_id"], unique=False)
    op.create_index("ix_lineage_src", "lineage_edges", ["src_type", "src_id"], unique=False)
    op.create_table(
        "model_alias_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("approved_by", sa.String(length=256), nullable=True),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_alias_history", "model_alias_history", ["name", "alias"], unique=False)
    op.create_table(
        "model_cards",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("card_version", sa.Integer(), nullable=False),
        sa.Column("sections", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=256), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("section", sa.String(length=64), nullable=True),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_name", "model_version", "card_version", name="uq_model_card_version"),
    )
    op.create_index("ix_model_cards_model", "model_cards", ["model_name", "model_version"], unique=False)
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("author", sa.String(length=256), nullable=False),
        sa.Column("created", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("model_uri", sa.Text(), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("artifact_uri", sa.Text(), nullable=False),
        sa.Column("flavor", sa.String(length=32), nullable=False),
        sa.Column("serialization", sa.String(length=32), nullable=False),
        sa.Column("trusted_types", sa.Text(), server_default="[]", nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=True),
        sa.Column("data_versions", sa.Text(), server_default="[]", nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("model_type", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("log_seq", sa.Integer(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name", "version"),
    )
    op.create_index(op.f("ix_model_versions_manifest_sha256"), "model_versions", ["manifest_sha256"], unique=False)
    op.create_index(op.f("ix_model_versions_model_sha256"), "model_versions", ["model_sha256"], unique=False)
    op.create_index(op.f("ix_model_versions_run_id"), "model_versions", ["run_id"], unique=False)
    op.create_table(
        "pipeline_runs",
        sa.Column("pipeline_run_id", sa.String(length=64), nullable=False),
        sa.Column("pipeline", sa.String(length=256), nullable=False),
        sa.Column("spec_path", sa.Text(), nullable=False),
        sa.Column("spec_sha256", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("executor", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started", sa.String(length=40), nullable=False),
        sa.Column("ended", sa.String(length=40), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), server_default="{}", nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("pipeline_run_id"),
    )
    op.create_index(op.f("ix_pipeline_runs_owner_id"), "pipeline_runs", ["owner_id"], unique=False)
    op.create_index(op.f("ix_pipeline_runs_pipeline"), "pipeline_runs", ["pipeline"], unique=False)
    op.create_index(op.f("ix_pipeline_runs_status"), "pipeline_runs", ["status"], unique=False)
    op.create_table(
        "quality_reports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("data_ref", sa.String(length=256), nullable=True),
        sa.Column("data_name", sa.String(length=128), nullable=True),
        sa.Column("data_version", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sa.String(length=128), nullable=True),
        sa.Column("rules_source", sa.Text(), nullable=False),
        sa.Column("rules_sha256", sa.String(length=64), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_columns", sa.Integer(), nullable=False),
        sa.Column("n_checks", sa.Integer(), nullable=False),
        sa.Column("n_failed_checks", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.Column("sensitive", sa.Text(), server_default="[]", nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_quality_reports_data_name"), "quality_reports", ["data_name"], unique=False)
    op.create_index(op.f("ix_quality_reports_data_ref"), "quality_reports", ["data_ref"], unique=False)
    op.create_index(op.f("ix_quality_reports_fingerprint"), "quality_reports", ["fingerprint"], unique=False)
    op.create_index(op.f("ix_quality_reports_run_id"), "quality_reports", ["run_id"], unique=False)
    op.create_index(op.f("ix_quality_reports_ts"), "quality_reports", ["ts"], unique=False)
    op.create_table(
        "run_owners",
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=256), nullable=False),
        sa.Column("boot_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("pid_namespace", sa.String(length=64), server_default="", nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("pid_start", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("registered", sa.String(length=40), nullable=False),
        sa.Column("last_seen", sa.String(length=40), nullable=False),
        sa.Column("closed", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("owner_id"),
    )
    op.create_index(op.f("ix_run_owners_closed"), "run_owners", ["closed"], unique=False)
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("experiment", sa.String(length=256), nullable=False),
        sa.Column("experiment_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started", sa.String(length=40), nullable=False),
        sa.Column("ended", sa.String(length=40), nullable=True),
        sa.Column("notebook", sa.Text(), nullable=True),
        sa.Column("cell_id", sa.String(length=128), nullable=True),
        sa.Column("source_sha256", sa.String(length=64), nullable=True),
        sa.Column("parent_run_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), server_default="run", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("start_seq", sa.Integer(), nullable=True),
        sa.Column("end_seq", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index(op.f("ix_runs_experiment"), "runs", ["experiment"], unique=False)
    op.create_index(op.f("ix_runs_owner_id"), "runs", ["owner_id"], unique=False)
    op.create_index(op.f("ix_runs_parent_run_id"), "runs", ["parent_run_id"], unique=False)
    op.create_index(op.f("ix_runs_status"), "runs", ["status"], unique=False)
    op.create_table(
        "stage_runs",
        sa.Column("stage_run_id", sa.String(length=64), nullable=False),
        sa.Column("pipeline_run_id", sa.String(length=64), nullable=True),
        sa.Column("stage", sa.String(length=256), nullable=False),
        sa.Column("variant", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("source_run_id", sa.String(length=64), nullable=True),
        sa.Column("notebook", sa.Text(), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("kernel", sa.String(length=128), nullable=True),
        sa.Column("cache_key", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("cell_index", sa.Integer(), nullable=True),
        sa.Column("ename", sa.String(length=256), nullable=True),
        sa.Column("evalue", sa.Text(), nullable=True),
        sa.Column("output_object_id", sa.String(length=64), nullable=True),
        sa.Column("output_path", sa.Text(), nullable=True),
        sa.Column("params", sa.Text(), server_default="{}", nullable=False),
        sa.Column("inputs", sa.Text(), server_default="{}", nullable=False),
        sa.Column("outputs", sa.Text(), server_default="{}", nullable=False),
        sa.Column("metrics", sa.Text(), server_default="{}", nullable=False),
        sa.Column("environment_sha256", sa.String(length=64), nullable=True),
        sa.Column("started", sa.String(length=40), nullable=False),
        sa.Column("ended", sa.String(length=40), nullable=False),
        sa.Column("seconds", sa.Float(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("stage_run_id"),
    )
    op.create_index(op.f("ix_stage_runs_cache_key"), "stage_runs", ["cache_key"], unique=False)
    op.create_index(op.f("ix_stage_runs_outcome"), "stage_runs", ["outcome"], unique=False)
    op.create_index(op.f("ix_stage_runs_pipeline_run_id"), "stage_runs", ["pipeline_run_id"], unique=False)
    op.create_index(op.f("ix_stage_runs_run_id"), "stage_runs", ["run_id"], unique=False)
    op.create_table(
        "model_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("status_before", sa.String(length=16), nullable=False),
        sa.Column("status_after", sa.String(length=16), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_reviews_version", "model_reviews", ["name", "version"], unique=False)

    from jupyter_mlops.store.migrations import utc_now

    op.bulk_insert(versions, [{"component": c, "version": v, "updated": utc_now()} for c, v in LEGACY_VERSIONS.items()])


def downgrade() -> None:
    from jupyter_mlops.store.migrations import refuse_downgrade

    refuse_downgrade(revision)
