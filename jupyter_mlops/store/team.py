"""Team-mode tables: the tracking id map and the ledger of a copy to team services.

Both are created by Alembic revision ``0002`` (:mod:`jupyter_mlops.store.migrations`); these are
their SQLAlchemy Core definitions and the two reads the rest of the package needs.

Why a map and not the same ids: an MLflow tracking server gives every run it creates a new id,
and its REST API has no way to create a run under a given one (writing the server's own database
behind its back would bypass its authentication and its artifact proxy). The audit chain, lineage,
cards and evaluation reports of a copied workspace name the ids it recorded, and they must keep
verifying byte for byte, so nothing of ours is rewritten: the MLflow adapter translates a recorded
id to the server's when it calls MLflow, and back when MLflow answers. Runs made after the copy
have one id on both sides and no entry here. Every copied run also carries its recorded id as the
MLflow tag ``mlops.run_id``, so the stock client finds it by either.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["IdMap", "load_id_map", "migration_items", "tracking_ids"]

metadata = sa.MetaData()
tracking_ids = sa.Table(
    "tracking_ids",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("workspace_id", sa.String(128), primary_key=True),
    sa.Column("mlflow_id", sa.String(128), nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.UniqueConstraint("kind", "mlflow_id", name="uq_tracking_ids_mlflow"),
)
migration_items = sa.Table(
    "migration_items",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("source_id", sa.String(256), primary_key=True),
    sa.Column("target_id", sa.String(256)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("sha256", sa.String(64)),
    sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    sa.Column("updated", sa.String(40), nullable=False),
)


class IdMap:
    """Recorded id <-> MLflow id, per kind (``run``, ``experiment``); identity for ids not in it."""

    def __init__(self, rows: list[tuple[str, str, str]] | None = None) -> None:
        self._to: dict[tuple[str, str], str] = {}
        self._back: dict[tuple[str, str], str] = {}
        for kind, ours, theirs in rows or ():
            self.add(kind, ours, theirs)

    def add(self, kind: str, ours: str, theirs: str) -> None:
        self._to[(kind, ours)] = theirs
        self._back[(kind, theirs)] = ours

    def __bool__(self) -> bool:
        return bool(self._to)

    def to_mlflow(self, kind: str, ours: str) -> str:
        return self._to.get((kind, ours), ours)

    def from_mlflow(self, kind: str, theirs: str) -> str:
        return self._back.get((kind, theirs), theirs)


def load_id_map(conn: Connection) -> IdMap:
    """Every mapping recorded in this database (an empty map before revision 0002 or any copy)."""
    if not sa.inspect(conn).has_table("tracking_ids"):
        return IdMap()
    t = tracking_ids
    rows = conn.execute(sa.select(t.c.kind, t.c.workspace_id, t.c.mlflow_id))
    return IdMap([(r.kind, r.workspace_id, r.mlflow_id) for r in rows])
