"""Team mode: the tracking id map and the ledger of ``jupyter-mlops migrate``.

``tracking_ids`` maps an id this workspace recorded (a run, an experiment, a logged model) to the
id the MLflow store holds it under, for workspaces copied to a tracking server, which gives
every copied run a new id. ``migration_items`` is the ledger that makes a copy resumable: one row
per copied item with its state and the SHA-256 it was verified against.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracking_ids",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=128), nullable=False),
        sa.Column("mlflow_id", sa.String(length=128), nullable=False),
        sa.Column("created", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("kind", "workspace_id"),
        sa.UniqueConstraint("kind", "mlflow_id", name="uq_tracking_ids_mlflow"),
    )
    op.create_table(
        "migration_items",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=256), nullable=False),
        sa.Column("target_id", sa.String(length=256), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False),
        sa.Column("updated", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("kind", "source_id"),
    )


def downgrade() -> None:
    from jupyter_mlops.store.migrations import refuse_downgrade

    refuse_downgrade(revision)
