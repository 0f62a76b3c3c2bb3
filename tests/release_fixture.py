"""The workspace release a2d5358 wrote (tests/fixtures/release-workspace.tar.gz), unpacked where a test wants it.

MLflow stores absolute artifact URIs, so unpacking into another folder rewrites them (and the
artifact URI our registry copied from MLflow), as moving a workspace by hand would have to. Nothing
the audit chain covers holds a path.
"""

from __future__ import annotations

import json
import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

FIXTURE = Path(__file__).parent / "fixtures" / "release-workspace.tar.gz"
MLFLOW_PATH_COLUMNS = {
    "runs": "artifact_uri",
    "experiments": "artifact_location",
    "logged_models": "artifact_location",
    "model_versions": "storage_location",
}


def unpack_release_workspace(dest: Path) -> Path:
    """The fixture's project folder under ``dest``, paths relocated; returns the project root."""
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(dest, filter="data")
    root = dest / "project"
    made_in = json.loads((root / "fixture.json").read_text())["made_in"]
    home = root / ".mlops"
    con = sqlite3.connect(home / "mlflow.db")
    for table, column in MLFLOW_PATH_COLUMNS.items():
        con.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (made_in, str(root)))
    con.commit()
    con.close()
    con = sqlite3.connect(home / "mlops.db")
    con.execute("UPDATE model_versions SET artifact_uri = replace(artifact_uri, ?, ?)", (made_in, str(root)))
    con.commit()
    con.close()
    (home / "keys").mkdir(mode=0o700, exist_ok=True)
    return root


def table_snapshot(url: str, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """table -> (row count, SHA-256 of its rows in key order), for every table of a database."""
    import hashlib

    engine = sa.create_engine(url)
    out: dict[str, tuple[int, str]] = {}
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for name, table in sorted(meta.tables.items()):
                if name in skip:
                    continue
                keys = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
                rows = [dict(r) for r in conn.execute(sa.select(table)).mappings()]
                rows.sort(key=lambda r: tuple(str(r[k]) for k in keys))
                digest = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()
                out[name] = (len(rows), digest)
    finally:
        engine.dispose()
    return out


def schema_of(url: str, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Tables, columns (type, nullable, default), primary keys, indexes and unique constraints."""
    engine = sa.create_engine(url)
    try:
        insp = sa.inspect(engine)
        out: dict[str, Any] = {}
        for name in sorted(insp.get_table_names()):
            if name in skip:
                continue
            out[name] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in insp.get_columns(name)],
                "pk": insp.get_pk_constraint(name)["constrained_columns"],
                "indexes": sorted((tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(name)),
                "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(name)),
                "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"]) for f in insp.get_foreign_keys(name)),
            }
        return out
    finally:
        engine.dispose()
