"""The gateway: a Starlette app on uvicorn that serves one deployment's variants.

Routes (``/invocations``, ``/ping``, ``/health``, ``/ready`` and ``/metrics`` are open unless an
``invoke_token`` is set; ``/feedback`` and ``/admin/*`` need a bearer token)::

    POST /invocations        MLflow's scoring protocol -> {"predictions": [...]}
                             headers X-Model-Version, X-Request-Id, X-Deployment
    POST /feedback           {"request_id": ..., "label": ...} or {"labels": [...]}: delayed labels
    GET  /health, /ping      the process is up
    GET  /ready              200 when a variant can answer and the stop switch is off, else 503
    GET  /metrics            Prometheus text: requests, errors, latency per variant
    GET  /admin/status       the state, the open analysis window, the prediction log counters
    POST /admin/stop         the stop switch (EU AI Act Art. 14): every prediction answers 503
    POST /admin/resume       predictions on again
    POST /admin/weights      {"weights": {"arrests-clf@1": 80, "arrests-clf@2": 20}}
    POST /admin/variants/disable | enable    {"model": "arrests-clf@2"}: take a variant out / back

Models are loaded once, from verified bundles, when the gateway starts or its deployment state
changes; nothing on the request path imports MLflow or touches the workspace database. A
predicted request is logged through the batched :class:`~.predlog.PredictionLog`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...core.paths import resolve_inside
from ...errors import InvalidInput, MlopsError
from . import analysis as an
from .batcher import Batcher
from .bundle import ServedModel, bundle_dir, load_bundle
from .canary import analyse as analyse_window
from .changes import admin_change
from .control import Control, State
from .http import _TOKEN_HINT, _bearer_ok, _error, _freeze_heap, create_app
from .metrics import Metrics
from .predlog import PredictionLog, input_sha256, mask_rows, new_request_id
from .protocol import PayloadError, parse_payload, to_frame, validate_rows
from .router import Route, Router
from .spec import DeploymentSpec, parse_spec

__all__ = ["Gateway", "create_app"]

_REQUEST_ID_CHARS = frozenset("0123456789abcdefABCDEF-")


class Gateway:
    """The state of one running gateway: its models, router, windows, log and control."""

    def __init__(
        self,
        *,
        root: Path,
        control: Control,
        log_dir: Path,
        admin_token: str,
        invoke_token: str | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        self.root = Path(root)
        self.control = control
        self.admin_token = admin_token
        self.invoke_token = invoke_token
        self.poll_seconds = poll_seconds
        self._clients: dict[Any, float] = {}  # client connection -> when it last sent a request
        self._traffic = (1, 0.0)
        self._counted = time.monotonic()
        self._requests = 0
        self.models: dict[str, ServedModel] = {}
        self.batchers: dict[str, Batcher] = {}
        self.windows = an.Windows()
        self.alerting: set[tuple[str, str]] = set()
        state = control.load()
        self.spec: DeploymentSpec = parse_spec(state["spec"], source="deployment state")
        self.metrics = Metrics(self.spec.name)
        self.log = PredictionLog(log_dir)
        self.started = time.time()
        self.router: Router = Router([])
        self.state: State = state
        self._apply(state)

    # -- state -------------------------------------------------------------------------------
    def _load(self, spec: DeploymentSpec) -> dict[str, ServedModel]:
        models = {}
        for v in (*spec.variants, *spec.shadow):
            model = self.models.get(v.model)
            if model is None:
                model = load_bundle(resolve_inside(self.root, v.bundle or bundle_dir(v.model)), expect_ref=v.model)
            models[v.model] = model
        return models

    def _apply(self, state: State) -> None:
        """Load what the new state needs (verified), then swap the router in one assignment."""
        spec = parse_spec(state["spec"], source="deployment state")
        models = self._load(spec)
        disabled = set(state.get("disabled") or [])
        routes = [Route(models[v.model], v.weight, v.role, disabled=v.model in disabled) for v in spec.variants]
        self.router = Router(routes, [models[v.model] for v in spec.shadow])
        self.batchers = {ref: self.batchers.get(ref) or self._batcher(m) for ref, m in models.items()}
        loaded = set(models) - set(self.models)
        self.models, self.spec, self.state = models, spec, state
        self.metrics.set_weights([(v.role, v.model, v.weight) for v in spec.variants])
        if loaded:
            _freeze_heap()

    def _batcher(self, model: ServedModel) -> Batcher:
        return Batcher(model, traffic=self.traffic)

    def _seen(self, client: Any) -> None:
        self._clients[tuple(client) if client else None] = time.monotonic()
        self._requests += 1

    def traffic(self) -> tuple[int, float]:
        """Client connections active in the last second, and requests per second (recounted every 100 ms)."""
        now = time.monotonic()
        if now - self._counted > 0.1:
            self._clients = {c: t for c, t in self._clients.items() if now - t < 1.0}
            self._traffic = (max(1, len(self._clients)), self._requests / (now - self._counted))
            self._requests, self._counted = 0, now
        return self._traffic

    @property
    def stopped(self) -> bool:
        return bool(self.state.get("stopped"))

    def update(self, action: str, change: Callable[[State], State], payload: dict[str, Any] | None = None) -> State:
        new = self.control.update(action, change, payload)
        self._apply(new)
        return new

    # -- scoring -----------------------------------------------------------------------------
    async def _score(self, route: Route, names: list[str], rows: list[list[Any]], from_csv: bool) -> tuple[list[Any], Any]:
        columns, records = validate_rows(names, rows, route.model.columns, from_csv=from_csv)
        batcher = self.batchers.get(route.ref) or self._batcher(route.model)
        out = await batcher.submit(columns, len(rows))
        tolist = getattr(out, "tolist", None)
        return list(tolist() if callable(tolist) else out), records

    async def invocations(self, request: Any) -> Any:
        t0 = time.perf_counter()
        rid = new_request_id()
        headers = {"X-Request-Id": rid, "X-Deployment": self.spec.name}
        if self.invoke_token is not None and not _bearer_ok(request, self.invoke_token):
            return _error(401, "UNAUTHENTICATED", "a bearer token is required", headers, hint="send Authorization: Bearer TOKEN")
        if self.stopped:
            self.metrics.failed("none", "none", "stopped")
            self.metrics.answered("none", "none", 503, None)
            stop = self.state.get("stop") or {}
            return _error(
                503,
                "SERVING_STOPPED",
                f"predictions of deployment {self.spec.name!r} are switched off (stop switch, EU AI Act Art. 14) "
                f"by {stop.get('actor', 'an operator')} at {stop.get('ts', '?')}: {stop.get('reason') or 'no reason given'}",
                {**headers, "Retry-After": "30"},
                hint=f"an operator turns them on again with `jupyter-mlops serve resume {self.spec.name}`",
            )
        self._seen(request.scope.get("client"))
        router = self.router
        sticky = request.headers.get(self.spec.sticky_header) if self.spec.sticky_header else None
        route = router.choose(sticky)
        if route is None:
            return self._unavailable(headers, "no variant is live")
        body = await request.body()
        ctype = request.headers.get("content-type", "application/json")
        from_csv = ctype.split(";")[0].strip().lower() == "text/csv"
        names: list[str] = []
        rows: list[list[Any]] = []
        try:
            names, rows = parse_payload(body, ctype, [c for c, _ in route.model.columns])
            predictions, records = await self._score(route, names, rows, from_csv)
        except PayloadError as err:
            return self._client_error(route, err, headers, rid, t0)
        except InvalidInput as err:
            return self._client_error(route, PayloadError(err.message, field=err.field, hint=err.hint), headers, rid, t0)
        except Exception as exc:
            answered = await self._model_failed(route, exc, names, rows, from_csv, rid, t0)
            if answered is None:
                return self._unavailable(headers, f"{route.ref} failed and no other variant could answer")
            route, predictions, records = answered
        latency = time.perf_counter() - t0
        router.record(route, True)
        self.metrics.answered(route.role, route.ref, 200, latency)
        self.windows.observe(route.ref, latency * 1000, True)
        self.windows.remember(rid, route.ref, predictions)
        self._log(rid, "prediction", route.ref, route.role, 200, latency, records, predictions, sticky=sticky is not None)
        from starlette.background import BackgroundTask
        from starlette.responses import JSONResponse

        task = BackgroundTask(self._shadow, rid, names, rows, from_csv) if router.shadows else None
        return JSONResponse({"predictions": predictions}, headers={**headers, "X-Model-Version": route.ref}, background=task)

    def _client_error(self, route: Route, err: PayloadError, headers: dict[str, str], rid: str, t0: float) -> Any:
        latency = time.perf_counter() - t0
        status = int(err.details.get("http_status", 400))
        self.metrics.failed(route.role, route.ref, "client")
        self.metrics.answered(route.role, route.ref, status, latency)
        self._log(rid, "prediction", route.ref, route.role, status, latency, None, None, error=f"invalid field {err.field}")
        return _error(status, "BAD_REQUEST", err.message, headers, field=err.field, hint=err.hint)

    async def _model_failed(
        self, route: Route, exc: Exception, names: list[str], rows: list[list[Any]], from_csv: bool, rid: str, t0: float
    ) -> tuple[Route, list[Any], Any] | None:
        """Count the failure against ``route`` and try the failover variant once."""
        latency = time.perf_counter() - t0
        self.metrics.failed(route.role, route.ref, "model")
        self.windows.observe(route.ref, latency * 1000, False)
        self._log(rid, "failure", route.ref, route.role, 500, latency, None, None, error=type(exc).__name__)
        if self.router.record(route, False):
            self.control.event(
                "serving.variant_down", {"deployment": self.spec.name, "variant": route.ref, "error": type(exc).__name__}
            )
        fallback = self.router.failover(route)
        if fallback is None:
            return None
        try:
            predictions, records = await self._score(fallback, names, rows, from_csv)
        except Exception:
            self.metrics.failed(fallback.role, fallback.ref, "model")
            self.router.record(fallback, False)
            return None
        return fallback, predictions, records

    def _unavailable(self, headers: dict[str, str], why: str) -> Any:
        self.metrics.failed("none", "none", "unavailable")
        self.metrics.answered("none", "none", 503, None)
        return _error(
            503, "SERVICE_UNAVAILABLE", f"deployment {self.spec.name!r} cannot answer: {why}", {**headers, "Retry-After": "5"}
        )

    async def _shadow(self, rid: str, names: list[str], rows: list[list[Any]], from_csv: bool) -> None:
        for model in self.router.shadows:
            t0 = time.perf_counter()
            try:
                frame, records = to_frame(names, rows, model.columns, from_csv=from_csv)
                predictions = model.predict(frame)
            except Exception as exc:  # a shadow's failure never reaches the caller
                self.metrics.shadow_call(model.ref, "error")
                self._log(rid, "shadow", model.ref, "shadow", 500, time.perf_counter() - t0, None, None, error=type(exc).__name__)
                continue
            self.metrics.shadow_call(model.ref, "ok")
            self._log(rid, "shadow", model.ref, "shadow", 200, time.perf_counter() - t0, records, predictions)

    def _log(
        self,
        rid: str,
        kind: str,
        ref: str,
        role: str,
        status: int,
        latency: float,
        records: Any,
        predictions: Any,
        *,
        error: str | None = None,
        sticky: bool = False,
    ) -> None:
        rec: dict[str, Any] = {
            "kind": kind,
            "ts_ms": int(time.time() * 1000),
            "request_id": rid,
            "deployment": self.spec.name,
            "model_version": ref,
            "role": role,
            "status": status,
            "latency_ms": round(latency * 1000, 3),
        }
        if records is not None:
            model = self.models.get(ref)
            hidden = tuple(dict.fromkeys((*self.spec.sensitive, *(model.sensitive if model else ()))))
            rec["n_rows"] = len(records)
            rec["input_sha256"] = input_sha256(records)
            if self.spec.log_inputs:
                rec["inputs"] = mask_rows(records, hidden)
            rec["masked"] = sorted(set(hidden) & set(records[0])) if records else []
            rec["predictions"] = predictions
        if error is not None:
            rec["error"] = error
        if sticky:
            rec["sticky"] = True
        self.log.put(rec)

    # -- labels ------------------------------------------------------------------------------
    async def feedback(self, request: Any) -> Any:
        if not _bearer_ok(request, self.admin_token) and not (self.invoke_token and _bearer_ok(request, self.invoke_token)):
            return _error(401, "UNAUTHENTICATED", "a bearer token is required for /feedback", {})
        try:
            payload = await request.json()
        except ValueError:
            return _error(400, "BAD_REQUEST", "the body is not valid JSON", {}, field="body")
        items = payload.get("labels") if isinstance(payload, dict) and "labels" in payload else [payload]
        if not isinstance(items, list) or not items or len(items) > 10_000:
            return _error(
                400, "BAD_REQUEST", "send {request_id, label} or {labels: [{request_id, label}, ...]}", {}, field="labels"
            )
        matched = 0
        for i, item in enumerate(items):
            rid = item.get("request_id") if isinstance(item, dict) else None
            label = item.get("label") if isinstance(item, dict) else None
            if not isinstance(rid, str) or not 8 <= len(rid) <= 64 or not set(rid) <= _REQUEST_ID_CHARS:
                return _error(
                    400, "BAD_REQUEST", f"labels[{i}].request_id must be a request id from X-Request-Id", {}, field="request_id"
                )
            if isinstance(label, (dict, list)) or label is None:
                return _error(400, "BAD_REQUEST", f"labels[{i}].label must be a number, text or true/false", {}, field="label")
            found = self.windows.label(rid, label)
            matched += found is not None
            self.log.put(
                {
                    "kind": "feedback",
                    "ts_ms": int(time.time() * 1000),
                    "request_id": rid,
                    "deployment": self.spec.name,
                    "label": label,
                    "model_version": found[0] if found else None,
                    "correct": found[1] if found else None,
                }
            )
        from starlette.responses import JSONResponse

        return JSONResponse({"accepted": len(items), "matched": matched}, status_code=202)

    # -- health ------------------------------------------------------------------------------
    async def health(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "ok", "deployment": self.spec.name, "uptime_s": round(time.time() - self.started, 1)})

    async def ready(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        live = [r.ref for r in self.router.routes if r.live]
        ok = bool(live) and not self.stopped
        body = {"ready": ok, "deployment": self.spec.name, "live": live, "stopped": self.stopped}
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics_route(self, request: Any) -> Any:
        from starlette.responses import Response

        if (
            self.invoke_token is not None
            and not _bearer_ok(request, self.invoke_token)
            and not _bearer_ok(request, self.admin_token)
        ):
            return _error(401, "UNAUTHENTICATED", "a bearer token is required", {})
        body, ctype = self.metrics.render(self.stopped, self.log.written, self.log.dropped)
        return Response(body, media_type=ctype)

    # -- admin -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "deployment": self.spec.name,
            "state": self.state,
            "live": [r.ref for r in self.router.routes if r.live],
            "window": self.windows.peek(),
            "alerting": sorted(f"{ref}:{kind}" for ref, kind in self.alerting),
            "prediction_log": {"folder": self.log.folder.name, "written": self.log.written, "dropped": self.log.dropped},
            "batching": {ref: {"calls": b.calls, "requests": b.requests, "rows": b.rows} for ref, b in self.batchers.items()},
        }

    async def admin(self, request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        if not _bearer_ok(request, self.admin_token):
            return _error(401, "UNAUTHENTICATED", "the admin routes need the gateway's bearer token", {}, hint=_TOKEN_HINT)
        action = request.path_params["action"]
        if request.method == "GET":
            if action != "status":
                return _error(404, "NOT_FOUND", f"no admin route {action!r}", {})
            return JSONResponse(self.status())
        try:
            body = await request.json() if await request.body() else {}
        except ValueError:
            return _error(400, "BAD_REQUEST", "the body is not valid JSON", {}, field="body")
        if not isinstance(body, dict):
            return _error(400, "BAD_REQUEST", "the body must be a JSON object", {}, field="body")
        try:
            change, audit, payload = admin_change(action, body, self.state, actor=self.control.actor)
        except MlopsError as err:
            return _error(
                err.http_status, "BAD_REQUEST" if err.http_status < 500 else "INTERNAL_ERROR", err.message, {}, field=err.field
            )
        payload = {**payload, "via": "rest", "client": request.client.host if request.client else None}
        try:
            state = await run_in_threadpool(self.update, audit, change, payload)
        except MlopsError as err:
            if action == "stop":  # fail safe: predictions stop even when the record cannot be written
                self.state = {**self.state, "stopped": True, "stop": {"actor": self.control.actor, "reason": body.get("reason")}}
            return _error(err.http_status, "INTERNAL_ERROR", f"{action} could not be recorded: {err.message}", {})
        return JSONResponse({"ok": True, "action": action, "revision": state["revision"], "stopped": bool(state.get("stopped"))})

    # -- background loops -------------------------------------------------------------------
    async def poll_loop(self) -> None:
        from starlette.concurrency import run_in_threadpool

        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                new = await run_in_threadpool(self.control.poll, int(self.state.get("revision", 0)))
                if new is not None:
                    await run_in_threadpool(self._apply, new)
            except Exception as exc:  # keep serving the last good state
                with contextlib.suppress(Exception):
                    self.control.event(
                        "serving.state_error", {"deployment": self.spec.name, "error": f"{type(exc).__name__}: {exc}"[:300]}
                    )

    async def analysis_loop(self) -> None:
        """Judge each window. Drift is not computed here: reading the log and the training data
        in this process would hold the GIL and stall the event loop (``jupyter-mlops monitor
        --watch`` does it in its own process)."""
        from starlette.concurrency import run_in_threadpool

        while True:
            await asyncio.sleep(self.spec.analysis.interval)
            done = self.windows.close()
            try:
                await run_in_threadpool(self.analyse, done)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    self.control.event(
                        "serving.analysis_error", {"deployment": self.spec.name, "error": f"{type(exc).__name__}: {exc}"[:300]}
                    )

    def analyse(self, done: dict[str, an.WindowStats]) -> str | None:
        """Judge one closed window: alerts for every variant, the canary's next step (see :mod:`.canary`)."""
        return analyse_window(self, done)
