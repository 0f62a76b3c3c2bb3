"""The route declaration type: every REST route names its permission, parameters and body here.

:data:`jupyter_mlops.server.handlers.ROUTES` is a tuple of :class:`Route`. The server registers
exactly those routes, the OpenAPI document is generated from them, and the route inventory test
checks that each handler's ``auth_resource`` and verbs match the declared permissions.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["API_PREFIX", "COMMENT_BODY", "LIMIT", "NAME", "OFFSET", "PAGE", "SPEC", "TEXT", "VERSION", "Param", "Route"]

API_PREFIX = "jupyter-mlops/api/v1"

#: JSON schemas of the parameters routes share (published in the OpenAPI document, checked by the handlers).
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


@dataclasses.dataclass(frozen=True)
class Param:
    """A path or query parameter of a route (its JSON schema is published in the OpenAPI document)."""

    name: str
    where: str = "query"
    schema: Mapping[str, Any] = dataclasses.field(default_factory=lambda: {"type": "string", "maxLength": 256})
    required: bool = False
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Route:
    """One REST route.

    Attributes
    ----------
    path:
        Path below ``/jupyter-mlops/api/v1/`` with ``{name}`` placeholders (one path segment each).
    handler:
        The :class:`~jupyter_mlops.server.base.MlopsHandler` subclass.
    permissions:
        HTTP verb -> ``"jupyter_mlops:<area>:<action>"``; the handler's ``auth_resource`` is
        ``jupyter_mlops:<area>`` and the verb is wrapped by ``@authorized`` with that action.
    """

    path: str
    handler: type
    permissions: Mapping[str, str]
    summary: str
    params: tuple[Param, ...] = ()
    body: Mapping[str, Any] | None = None
    tag: str = "mlops"

    @property
    def pattern(self) -> str:
        """The tornado URL pattern (without the base URL): placeholders become named groups."""
        return re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)

    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)


#: The paging parameters of a listing.
PAGE = (
    Param("limit", schema=LIMIT),
    Param("page_token", schema={"type": "string", "pattern": r"^[A-Za-z0-9+/=_\-]{1,512}$"}),
)
