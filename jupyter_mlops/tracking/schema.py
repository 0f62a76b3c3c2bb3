"""The ``runs`` table: who ran what, from which cell or notebook, and how it ended.

MLflow holds parameters, metrics and artifacts; this table cross-references each MLflow run id
with its actor, source and the audit events that opened and closed it.

``run_owners`` (schema version 2) holds one row per process that started runs in this workspace:
its host, boot id, PID namespace, PID and start time (see :mod:`jupyter_mlops.core.process`). A run
(and a pipeline run) names its owner, so any later process can tell that a run whose owner is
gone will never be closed by it, and reap it (:mod:`jupyter_mlops.tracking.liveness`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..store.metadata import SchemaComponent, create_tables

__all__ = ["SCHEMA", "run_owners", "runs"]

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
    sa.Column("owner_id", sa.String(32), index=True),
)

run_owners = sa.Table(
    "run_owners",
    metadata,
    sa.Column("owner_id", sa.String(32), primary_key=True),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("boot_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("pid_namespace", sa.String(64), nullable=False, server_default=""),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("pid_start", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("registered", sa.String(40), nullable=False),
    sa.Column("last_seen", sa.String(40), nullable=False),
    sa.Column("closed", sa.String(40), index=True),
)


def _add_owners(conn: Connection) -> None:
    """Version 2: the ``run_owners`` table and ``runs.owner_id`` (a database made at version 2 has them already)."""
    if "owner_id" not in {c["name"] for c in sa.inspect(conn).get_columns("runs")}:
        conn.execute(sa.text("ALTER TABLE runs ADD COLUMN owner_id VARCHAR(32)"))
        conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_runs_owner_id ON runs (owner_id)"))
    run_owners.create(conn, checkfirst=True)


SCHEMA = SchemaComponent("tracking", [create_tables(metadata), _add_owners])
