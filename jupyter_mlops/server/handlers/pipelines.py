"""``/pipelines/run-notebook``: run the notebook open in the lab as a tracked stage, as the Jupyter user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ...errors import InvalidInput, NotFound
from ..base import MlopsHandler, resolve_notebook_path
from ..routes import Route

if TYPE_CHECKING:
    from ...workspace import Workspace

__all__ = ["ROUTES"]


class RunNotebookHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:pipelines"

    @tornado.web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        body = self.body_json()
        root_dir = self.mlops.root_dir

        def run(ws: Workspace) -> Any:
            path = body.get("path")
            if not isinstance(path, str) or not path.endswith(".ipynb"):
                raise InvalidInput("path must be a notebook path ending in .ipynb", field="path")
            notebook = resolve_notebook_path(root_dir, path)
            if not notebook.is_file():
                raise NotFound("no such notebook", field="path")
            return ws.pipelines.run_notebook(notebook)

        await self.respond(run)


ROUTES: tuple[Route, ...] = (
    Route(
        "pipelines/run-notebook",
        RunNotebookHandler,
        {"POST": "jupyter_mlops:pipelines:execute"},
        "Run a notebook as a tracked pipeline stage",
        body={"type": "object", "properties": {"path": {"type": "string", "maxLength": 1024}}, "required": ["path"]},
        tag="pipelines",
    ),
)
