"""The metadata step of a migration: every table copied row for row in one transaction.

Only what says where MLflow keeps something is rewritten; each table's digest is compared after the copy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.hashing import canonical_json, sha256_text
from ..errors import Conflict, IntegrityError
from ..store.team import tracking_ids
from ..workspace import SCHEMA_MODULES, Workspace

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = []

_NOT_COPIED = {"schema_versions", "tracking_ids", "migration_items"}


def _copy_metadata(
    source: Workspace,
    target: Workspace,
    experiments: dict[str, str],
    runs: dict[str, str],
    models: dict[tuple[str, int], dict[str, str]],
    head_seq: int,
    head_hash: str,
) -> dict[str, int]:
    """Every table, in one transaction; then the id map and the ``workspace.migrated`` event."""
    from ..store.migrations import utc_now

    tables = _tables()
    counts: dict[str, int] = {}
    digests: dict[str, str] = {}
    id_rows = [
        {"kind": "run", "workspace_id": source.tracking.recorded_run_id(sid), "mlflow_id": tid, "created": utc_now()}
        for sid, tid in sorted(runs.items())
    ]
    with source.db.read() as conn:
        data = {t.name: [dict(r) for r in conn.execute(sa.select(t)).mappings()] for t in tables}
    for t in tables:
        rows = [_rewrite(t.name, row, experiments, models) for row in data[t.name]]
        data[t.name] = rows
        counts[t.name] = len(rows)
        digests[t.name] = _digest(t, rows)
    with target.db.write() as conn:
        for t in tables:
            if conn.execute(sa.select(sa.func.count()).select_from(t)).scalar():
                raise Conflict(f"the target's table {t.name} is not empty", value=t.name, hint="migrate into an empty database")
            for i in range(0, len(data[t.name]), 500):
                conn.execute(sa.insert(t), data[t.name][i : i + 500])
            _advance_sequence(conn, t)
        conn.execute(sa.delete(tracking_ids))
        if id_rows:
            conn.execute(sa.insert(tracking_ids), id_rows)
        for t in tables:
            back = [dict(r) for r in conn.execute(sa.select(t)).mappings()]
            if _digest(t, back) != digests[t.name]:
                raise IntegrityError(f"table {t.name} did not arrive as it was sent", value=t.name, hint="run migrate again")
        target.record(
            conn,
            "workspace.migrated",
            "workspace",
            source.settings.workspace_id,
            {
                "source_head_seq": head_seq,
                "source_head_hash": head_hash,
                "tables": counts,
                "table_sha256": digests,
                "runs": len(runs),
                "id_map_sha256": sha256_text(canonical_json(sorted((r["workspace_id"], r["mlflow_id"]) for r in id_rows))),
                "model_versions": len(models),
            },
        )
    target.tracking._ids = None  # read the new id map on next use
    return counts


def _tables() -> list[sa.Table]:
    combined = sa.MetaData()
    for name in SCHEMA_MODULES:
        module = importlib.import_module(name)
        for meta in (v for v in vars(module).values() if isinstance(v, sa.MetaData)):
            for t in meta.sorted_tables:
                if t.name not in combined.tables and t.name not in _NOT_COPIED:
                    t.to_metadata(combined)
    return list(combined.sorted_tables)


def _rewrite(
    table: str, row: dict[str, Any], experiments: dict[str, str], models: dict[tuple[str, int], dict[str, str]]
) -> dict[str, Any]:
    """Only where MLflow keeps something changes; every id the workspace recorded stays."""
    if table == "runs" and row.get("experiment_id") in experiments:
        row = {**row, "experiment_id": experiments[row["experiment_id"]]}
    elif table == "model_versions":
        moved = models.get((row["name"], int(row["version"])))
        if moved is not None:
            row = {
                **row,
                "model_id": moved["model_id"],
                "model_uri": f"models:/{moved['model_id']}",
                "artifact_uri": moved["artifact_uri"],
            }
    return row


def _digest(table: sa.Table, rows: list[dict[str, Any]]) -> str:
    keys = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
    ordered = sorted(rows, key=lambda r: tuple(str(r.get(k)) for k in keys))
    return sha256_text(canonical_json([{k: r.get(k) for k in sorted(r)} for r in ordered]))


def _advance_sequence(conn: Connection, table: sa.Table) -> None:
    """PostgreSQL serial columns count on: the next row after the copied ones gets a fresh id."""
    if conn.dialect.name != "postgresql":
        return
    for column in table.primary_key.columns:
        if column.autoincrement is True and isinstance(column.type, sa.Integer):
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                )
            )
