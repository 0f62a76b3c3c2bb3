"""``/lineage``, ``/lineage/story/{spec}``, ``/audit/events`` and ``/audit/verify``: lineage and audit queries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ...audit import queries as audit
from ...core.paths import parse_version_spec
from ...errors import InvalidInput
from ...lineage import queries as lineage
from ..base import MlopsHandler
from ..routes import OFFSET, SPEC, TEXT, Param, Route

if TYPE_CHECKING:
    from ...workspace import Workspace

__all__ = ["ROUTES"]


class LineageHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:lineage"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        node_type = self.query("type", pattern=r"[a-z_]{1,32}")
        node_id = self.query("id", max_len=512)

        def graph(ws: Workspace) -> Any:
            if not node_type or not node_id:
                raise InvalidInput("query parameters type and id are required", field="type" if not node_type else "id")
            return lineage.graph(ws, node_type, node_id)

        await self.respond(graph)


class LineageStoryHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:lineage"

    @tornado.web.authenticated
    @authorized
    async def get(self, spec: str) -> None:
        await self.respond(lambda ws: lineage.story(ws, str(parse_version_spec(spec, kind="spec"))))


class AuditEventsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:audit"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        filters = {
            "actor": self.query("actor"),
            "action": self.query("action", pattern=r"[A-Za-z0-9_.\-]{1,120}\*?"),
            "object_type": self.query("object_type", pattern=r"[A-Za-z0-9_]{1,64}"),
            "object_id": self.query("object_id", max_len=512),
            "since": self.query("since", max_len=64),  # read by audit.queries.parse_time (one line naming the accepted forms)
            "until": self.query("until", max_len=64),
            "limit": self.query_int("limit", 100, low=1, high=1000),
            "offset": self.query_int("offset", 0, low=0, high=1_000_000),
        }
        given: dict[str, Any] = {k: v for k, v in filters.items() if v not in (None, "")}
        await self.respond(lambda ws: {"events": audit.events(ws, **given)})


class AuditVerifyHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:audit"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.respond(audit.verify)


ROUTES: tuple[Route, ...] = (
    Route(
        "lineage",
        LineageHandler,
        {"GET": "jupyter_mlops:lineage:read"},
        "Everything connected to one node",
        (
            Param("type", schema={"type": "string", "pattern": "^[a-z_]{1,32}$"}, required=True),
            Param("id", schema={"type": "string", "maxLength": 512}, required=True),
        ),
        tag="audit",
    ),
    Route(
        "lineage/story/{spec}",
        LineageStoryHandler,
        {"GET": "jupyter_mlops:lineage:read"},
        "A model version's lineage as a short story: cell, data, run, model, evaluation, card, reviews, aliases",
        (Param("spec", "path", SPEC, True, "NAME@VERSION or NAME@ALIAS"),),
        tag="audit",
    ),
    Route(
        "audit/events",
        AuditEventsHandler,
        {"GET": "jupyter_mlops:audit:read"},
        "Audit events, newest first, filtered",
        (
            Param("actor", schema=TEXT),
            Param("action", schema={"type": "string", "pattern": r"^[A-Za-z0-9_.\-]{1,120}\*?$"}),
            Param("object_type", schema={"type": "string", "pattern": "^[A-Za-z0-9_]{1,64}$"}),
            Param("object_id", schema={"type": "string", "maxLength": 512}),
            Param("since", schema={"type": "string", "format": "date-time"}),
            Param("until", schema={"type": "string", "format": "date-time"}),
            Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 1000}),
            Param("offset", schema=OFFSET),
        ),
        tag="audit",
    ),
    Route("audit/verify", AuditVerifyHandler, {"GET": "jupyter_mlops:audit:read"}, "Recompute the audit hash chain", tag="audit"),
)
