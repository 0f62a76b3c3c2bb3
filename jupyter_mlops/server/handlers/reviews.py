"""``/reviews`` (the review queue) and ``/reviews/{name}/{version}/approve|reject``, as the Jupyter user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ...core.paths import validate_name
from ...errors import InvalidInput
from ...registry import queries
from ..base import MlopsHandler, version_number
from ..routes import COMMENT_BODY, NAME, VERSION, Param, Route

if TYPE_CHECKING:
    from ...workspace import Workspace

__all__ = ["ROUTES"]


class ReviewsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:reviews"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.respond(lambda ws: {"pending": queries.review_queue(ws).versions, "reviewer": "reviewer" in ws.roles_of()})


class ReviewDecisionHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:reviews"
    decision = "approve"

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, version: str) -> None:
        comment = self.body_json().get("comment", "")

        def decide(ws: Workspace) -> Any:
            if not isinstance(comment, str) or len(comment) > 5000:
                raise InvalidInput("comment must be a string of at most 5000 characters", field="comment")
            spec = f"{validate_name(name, kind='name')}@{version_number(version)}"
            act = ws.models.approve if self.decision == "approve" else ws.models.reject
            return act(spec, comment=comment)

        await self.respond(decide)


class ApproveHandler(ReviewDecisionHandler):
    decision = "approve"


class RejectHandler(ReviewDecisionHandler):
    decision = "reject"


ROUTES: tuple[Route, ...] = (
    Route("reviews", ReviewsHandler, {"GET": "jupyter_mlops:reviews:read"}, "Model versions waiting for review", tag="reviews"),
    Route(
        "reviews/{name}/{version}/approve",
        ApproveHandler,
        {"POST": "jupyter_mlops:reviews:write"},
        "Approve a model version as the Jupyter user",
        (Param("name", "path", NAME, True), Param("version", "path", VERSION, True)),
        COMMENT_BODY,
        tag="reviews",
    ),
    Route(
        "reviews/{name}/{version}/reject",
        RejectHandler,
        {"POST": "jupyter_mlops:reviews:write"},
        "Reject a model version as the Jupyter user",
        (Param("name", "path", NAME, True), Param("version", "path", VERSION, True)),
        COMMENT_BODY,
        tag="reviews",
    ),
)
