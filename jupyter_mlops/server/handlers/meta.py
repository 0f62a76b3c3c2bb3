"""``/status`` (the server, its version and the acting user) and ``/openapi.json``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..._version import __version__
from ..base import MlopsHandler
from ..routes import Route

if TYPE_CHECKING:
    from ...workspace import Workspace

__all__ = ["ROUTES"]


class StatusHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:status"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        def status(ws: Workspace) -> dict[str, Any]:
            available = {}
            for area in ("data", "models", "cards", "evaluation", "pipelines"):
                try:
                    getattr(ws, area)
                    available[area] = True
                except ImportError:
                    available[area] = False
            return {
                "status": "ok",
                "version": __version__,
                "user": ws.actor,
                "identity_source": ws.identity_source,
                "workspace": ws.settings.root.name,
                "reviewer": "reviewer" in ws.roles_of(),
                "services": available,
            }

        await self.respond(status)


class OpenApiHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:status"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        from ..openapi import openapi_document

        self.reply(openapi_document(self.mlops.routes, __version__))


ROUTES: tuple[Route, ...] = (
    Route("status", StatusHandler, {"GET": "jupyter_mlops:status:read"}, "Server, version and the acting user", tag="meta"),
    Route("openapi.json", OpenApiHandler, {"GET": "jupyter_mlops:status:read"}, "This OpenAPI document", tag="meta"),
)
