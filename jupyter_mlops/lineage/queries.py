"""Read queries over the lineage graph: what a front-end shows of one node's lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph import LineageGraph, walk

if TYPE_CHECKING:
    from ..core.context import Context
    from .story import LineageStory

__all__ = ["graph", "story"]


def graph(ctx: Context, node_type: str, node_id: str) -> LineageGraph:
    """Everything connected to ``node_type:node_id`` (upstream and downstream), breadth first."""
    with ctx.read() as conn:
        return walk(conn, (node_type, node_id))


def story(ctx: Context, model_version: str) -> LineageStory:
    """The lineage of a model version as a short story, read left to right.

    ``notebook cell -> data versions -> training run -> model version -> evaluation -> card ->
    reviews -> aliases -> deployments``, each step a :class:`~jupyter_mlops.lineage.story.StoryStep`
    labelled by name and version (ids and hashes in its ``details``), notebook paths relative to
    the project, and a one-sentence ``summary`` ("trained on ...; approved by ..."). Reads the
    metadata database only.

    Parameters
    ----------
    ctx
        The workspace context.
    model_version
        ``name@3``, ``name@latest`` or ``name@<alias>``.

    Raises
    ------
    NotFound
        An unknown model, version or alias.
    """
    from .story import build_story

    return build_story(ctx, model_version)
