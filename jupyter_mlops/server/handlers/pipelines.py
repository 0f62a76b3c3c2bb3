"""``/pipelines/run-notebook``: run the notebook open in the lab as a tracked stage, as the Jupyter user.

The executed notebook is written beside the source, in ``mlops-outputs/`` (a visible folder, as
jupyter-scheduler keeps its job outputs), so the lab can open it from the failure toast; the answer
names it as ``output_notebook``, relative to the server root.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ...errors import InvalidInput, NotFound
from ..base import MlopsHandler, jsonable, resolve_notebook_path
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
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            output = notebook.parent / "mlops-outputs" / f"{notebook.stem}-{stamp}.ipynb"
            output.parent.mkdir(exist_ok=True)
            result = jsonable(ws.pipelines.run_notebook(notebook, output=output))
            written = Path(str(result.get("output_path") or output)).resolve()
            root = Path(root_dir).resolve()
            result["output_notebook"] = written.relative_to(root).as_posix() if written.is_relative_to(root) else None
            return result

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
