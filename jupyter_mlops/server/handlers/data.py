"""``/data``, ``/data/diff`` and ``/data/{name}/versions``: :mod:`jupyter_mlops.data.queries` and ``ws.data.diff``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ...core.paths import parse_version_spec, validate_name
from ...data import queries
from ...errors import InvalidInput
from ..base import MlopsHandler
from ..routes import NAME, SPEC, Param, Route

if TYPE_CHECKING:
    from ...workspace import Workspace

__all__ = ["ROUTES"]


class DataListHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:data"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        limit = self.query_int("limit", 200, low=1, high=1000)
        await self.respond(lambda ws: queries.versions(ws, limit=limit))


class DataVersionsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:data"

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.respond(lambda ws: queries.versions(ws, validate_name(name, kind="name")))


class DataDiffHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:data"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        a, b = self.query("a", max_len=200), self.query("b", max_len=200)

        def diff(ws: Workspace) -> Any:
            if not a or not b:
                raise InvalidInput("query parameters a and b (data version specs) are required", field="a" if not a else "b")
            return ws.data.diff(str(parse_version_spec(a, kind="a")), str(parse_version_spec(b, kind="b")))

        await self.respond(diff)


ROUTES: tuple[Route, ...] = (
    Route(
        "data",
        DataListHandler,
        {"GET": "jupyter_mlops:data:read"},
        "Data versions, newest first",
        (Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 1000}),),
        tag="data",
    ),
    Route(
        "data/diff",
        DataDiffHandler,
        {"GET": "jupyter_mlops:data:read"},
        "Differences between two data versions",
        (Param("a", schema=SPEC, required=True), Param("b", schema=SPEC, required=True)),
        tag="data",
    ),
    Route(
        "data/{name}/versions",
        DataVersionsHandler,
        {"GET": "jupyter_mlops:data:read"},
        "Versions of one data set",
        (Param("name", "path", NAME, True),),
        tag="data",
    ),
)
