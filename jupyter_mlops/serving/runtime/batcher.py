"""Dynamic batching: concurrent requests share one model call.

A scikit-learn pipeline costs about the same for one row as for thirty (the time goes into
pandas and the column transformer, not the arithmetic: 4 ms here for either), so a gateway that
called the model once per request would spend a whole core on 200 requests a second and queue
as soon as anything else wanted the CPU. Like Triton's dynamic batcher, a model call waits a
little for company, but only while company can come: each client connection has at most one
request in flight (HTTP/1.1), so once every recently active connection has a request waiting,
nothing more can join and the call starts at once; and when requests come too seldom for one to
be likely within ``max_wait_ms`` (4 ms), it does not wait either. Otherwise it starts after
``max_wait_ms`` at the latest. A lone client never waits; under load one call answers several.
A batch that fails is retried request by request, so one request with a bad value cannot fail
the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .bundle import ServedModel
from .protocol import build_frame

__all__ = ["Batcher"]


class Batcher:
    """Batches the predictions of one model version on one event loop."""

    def __init__(
        self,
        model: ServedModel,
        *,
        max_rows: int = 512,
        traffic: Callable[[], tuple[int, float]] | None = None,
        max_wait_ms: float = 4.0,
    ) -> None:
        self.model = model
        self.max_rows = max_rows
        self.traffic = traffic  # (active client connections, requests per second)
        self.max_wait_s = max_wait_ms / 1000
        self._pending: list[tuple[dict[str, list[Any]], int, asyncio.Future[list[Any]]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._scheduled = False
        self.calls = 0
        self.rows = 0
        self.requests = 0

    def _full(self) -> bool:
        """Start the call now: no other request can (or is likely to) join, or the batch is big enough."""
        if self.traffic is None or sum(n for _, n, _ in self._pending) >= self.max_rows:
            return True
        clients, rate = self.traffic()
        return len(self._pending) >= clients or rate * self.max_wait_s < 0.5

    def submit(self, columns: dict[str, list[Any]], n_rows: int) -> asyncio.Future[list[Any]]:
        """A future for the predictions of ``n_rows`` validated rows."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._pending.append((columns, n_rows, future))
        if self._scheduled:
            if self._timer is not None and self._full():  # the last one it waited for came
                self._timer.cancel()
                self._timer = None
                loop.call_soon(self._drain)
            return future
        self._scheduled = True
        if self._full():
            loop.call_soon(self._drain)
        else:
            self._timer = loop.call_later(self.max_wait_s, self._drain)
        return future

    def _drain(self) -> None:
        self._timer = None
        batch: list[tuple[dict[str, list[Any]], int, asyncio.Future[list[Any]]]] = []
        rows = 0
        while self._pending and (not batch or rows + self._pending[0][1] <= self.max_rows):
            item = self._pending.pop(0)
            batch.append(item)
            rows += item[1]
        if self._pending:
            asyncio.get_running_loop().call_soon(self._drain)
        else:
            self._scheduled = False
        self.requests += len(batch)
        self._run(batch)

    def _run(self, batch: list[tuple[dict[str, list[Any]], int, asyncio.Future[list[Any]]]]) -> None:
        sig = self.model.columns
        if len(batch) > 1:
            merged = {c: [v for cols, _, _ in batch for v in cols[c]] for c in batch[0][0]}
            try:
                out = self.model.predict(build_frame(merged, sig))
            except Exception:  # one request's rows broke the call: answer each on its own
                out = None
            if out is not None:
                self.calls += 1
                start = 0
                for _, n, fut in batch:
                    if not fut.done():
                        fut.set_result(out[start : start + n])
                    start += n
                self.rows += start
                return
        for cols, n, fut in batch:
            try:
                result = self.model.predict(build_frame(cols, sig))
            except Exception as exc:
                if not fut.done():
                    fut.set_exception(exc)
                continue
            self.calls += 1
            self.rows += n
            if not fut.done():
                fut.set_result(result)
