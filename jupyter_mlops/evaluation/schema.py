"""The ``evaluations`` table: every evaluation, which model version it judged, and where its report is.

The row holds what reviews and cards query (model version, task, pass or fail, headline metrics
and disparities as JSON); the full :class:`~jupyter_mlops.evaluation.report.EvaluationReport`
(plots included) is stored as JSON in the content-addressed object store under ``report_object``.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..store.metadata import SchemaComponent, add_columns, create_tables

__all__ = ["SCHEMA", "evaluations"]

metadata = sa.MetaData()
evaluations = sa.Table(
    "evaluations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("model_version", sa.String(256), index=True),
    sa.Column("run_id", sa.String(64), index=True),
    sa.Column("task", sa.String(16), nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("fairness", sa.Text, nullable=False),
    sa.Column("passed", sa.Boolean),
    sa.Column("baseline", sa.String(256)),
    sa.Column("data_digest", sa.String(64)),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("report_object", sa.String(128), nullable=False),
    # The evaluated model's content hash: an evaluation of an object not yet logged attaches to
    # the version logged from it later in the same run.
    sa.Column("model_sha256", sa.String(64), index=True),
)

SCHEMA = SchemaComponent("evaluation", [create_tables(metadata), add_columns(evaluations, "model_sha256")])
