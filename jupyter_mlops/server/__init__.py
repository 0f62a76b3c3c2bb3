"""The jupyter_server extension: the authenticated REST API under ``/jupyter-mlops/api/v1``.

Loaded by ``jupyter_mlops._load_jupyter_server_extension`` (enabled on install through
``jupyter-config/server-config/jupyter_mlops.json``). The workspace is the one holding the server's
``root_dir`` (or ``c.JupyterMlops.root``, or ``JUPYTER_MLOPS_HOME``); it is opened on the first
request, so a server started before ``jupyter-mlops init`` works once the workspace exists.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_server_extension"]


def load_server_extension(server_app: Any) -> None:
    """Register every route of :data:`~jupyter_mlops.server.handlers.ROUTES` on ``server_app``."""
    from jupyter_server.utils import url_path_join

    from .base import JupyterMlops
    from .handlers import ROUTES
    from .routes import API_PREFIX

    web_app = server_app.web_app
    mlops = JupyterMlops(str(server_app.root_dir), config=server_app.config, parent=server_app)
    mlops.routes = ROUTES
    web_app.settings["jupyter_mlops"] = mlops
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [(url_path_join(base_url, API_PREFIX, r.pattern), r.handler, {"route": r}) for r in ROUTES])
    server_app.log.info("jupyter-mlops: %d REST routes under %s", len(ROUTES), url_path_join(base_url, API_PREFIX))
