"""``/experiments``, ``/runs``, ``/runs/{run_id}`` and ``/notebook-context``: reads of :mod:`jupyter_mlops.tracking.queries`.

Filters arrive as separate, validated query parameters (and an optional ``filter`` in the one run
filter grammar); :func:`~jupyter_mlops.tracking.filters.run_filter` parses them, so a client never
writes the tracking store's syntax and cannot inject into it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ...core.direction import lower_is_better
from ...errors import InvalidInput
from ...tracking import queries
from ...tracking.filters import run_filter
from ..base import MlopsHandler, resolve_notebook_path
from ..routes import NAME, PAGE, TEXT, Param, Route

if TYPE_CHECKING:
    from ...workspace import Workspace

__all__ = ["ROUTES", "RUN_ID_PATTERN", "SORT_KEY_PATTERN"]

#: ``start_time``, ``name``, ``status`` or ``metrics.<key>`` / ``params.<key>``.
SORT_KEY_PATTERN = r"(start_time|end_time|name|status|(metrics|params)\.[A-Za-z0-9_.\-/ ]{1,250})"
RUN_ID_PATTERN = r"[0-9a-f]{32}"


class ExperimentsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.respond(lambda ws: {"experiments": sorted(queries.experiments(ws), key=lambda e: e.id)})


class RunsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        sort = self.query("sort", "start_time", max_len=260) or "start_time"
        order = self.query("order", "desc", pattern="asc|desc") or "desc"
        if not re.fullmatch(SORT_KEY_PATTERN, sort) or "`" in sort:
            raise InvalidInput("unknown sort key", field="sort", hint="start_time, name, status or metrics.<key>")
        flt = run_filter(
            self.query("filter", max_len=2000),
            status=self.query("status", max_len=16),
            name_contains=self.query("name", max_len=200),
            actor=self.query("actor"),
            notebook=self.query("notebook", max_len=1024),
        )
        experiment = self.query("experiment")
        limit = self.query_int("limit", 50, low=1, high=500)
        token = self.query("page_token", pattern=r"[A-Za-z0-9+/=_\-]{1,512}")

        def page(ws: Workspace) -> dict[str, Any]:
            found = queries.search_runs(
                ws, flt, experiment=experiment, order_by=f"{sort} {order}", page_size=limit, page_token=token
            )
            keys = {k for r in found.runs for k in r.metrics}
            # which way each metric is better, so a client sorts it best first (losses ascending)
            return {**found.to_dict(), "lower_is_better": {k: lower_is_better(k) for k in sorted(keys)}}

        await self.respond(page)


class RunHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        def detail(ws: Workspace) -> Any:
            if not re.fullmatch(RUN_ID_PATTERN, run_id):
                raise InvalidInput("a run id is 32 lower-case hex characters", field="run_id")
            return queries.run_detail(ws, ws.resolve_run_id(run_id))  # a stage_run_id names its run too

        await self.respond(detail)


def _notebook_names(ws: Workspace, root_dir: str, path: str) -> set[str]:
    """The names a notebook of the server may have been recorded under (relative to the server or the workspace)."""
    absolute = (Path(root_dir) / path).resolve()
    out = {path, str(absolute), absolute.as_posix()}
    try:
        out.add(absolute.relative_to(ws.settings.root).as_posix())
    except ValueError:
        pass
    return out


class NotebookContextHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.query("path", max_len=1024)
        root_dir = self.mlops.root_dir

        def context(ws: Workspace) -> Any:
            if not path:
                raise InvalidInput(
                    "query parameter path is required", field="path", hint="the notebook path relative to the server root"
                )
            resolve_notebook_path(root_dir, path)
            return queries.notebook_context(ws, _notebook_names(ws, root_dir, path), path)

        await self.respond(context)


ROUTES: tuple[Route, ...] = (
    Route("experiments", ExperimentsHandler, {"GET": "jupyter_mlops:runs:read"}, "Experiments with tracked runs", tag="runs"),
    Route(
        "runs",
        RunsHandler,
        {"GET": "jupyter_mlops:runs:read"},
        "A page of runs, filtered, sorted and paged by the tracking store",
        (
            Param("experiment", schema=NAME),
            Param("status", schema={"type": "string", "enum": ["RUNNING", "FINISHED", "FAILED", "KILLED"]}),
            Param("name", schema={"type": "string", "maxLength": 200}),
            Param("actor", schema=TEXT),
            Param("notebook", schema={"type": "string", "maxLength": 1024}),
            Param(
                "filter",
                schema={"type": "string", "maxLength": 2000},
                description="the run filter grammar, e.g. metrics.accuracy > 0.8 and params.C = '1'",
            ),
            Param(
                "sort", schema={"type": "string", "pattern": "^" + SORT_KEY_PATTERN + "$"}, description="e.g. metrics.accuracy"
            ),
            Param("order", schema={"type": "string", "enum": ["asc", "desc"]}),
            *PAGE,
        ),
        tag="runs",
    ),
    Route(
        "runs/{run_id}",
        RunHandler,
        {"GET": "jupyter_mlops:runs:read"},
        "A run with its parameters, metrics, source record and lineage",
        (Param("run_id", "path", {"type": "string", "pattern": "^" + RUN_ID_PATTERN + "$"}, True),),
        tag="runs",
    ),
    Route(
        "notebook-context",
        NotebookContextHandler,
        {"GET": "jupyter_mlops:runs:read"},
        "Runs, data versions and model versions related to one notebook",
        (Param("path", schema={"type": "string", "maxLength": 1024}, required=True, description="relative to the server root"),),
        tag="runs",
    ),
)
