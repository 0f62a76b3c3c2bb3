"""Writing and reading lineage edges, and walking them into a graph."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..core.entities import Entity, escape
from .schema import lineage_edges

__all__ = ["Edge", "LineageGraph", "add_edge", "data_read_by", "edges_of", "walk"]


@dataclasses.dataclass(frozen=True)
class Edge(Entity):
    """One lineage edge."""

    src_type: str
    src_id: str
    relation: str
    dst_type: str
    dst_id: str
    ts: str
    actor: str
    payload: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class LineageGraph(Entity):
    """Nodes (``type:id``) and the edges between them, reachable from ``root``."""

    root: str
    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(e.src_type)}:{escape(e.src_id)}</td><td>&rarr; {escape(e.relation)} &rarr;</td>"
            f"<td>{escape(e.dst_type)}:{escape(e.dst_id)}</td></tr>"
            for e in self.edges
        )
        return f"<div><b>Lineage of {escape(self.root)}</b><table>{rows}</table></div>"


def add_edge(
    conn: Connection,
    *,
    actor: str,
    src: tuple[str, str],
    relation: str,
    dst: tuple[str, str],
    payload: dict[str, Any] | None = None,
) -> bool:
    """Insert an edge unless it exists; returns whether a new edge was written."""
    exists = conn.execute(
        sa.select(lineage_edges.c.id).where(
            lineage_edges.c.src_type == src[0],
            lineage_edges.c.src_id == src[1],
            lineage_edges.c.relation == relation,
            lineage_edges.c.dst_type == dst[0],
            lineage_edges.c.dst_id == dst[1],
        )
    ).first()
    if exists:
        return False
    conn.execute(
        sa.insert(lineage_edges).values(
            src_type=src[0],
            src_id=src[1],
            relation=relation,
            dst_type=dst[0],
            dst_id=dst[1],
            ts=datetime.now(UTC).isoformat(timespec="microseconds"),
            actor=actor,
            payload=json.dumps(payload or {}, sort_keys=True),
        )
    )
    return True


def _edge(row: Any) -> Edge:
    return Edge(
        row.src_type, row.src_id, row.relation, row.dst_type, row.dst_id, row.ts, row.actor, json.loads(row.payload or "{}")
    )


def edges_of(conn: Connection, node: tuple[str, str], *, direction: str = "both") -> list[Edge]:
    """Edges that start (``out``), end (``in``) or either (``both``) at ``node``."""
    t, i = node
    conds = []
    if direction in ("out", "both"):
        conds.append(sa.and_(lineage_edges.c.src_type == t, lineage_edges.c.src_id == i))
    if direction in ("in", "both"):
        conds.append(sa.and_(lineage_edges.c.dst_type == t, lineage_edges.c.dst_id == i))
    rows = conn.execute(sa.select(lineage_edges).where(sa.or_(*conds)).order_by(lineage_edges.c.id))
    return [_edge(r) for r in rows]


def data_read_by(conn: Connection, run_ids: list[str]) -> list[str]:
    """The data versions linked as inputs to any of ``run_ids``, oldest first (no repeats)."""
    t = lineage_edges
    found = conn.execute(
        sa.select(t.c.src_id)
        .where(t.c.dst_type == "run", t.c.dst_id.in_(run_ids), t.c.relation == "input_of", t.c.src_type == "data_version")
        .order_by(t.c.id)
    ).scalars()
    return list(dict.fromkeys(str(f) for f in found))


def walk(conn: Connection, node: tuple[str, str], *, max_nodes: int = 500) -> LineageGraph:
    """Every node connected to ``node`` (upstream and downstream), breadth first."""
    seen = {node}
    frontier = [node]
    edges: dict[tuple[str, str, str, str, str], Edge] = {}
    while frontier and len(seen) < max_nodes:
        nxt = []
        for n in frontier:
            for e in edges_of(conn, n):
                edges[(e.src_type, e.src_id, e.relation, e.dst_type, e.dst_id)] = e
                for other in ((e.src_type, e.src_id), (e.dst_type, e.dst_id)):
                    if other not in seen:
                        seen.add(other)
                        nxt.append(other)
        frontier = nxt
    return LineageGraph(f"{node[0]}:{node[1]}", tuple(f"{t}:{i}" for t, i in sorted(seen)), tuple(edges.values()))
