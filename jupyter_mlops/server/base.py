"""The base REST handler: one workspace per server, one identity per request, one error format.

Every route of the server extension subclasses :class:`MlopsHandler`. It opens the workspace of
the Jupyter server once (its ``root_dir``, or ``c.JupyterMlops.root``, or ``JUPYTER_MLOPS_HOME``),
acts for each request as the user Jupyter's identity provider names, or as the server's owner
under a default token or password login (:mod:`.identity`; never a name the client asserts), runs
blocking store calls off the event loop, and turns every :class:`~jupyter_mlops.errors.MlopsError`
into a JSON body ``{"error", "message", "field", "hint"}`` with its HTTP status. Bodies never carry
a traceback, nor raw client input unless it is a plain token that cannot hold markup (a name, a
number, ``accuracy > 0.8``), so an error can still say which token was wrong.

Path parameters are checked in one place, :meth:`MlopsHandler.check_path_params`, against the
patterns the OpenAPI document publishes for the route, matched as ASCII only: Python's ``str.isdigit``
and ``\\d`` accept ``²`` or Arabic-Indic ``٣``, which ``int()`` then fails on or reads as 3.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from http.client import responses
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from jupyter_server.base.handlers import APIHandler
from tornado.ioloop import IOLoop
from tornado.web import HTTPError
from traitlets import Int, Unicode
from traitlets.config import Configurable

from ..errors import InvalidInput, MlopsError, PipelineError, WorkspaceNotFound

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["JupyterMlops", "MlopsHandler", "error_body", "jsonable", "resolve_notebook_path", "version_number"]

T = TypeVar("T")
log = logging.getLogger("jupyter_mlops.server")


class JupyterMlops(Configurable):  # type: ignore[misc]
    """Server-side settings of jupyter-mlops (``c.JupyterMlops.<name>`` in jupyter_server_config.py)."""

    root = Unicode(
        "",
        help="Project folder holding the .mlops/ workspace. Empty: JUPYTER_MLOPS_HOME, else the nearest "
        ".mlops/ at or above the server's root_dir.",
    ).tag(config=True)
    workers = Int(4, help="Threads that run store and MLflow calls off the event loop.").tag(config=True)

    def __init__(self, root_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root_dir = root_dir
        self.executor = ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="jupyter-mlops")
        self._lock = threading.Lock()
        self._workspace: Workspace | None = None
        self.routes: tuple[Any, ...] = ()  # the registered routes (set when the extension loads)

    def workspace(self) -> Workspace:
        """The server's workspace, opened on first use (a missing one is retried on the next call)."""
        with self._lock:
            if self._workspace is None:
                from ..workspace import Workspace

                ws = Workspace.open(self.root) if self.root else Workspace.open(start=self.root_dir)
                ws.tracking  # noqa: B018 - created once so every per-user copy shares one MLflow client
                self._workspace = ws
            self._workspace.refresh_access()  # reviewers and roles as config.toml says now
            return self._workspace


def jsonable(value: Any) -> Any:
    """Entities, tables and containers as JSON-safe data (NaN and infinities become null)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "to_dict") and callable(value.to_dict):
        try:
            return jsonable(value.to_dict())
        except TypeError:  # a DataFrame wants an orient
            return jsonable(value.to_dict(orient="records"))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)


def _status_for(err: MlopsError) -> int:
    if isinstance(err, WorkspaceNotFound):
        return 404
    if isinstance(err, PipelineError):
        return 409
    return int(err.http_status)


#: Input that cannot carry markup or a script (a name, a number, a metric key, ``accuracy > 0.8``):
#: an error may name it, so "unknown key 'accuracy'" says which token was wrong. No ``<``, ``&``,
#: quote, slash, colon or bracket gets through.
_PLAIN_TOKEN = re.compile(r"'?[A-Za-z0-9_.@\- >=!]{1,200}'?")


def _redact(text: str, raw: list[str]) -> str:
    for value in sorted(raw, key=len, reverse=True):
        if _PLAIN_TOKEN.fullmatch(value):
            continue
        if len(value) >= 2 and value in text:
            text = text.replace(value, "<input>")
    return text


def error_body(err: MlopsError, raw_inputs: list[str]) -> dict[str, Any]:
    """The JSON error body for ``err``; raw client input inside the message is replaced, unless it is a plain token."""
    raw = list(raw_inputs)
    if err.value is not None:
        raw += [str(err.value), repr(err.value)]
    body: dict[str, Any] = {"error": type(err).__name__, "message": _redact(err.message, raw), "field": err.field}
    if err.hint:
        body["hint"] = _redact(err.hint, raw)
    return body


class MlopsHandler(APIHandler):  # type: ignore[misc]
    """Base of every ``/jupyter-mlops/api/v1`` handler (subclasses set ``auth_resource``)."""

    auth_resource: ClassVar[str] = "jupyter_mlops:status"
    route: Any = None

    def initialize(self, route: Any = None) -> None:
        """Receives its :class:`~jupyter_mlops.server.routes.Route` (parameter schemas) from the registration."""
        self.route = route

    def check_path_params(self) -> None:
        """Refuse a path parameter that does not match its published schema (ASCII only) with a 400."""
        params = {p.name: p for p in getattr(self.route, "params", ()) if p.where == "path"}
        for name, value in self.path_kwargs.items():
            text = value if isinstance(value, str) else str(value)
            schema = params[name].schema if name in params else {"type": "string", "maxLength": 256}
            pattern = str(schema.get("pattern") or "")
            too_long = len(text) > int(str(schema.get("maxLength", 512)))
            if not text.isascii() or too_long or "\x00" in text or (pattern and not re.fullmatch(pattern, text, re.ASCII)):
                desc = params[name].description if name in params else ""
                raise InvalidInput(
                    f"invalid path parameter {name}" + (f" (expected {desc})" if desc else ""),
                    field=name,
                    hint="see /jupyter-mlops/api/v1/openapi.json for the accepted format (ASCII only)",
                )

    @property
    def mlops(self) -> JupyterMlops:
        app: JupyterMlops = self.settings["jupyter_mlops"]
        return app

    def identity(self, owner: str) -> tuple[str, str]:
        """``(name, source)`` this request acts as (see :func:`~jupyter_mlops.server.identity.request_identity`)."""
        from .identity import request_identity

        user = self.current_user
        if not (getattr(user, "username", None) or (user if isinstance(user, str) else None)):
            raise HTTPError(403, "no authenticated user")
        return request_identity(self.identity_provider, user, owner)

    def workspace(self) -> Workspace:
        """The server's workspace acting as this request's identity (a named user, else the server owner)."""
        base = self.mlops.workspace()
        name, source = self.identity(base.actor)
        return base.as_user(name, source=source)

    # -- input --------------------------------------------------------------------------------
    def raw_inputs(self) -> list[str]:
        values = [v.decode("utf-8", "replace") for vs in self.request.arguments.values() for v in vs]
        values += [str(v) for v in self.path_kwargs.values()]
        body = self.request.body or b""
        if body:
            values.append(body.decode("utf-8", "replace"))
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if isinstance(data, dict):
                values += [str(v) for v in data.values() if isinstance(v, (str, int, float))]
        return values

    def query(self, name: str, default: str | None = None, *, pattern: str | None = None, max_len: int = 512) -> str | None:
        """A query argument (the last one given), checked for length and an optional pattern."""
        values = self.request.query_arguments.get(name)
        if not values:
            return default
        text = values[-1].decode("utf-8", "replace")
        if len(text) > max_len or "\x00" in text or (pattern is not None and not re.fullmatch(pattern, text, re.ASCII)):
            raise InvalidInput(f"invalid value for query parameter {name}", field=name, hint=_pattern_hint(pattern))
        return text

    def query_int(self, name: str, default: int, *, low: int, high: int) -> int:
        text = self.query(name, None, pattern=r"-?\d{1,9}")
        if text is None:
            return default
        value = int(text)
        if not low <= value <= high:
            raise InvalidInput(f"query parameter {name} must be between {low} and {high}", field=name)
        return value

    def body_json(self) -> dict[str, Any]:
        body = self.request.body or b"{}"
        if len(body) > 1_000_000:
            raise InvalidInput("request body is larger than 1 MB", field="body")
        try:
            data = json.loads(body)
        except ValueError:
            raise InvalidInput(
                "request body is not valid JSON", field="body", hint='send an object like {"comment": "ok"}'
            ) from None
        if not isinstance(data, dict):
            raise InvalidInput("request body must be a JSON object", field="body")
        return data

    # -- output -------------------------------------------------------------------------------
    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        text = json.dumps(jsonable(data), allow_nan=False, ensure_ascii=False)
        self.finish(text.replace("</", "<\\/"))

    async def respond(self, fn: Callable[[Workspace], Any], status: int = 200) -> None:
        """Run ``fn(workspace)`` off the event loop and reply with its result.

        An :class:`MlopsError` raised here (or while parsing the request) reaches :meth:`write_error`.
        Path parameters are checked first (:meth:`check_path_params`), after authentication and
        authorization have run on the verb.
        """
        self.check_path_params()
        ws = self.workspace()
        result = await IOLoop.current().run_in_executor(self.mlops.executor, fn, ws)
        self.reply(result, status)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, MlopsError):
            log.info("jupyter-mlops %s %s -> %s: %s", self.request.method, self.request.path, type(value).__name__, value.message)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON for every error: MlopsError with its status, HTTP errors with their reason, else a bare 500."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MlopsError):
            self.set_status(_status_for(exc))
            body = error_body(exc, self.raw_inputs())
        elif isinstance(exc, HTTPError):
            body = {
                "error": responses.get(status_code, "Error").replace(" ", ""),
                "message": _http_message(exc, status_code),
                "field": None,
            }
        else:
            body = {"error": "InternalError", "message": "internal server error (details are in the server log)", "field": None}
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(json.dumps(body).replace("</", "<\\/"))


def _http_message(exc: HTTPError, status: int) -> str:
    if status in (401, 403):
        return "not authenticated or not authorized for this resource"
    if status == 405:
        return "method not allowed on this route"
    return responses.get(status, "error")


def _pattern_hint(pattern: str | None) -> str | None:
    return None if pattern is None else "see /jupyter-mlops/api/v1/openapi.json for the accepted format"


def version_number(text: str) -> int:
    """A model version number from a path segment (ASCII digits only)."""
    if not (text.isascii() and text.isdigit()) or not 1 <= len(text) <= 9 or int(text) < 1:
        raise InvalidInput("a version is a positive integer", field="version")
    return int(text)


def resolve_notebook_path(root_dir: str, path: str) -> Path:
    """A notebook path from the lab (relative to the server's root_dir), refused if it leaves it."""
    from ..core.paths import resolve_inside

    return Path(resolve_inside(root_dir, path))
