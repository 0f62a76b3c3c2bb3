"""Read queries over the lineage graph: what a front-end shows of one node's lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph import LineageGraph, walk

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["graph"]


def graph(ctx: Context, node_type: str, node_id: str) -> LineageGraph:
    """Everything connected to ``node_type:node_id`` (upstream and downstream), breadth first."""
    with ctx.read() as conn:
        return walk(conn, (node_type, node_id))
