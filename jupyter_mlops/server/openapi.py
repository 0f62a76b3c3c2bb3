"""The OpenAPI 3 document of ``/jupyter-mlops/api/v1``, generated from the route table.

Generated rather than written by hand so it cannot drift from what the server registers; the
tests fuzz the server against it with schemathesis.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .routes import API_PREFIX, Route

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "field": {"type": ["string", "null"]},
        "hint": {"type": "string"},
    },
}
_STATUS_TEXT = {400: "Invalid input", 401: "Not authenticated", 403: "Not authorized", 404: "Not found", 409: "Conflict"}


def _slug(path: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in path.replace("{", "").replace("}", ""))


def _operation(route: Route, verb: str) -> dict[str, Any]:
    permission = route.permissions[verb]
    op: dict[str, Any] = {
        "operationId": f"{verb.lower()}_{_slug(route.path)}",
        "summary": route.summary,
        "tags": [route.tag],
        "x-permission": permission,
        "parameters": [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "schema": dict(p.schema),
                "description": p.description,
            }
            for p in route.params
        ],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"type": ["object", "array"]}}}},
            **{
                str(code): {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for code, text in _STATUS_TEXT.items()
            },
        },
    }
    if route.body is not None and verb in ("POST", "PUT", "PATCH"):
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": dict(route.body)}}}
    return op


def openapi_document(routes: Iterable[Route], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes`` (paths are relative to the server's base URL)."""
    paths: dict[str, Any] = {}
    for route in routes:
        paths[f"/{API_PREFIX}/{route.path}"] = {verb.lower(): _operation(route, verb) for verb in route.permissions}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jupyter-mlops",
            "version": version,
            "description": "Runs, data versions, models, cards, reviews, lineage and the audit chain of the Jupyter server's "
            "jupyter-mlops workspace. Every route needs an authenticated Jupyter user (token or login cookie; "
            "browser POSTs also need the _xsrf token) and the permission in x-permission.",
        },
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        },
        "security": [{"token": []}],
        "paths": paths,
    }
