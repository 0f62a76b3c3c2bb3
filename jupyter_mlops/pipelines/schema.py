"""The ``pipeline_runs`` and ``stage_runs`` tables: what ran, how it ended, and what was reused.

MLflow holds each executed stage's parameters, metrics and artifacts. These tables hold what MLflow
does not model: the pipeline a stage belonged to, our own outcome classification (KILLED,
TIMED_OUT, EXITED_EARLY ...), the cache key, the fingerprints of inputs and outputs, and, for a
reused stage, the run it was reused from. Stage rows are written once, when the stage has ended,
so a stage row is never left RUNNING.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..store.metadata import SchemaComponent, create_tables

__all__ = ["SCHEMA", "pipeline_runs", "stage_runs"]

metadata = sa.MetaData()

pipeline_runs = sa.Table(
    "pipeline_runs",
    metadata,
    sa.Column("pipeline_run_id", sa.String(64), primary_key=True),
    sa.Column("pipeline", sa.String(256), nullable=False, index=True),
    sa.Column("spec_path", sa.Text, nullable=False),
    sa.Column("spec_sha256", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("executor", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("started", sa.String(40), nullable=False),
    sa.Column("ended", sa.String(40)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("summary", sa.Text, nullable=False, server_default="{}"),
    sa.Column("owner_id", sa.String(32), index=True),
)

stage_runs = sa.Table(
    "stage_runs",
    metadata,
    sa.Column("stage_run_id", sa.String(64), primary_key=True),
    sa.Column("pipeline_run_id", sa.String(64), index=True),
    sa.Column("stage", sa.String(256), nullable=False),
    sa.Column("variant", sa.Integer),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
    sa.Column("run_id", sa.String(64), index=True),
    sa.Column("source_run_id", sa.String(64)),
    sa.Column("notebook", sa.Text, nullable=False),
    sa.Column("code_sha256", sa.String(64), nullable=False),
    sa.Column("kernel", sa.String(128)),
    sa.Column("cache_key", sa.String(64), index=True),
    sa.Column("outcome", sa.String(16), nullable=False, index=True),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("cell_index", sa.Integer),
    sa.Column("ename", sa.String(256)),
    sa.Column("evalue", sa.Text),
    sa.Column("output_object_id", sa.String(64)),
    sa.Column("output_path", sa.Text),
    sa.Column("params", sa.Text, nullable=False, server_default="{}"),
    sa.Column("inputs", sa.Text, nullable=False, server_default="{}"),
    sa.Column("outputs", sa.Text, nullable=False, server_default="{}"),
    sa.Column("metrics", sa.Text, nullable=False, server_default="{}"),
    sa.Column("environment_sha256", sa.String(64)),
    sa.Column("started", sa.String(40), nullable=False),
    sa.Column("ended", sa.String(40), nullable=False),
    sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
)


def _add_owner(conn: Connection) -> None:
    """Version 2: ``pipeline_runs.owner_id``, the process that runs it (see ``tracking.liveness``)."""
    if "owner_id" not in {c["name"] for c in sa.inspect(conn).get_columns("pipeline_runs")}:
        conn.execute(sa.text("ALTER TABLE pipeline_runs ADD COLUMN owner_id VARCHAR(32)"))
        conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_pipeline_runs_owner_id ON pipeline_runs (owner_id)"))


SCHEMA = SchemaComponent("pipelines", [create_tables(metadata), _add_owner])
