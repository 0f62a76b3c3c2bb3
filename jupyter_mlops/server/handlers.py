"""REST handlers of ``/jupyter-mlops/api/v1`` and the route table that registers them.

Each handler only parses, calls the same :class:`~jupyter_mlops.workspace.Workspace` API as every
other front-end (acting as the Jupyter-authenticated user) and returns JSON. Every verb is
``@tornado.web.authenticated`` and ``@authorized`` against a ``jupyter_mlops:<area>`` resource;
:data:`ROUTES` declares that permission for each route, and the route inventory test holds the two
together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from .. import __version__
from ..core.paths import parse_version_spec, validate_name
from ..errors import InvalidInput, NotFound
from . import queries
from .base import MlopsHandler, log, resolve_notebook_path
from .routes import Param, Route

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["ROUTES"]

NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"}
SPEC = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}(@[A-Za-z0-9_\-]{1,128})?$"}
VERSION = {"type": "string", "pattern": r"^[1-9][0-9]{0,8}$"}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 500}
OFFSET = {"type": "integer", "minimum": 0, "maximum": 1_000_000}
TEXT = {"type": "string", "maxLength": 256}
COMMENT_BODY = {
    "type": "object",
    "properties": {"comment": {"type": "string", "maxLength": 5000}},
    "additionalProperties": False,
}


def service(ws: Workspace, area: str, method: str) -> Any:
    """``ws.<area>.<method>``, or NotFound when that capability is not installed in this build."""
    try:
        svc = getattr(ws, area)
    except ImportError as exc:  # a capability not installed (or not importable) in this build
        if not (exc.name or "jupyter_mlops").startswith("jupyter_mlops"):
            raise
        log.warning("jupyter-mlops: the %s service cannot be imported: %s", area, exc)
        svc = None
    fn = getattr(svc, method, None)
    if fn is None:
        raise NotFound(f"this server has no {area} service with {method}()", field=None, hint="upgrade jupyter-mlops")
    return fn


def _version(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= len(text) <= 9 or int(text) < 1:
        raise InvalidInput("a version is a positive integer", field="version")
    return int(text)


# -- status ------------------------------------------------------------------------------------
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
        from .openapi import openapi_document

        self.reply(openapi_document(ROUTES, __version__))


# -- runs --------------------------------------------------------------------------------------
class ExperimentsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.respond(lambda ws: {"experiments": [{"id": k, "name": v} for k, v in sorted(queries.experiments(ws).items())]})


class RunsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        args: dict[str, Any] = {
            "experiment": self.query("experiment"),
            "status": self.query("status", max_len=16),
            "name": self.query("name", max_len=200),
            "actor": self.query("actor"),
            "notebook": self.query("notebook", max_len=1024),
            "sort": self.query("sort", "start_time", max_len=260) or "start_time",
            "order": self.query("order", "desc", pattern="asc|desc") or "desc",
            "limit": self.query_int("limit", 50, low=1, high=500),
            "page_token": self.query("page_token", pattern=r"[A-Za-z0-9+/=_\-]{1,512}"),
        }
        await self.respond(lambda ws: queries.search_runs(ws, **args))


class RunHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        await self.respond(lambda ws: queries.run_detail(ws, run_id))


class NotebookContextHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.query("path", max_len=1024)
        root_dir = self.mlops.root_dir

        def context(ws: Workspace) -> dict[str, Any]:
            if not path:
                raise InvalidInput(
                    "query parameter path is required", field="path", hint="the notebook path relative to the server root"
                )
            resolve_notebook_path(root_dir, path)
            return queries.notebook_context(ws, root_dir, path)

        await self.respond(context)


# -- data --------------------------------------------------------------------------------------
class DataListHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:data"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        limit = self.query_int("limit", 200, low=1, high=1000)
        await self.respond(lambda ws: service(ws, "data", "list")(limit=limit))


class DataVersionsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:data"

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.respond(lambda ws: service(ws, "data", "list")(validate_name(name, kind="name")))


class DataDiffHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:data"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        a, b = self.query("a", max_len=200), self.query("b", max_len=200)

        def diff(ws: Workspace) -> Any:
            if not a or not b:
                raise InvalidInput("query parameters a and b (data version specs) are required", field="a" if not a else "b")
            return service(ws, "data", "diff")(str(parse_version_spec(a, kind="a")), str(parse_version_spec(b, kind="b")))

        await self.respond(diff)


# -- models, cards, reviews ----------------------------------------------------------------------
class ModelsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:models"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.respond(lambda ws: service(ws, "models", "list_models")())


class ModelVersionsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:models"

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        await self.respond(lambda ws: service(ws, "models", "list_models")(validate_name(name, kind="name")))


class ModelVersionHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:models"

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        def detail(ws: Workspace) -> dict[str, Any]:
            spec = f"{validate_name(name, kind='name')}@{_version(version)}"
            mv = service(ws, "models", "get")(spec)
            return {"version": mv, "reviews": service(ws, "models", "reviews")(spec), "reviewer": "reviewer" in ws.roles_of()}

        await self.respond(detail)


class CardHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:cards"

    @tornado.web.authenticated
    @authorized
    async def get(self, spec: str) -> None:
        await self.respond(lambda ws: service(ws, "cards", "get_card")(str(parse_version_spec(spec, kind="spec"))))


class ReviewsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:reviews"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        def pending(ws: Workspace) -> dict[str, Any]:
            table = service(ws, "models", "list_models")()
            return {"pending": [v for v in table.versions if v.status == "pending"], "reviewer": "reviewer" in ws.roles_of()}

        await self.respond(pending)


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
            spec = f"{validate_name(name, kind='name')}@{_version(version)}"
            return service(ws, "models", self.decision)(spec, comment=comment)

        await self.respond(decide)


class ApproveHandler(ReviewDecisionHandler):
    decision = "approve"


class RejectHandler(ReviewDecisionHandler):
    decision = "reject"


# -- lineage, audit --------------------------------------------------------------------------------
class LineageHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:lineage"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        node_type = self.query("type", pattern=r"[a-z_]{1,32}")
        node_id = self.query("id", max_len=512)

        def lineage(ws: Workspace) -> Any:
            if not node_type or not node_id:
                raise InvalidInput("query parameters type and id are required", field="type" if not node_type else "id")
            return ws.lineage(node_type, node_id)

        await self.respond(lineage)


class AuditEventsHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:audit"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        stamp = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.+\-Z]{0,30})?"
        filters = {
            "actor": self.query("actor"),
            "action": self.query("action", pattern=r"[A-Za-z0-9_.\-]{1,120}\*?"),
            "object_type": self.query("object_type", pattern=r"[A-Za-z0-9_]{1,64}"),
            "object_id": self.query("object_id", max_len=512),
            "since": self.query("since", pattern=stamp),
            "until": self.query("until", pattern=stamp),
            "limit": self.query_int("limit", 100, low=1, high=1000),
            "offset": self.query_int("offset", 0, low=0, high=1_000_000),
        }
        given = {k: v for k, v in filters.items() if v not in (None, "")}
        await self.respond(lambda ws: {"events": ws.audit_events(**given)})


class AuditVerifyHandler(MlopsHandler):
    auth_resource = "jupyter_mlops:audit"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.respond(lambda ws: ws.verify_audit())


# -- pipelines ------------------------------------------------------------------------------------
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
            return service(ws, "pipelines", "run_notebook")(notebook)

        await self.respond(run)


_PAGE = (Param("limit", schema=LIMIT), Param("page_token", schema={"type": "string", "pattern": r"^[A-Za-z0-9+/=_\-]{1,512}$"}))

ROUTES: tuple[Route, ...] = (
    Route("status", StatusHandler, {"GET": "jupyter_mlops:status:read"}, "Server, version and the acting user", tag="meta"),
    Route("openapi.json", OpenApiHandler, {"GET": "jupyter_mlops:status:read"}, "This OpenAPI document", tag="meta"),
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
                "sort",
                schema={"type": "string", "pattern": "^" + queries.SORT_KEY_PATTERN + "$"},
                description="e.g. metrics.accuracy",
            ),
            Param("order", schema={"type": "string", "enum": ["asc", "desc"]}),
            *_PAGE,
        ),
        tag="runs",
    ),
    Route(
        "runs/{run_id}",
        RunHandler,
        {"GET": "jupyter_mlops:runs:read"},
        "A run with its parameters, metrics, source record and lineage",
        (Param("run_id", "path", {"type": "string", "pattern": "^" + queries.RUN_ID_PATTERN + "$"}, True),),
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
        "cards/{spec}",
        CardHandler,
        {"GET": "jupyter_mlops:cards:read"},
        "The model card of a model version",
        (Param("spec", "path", SPEC, True, "NAME@VERSION"),),
        tag="models",
    ),
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
    Route(
        "pipelines/run-notebook",
        RunNotebookHandler,
        {"POST": "jupyter_mlops:pipelines:execute"},
        "Run a notebook as a tracked pipeline stage",
        body={"type": "object", "properties": {"path": {"type": "string", "maxLength": 1024}}, "required": ["path"]},
        tag="pipelines",
    ),
)
