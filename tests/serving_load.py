"""A small open-loop HTTP/1.1 load generator for loopback tests and the serving benchmark.

Open loop: request ``i`` is due at ``start + i / rate`` whatever happened to the others, and its
latency is measured from that due time, so a stalled server shows up as latency instead of
silently slowing the client down (no coordinated omission). Requests go over ``connections``
keep-alive sockets with pre-built request bytes, so the client costs little CPU next to the
server on a 2-core machine. Every request has a hard timeout: nothing hangs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import time
from collections.abc import Sequence
from typing import Any


def request_bytes(
    path: str, body: bytes, *, content_type: str = "application/json", headers: dict[str, str] | None = None
) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def json_request(path: str, payload: Any, headers: dict[str, str] | None = None) -> bytes:
    return request_bytes(path, json.dumps(payload).encode(), headers=headers)


@dataclasses.dataclass
class Outcome:
    index: int
    status: int
    latency_ms: float
    headers: dict[str, str]
    kind: str = "valid"


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclasses.dataclass
class LoadResult:
    outcomes: list[Outcome]
    seconds: float
    errors: list[str]

    def statuses(self, kind: str | None = None) -> dict[int, int]:
        out: dict[int, int] = {}
        for o in self.outcomes:
            if kind is None or o.kind == kind:
                out[o.status] = out.get(o.status, 0) + 1
        return out

    def latencies(self, kind: str | None = "valid", status: int | None = 200) -> list[float]:
        return [
            o.latency_ms for o in self.outcomes if (kind is None or o.kind == kind) and (status is None or o.status == status)
        ]

    def summary(self, kind: str | None = "valid") -> dict[str, float]:
        lat = self.latencies(kind)
        return {"requests": len(self.outcomes), "ok": len(lat), "throughput_rps": len(self.outcomes) / self.seconds if self.seconds else 0.0,
                "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": max(lat) if lat else math.nan}  # fmt: skip


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    if length:
        await reader.readexactly(length)
    return status, headers


async def _run(
    port: int, requests: Sequence[tuple[bytes, str]], rate: float | None, connections: int, timeout: float, keep: Sequence[str]
) -> LoadResult:
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    outcomes: list[Outcome] = []
    errors: list[str] = []
    start = time.perf_counter() + 0.05

    async def producer() -> None:
        for i in range(len(requests)):
            due = start + (i / rate if rate else 0.0)
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await queue.put((i, due))
        for _ in range(connections):
            await queue.put(None)

    async def worker() -> None:
        reader = writer = None
        while True:
            job = await queue.get()
            if job is None:
                break
            i, due = job
            data, kind = requests[i]
            if not rate:
                due = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
                writer.write(data)
                assert reader is not None
                status, headers = await asyncio.wait_for(_read_response(reader), timeout)
                if headers.get("connection") == "close":
                    writer.close()
                    reader = writer = None
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                status, headers = 0, {}
                errors.append(type(exc).__name__)
                if writer is not None:
                    writer.close()
                reader = writer = None
            outcomes.append(
                Outcome(i, status, (time.perf_counter() - due) * 1000, {k: headers[k] for k in keep if k in headers}, kind)
            )
        if writer is not None:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(producer(), *(worker() for _ in range(connections)))
    return LoadResult(sorted(outcomes, key=lambda o: o.index), time.perf_counter() - t0, errors)


def run_load(
    port: int,
    requests: Sequence[tuple[bytes, str]],
    *,
    rate: float | None = None,
    connections: int = 8,
    timeout: float = 10.0,
    keep_headers: Sequence[str] = ("x-model-version", "x-request-id"),
) -> LoadResult:
    """Send ``requests`` (bytes, kind) at ``rate`` per second (``None``: as fast as the connections go)."""
    return asyncio.run(_run(port, requests, rate, connections, timeout, [h.lower() for h in keep_headers]))
