"""Reviewer dashboards in the notebook: experiments, data, models (review) and audit.

``dashboard(name)`` builds one of them over a :class:`~jupyter_mlops.workspace.Workspace`. They
are ipywidgets (tables, charts and the lineage graph are anywidget ES modules shipped inline), so
they work in JupyterLab and the classic notebook views with no CDN and no side server. Importing
this package imports ipywidgets; ``mlops.dashboard`` imports it only when a dashboard is asked for.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .common import Dashboard

__all__ = ["DASHBOARDS", "dashboard"]

#: dashboard name -> (module, class)
DASHBOARDS: dict[str, tuple[str, str]] = {
    "experiments": ("jupyter_mlops.widgets.experiments", "ExperimentsDashboard"),
    "data": ("jupyter_mlops.widgets.data", "DataDashboard"),
    "models": ("jupyter_mlops.widgets.models", "ModelsDashboard"),
    "audit": ("jupyter_mlops.widgets.audit", "AuditDashboard"),
    "monitor": ("jupyter_mlops.widgets.monitor", "MonitorDashboard"),
}


def dashboard(name: str, ws: Workspace | None = None, **options: Any) -> Dashboard:
    """Build the dashboard ``name`` ("experiments", "data", "models" or "audit").

    Parameters
    ----------
    name
        Which dashboard.
    ws
        The workspace to show (default: the current one).
    **options
        Passed to the dashboard, e.g. ``experiment="arrests"``, ``page_size=100``,
        ``refresh_seconds=30`` for a periodic refresh.

    Returns
    -------
    Dashboard
        An ipywidgets box; display it (the last expression of a cell is displayed).
    """
    import importlib

    key = str(name).strip().lower()
    if key not in DASHBOARDS:
        close = difflib.get_close_matches(key, list(DASHBOARDS), n=1)
        raise InvalidInput(
            f"no dashboard named {name!r}",
            value=str(name)[:80],
            hint=(f"did you mean {close[0]!r}? " if close else "") + f"choose one of {', '.join(DASHBOARDS)}",
            field="name",
        )
    if ws is None:
        from ..fluent import current_workspace

        ws = current_workspace()
    module, cls = DASHBOARDS[key]
    board: Dashboard = getattr(importlib.import_module(module), cls)(ws, **options)
    return board
