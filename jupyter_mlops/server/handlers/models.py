"""``/models``, ``/models/{name}/versions[/{version}[/review]]`` and ``/cards/{spec}``: registry reads and model cards.

``.../review`` is the review page's one read: :func:`jupyter_mlops.registry.evidence.review_evidence`
for the acting user (card summary, metrics, fairness, data and quality, lineage story, history,
and why this user may not decide, if so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from ...core.paths import parse_version_spec, validate_name
from ...registry import queries
from ...registry.evidence import review_evidence
from ..base import MlopsHandler, version_number
from ..routes import NAME, SPEC, VERSION, Param, Route

if TYPE_CHECKING:
    from ...workspace import Workspace

__all__ = ["ROUTES"]


class ModelsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:models"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.respond(queries.versions)


class ModelVersionsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:models"

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.respond(lambda ws: queries.versions(ws, validate_name(name, kind="name")))


class ModelVersionHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:models"

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        def detail(ws: Workspace) -> dict[str, Any]:
            spec = f"{validate_name(name, kind='name')}@{version_number(version)}"
            return {
                "version": queries.get(ws, spec),
                "reviews": queries.reviews(ws, spec),
                "reviewer": "reviewer" in ws.roles_of(),
            }

        await self.respond(detail)


class ReviewEvidenceHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:models"

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        def evidence(ws: Workspace) -> Any:
            spec = f"{validate_name(name, kind='name')}@{version_number(version)}"
            return review_evidence(ws, spec, roles=ws.roles_of())

        await self.respond(evidence)


class CardHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:cards"

    @tornado.web.authenticated
    @authorized
    async def get(self, spec: str) -> None:
        await self.respond(lambda ws: ws.cards.get_card(str(parse_version_spec(spec, kind="spec"))))


ROUTES: tuple[Route, ...] = (
    Route("models", ModelsHandler, {"GET": "jupyter_mlops:models:read"}, "Registered models", tag="models"),
    Route(
        "models/{name}/versions",
        ModelVersionsHandler,
        {"GET": "jupyter_mlops:models:read"},
        "Versions of one model",
        (Param("name", "path", NAME, True),),
        tag="models",
    ),
    Route(
        "models/{name}/versions/{version}",
        ModelVersionHandler,
        {"GET": "jupyter_mlops:models:read"},
        "One model version with its review state",
        (Param("name", "path", NAME, True), Param("version", "path", VERSION, True)),
        tag="models",
    ),
    Route(
        "models/{name}/versions/{version}/review",
        ReviewEvidenceHandler,
        {"GET": "jupyter_mlops:models:read"},
        "The review page of a model version: card summary, metrics, fairness, data, lineage story, history, blockers",
        (Param("name", "path", NAME, True), Param("version", "path", VERSION, True)),
        tag="models",
    ),
    Route(
        "cards/{spec}",
        CardHandler,
        {"GET": "jupyter_mlops:cards:read"},
        "The model card of a model version",
        (Param("spec", "path", SPEC, True, "NAME@VERSION"),),
        tag="models",
    ),
)
