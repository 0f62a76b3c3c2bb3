"""The metadata schema's state in words, for ``jupyter-mlops db status | upgrade``.

The Alembic revisions live in :mod:`jupyter_mlops.store.migrations`; front-ends read them here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["describe_status"]


def describe_status(metadata_url: str, state: Any) -> str:
    """The revision, the newest this release knows and each pending revision, one per line.

    Parameters
    ----------
    metadata_url:
        The metadata database's URL (shown with any password masked).
    state:
        A :class:`jupyter_mlops.store.migrations.SchemaStatus`.
    """
    from ..core.urls import mask_url
    from ..store.migrations import BASELINE, VERSION_TABLE, describe

    lines = [
        f"metadata database: {mask_url(metadata_url)}",
        f"revision: {state.current or ('none (made before Alembic)' if state.legacy else 'none (empty)')}  "
        f"newest known: {state.head}  version table: {VERSION_TABLE}",
    ]
    if state.up_to_date:
        lines.append("up to date")
    for rev in state.pending:
        stamped = " (stamped: its tables exist)" if state.legacy and rev == BASELINE else ""
        lines.append(f"pending {rev}: {describe(rev)}{stamped}")
    return "\n".join(lines)
