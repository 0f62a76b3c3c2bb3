"""Traffic: weighted choice between live variants, sticky assignment by a hashed key, failover.

A request with the sticky header (``X-Client-Id`` ...) is assigned by a BLAKE2b hash of its
value to one of 10,000 buckets laid out by weight, so a client keeps its variant for as long as
the weights do not change. Other requests are assigned at random by weight. A variant that was
disabled (by an operator) or that failed ``breaker_threshold`` times in a row is skipped: its
share goes to the other live variants, and when none is live the gateway answers 503.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import threading
from collections.abc import Sequence

from .bundle import ServedModel

__all__ = ["BUCKETS", "Route", "Router", "bucket_of"]

BUCKETS = 10_000


def bucket_of(key: str) -> int:
    """The bucket (0 .. 9,999) of a sticky key; the key itself is never stored."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


@dataclasses.dataclass
class Route:
    """One variant as the router sees it."""

    model: ServedModel
    weight: int
    role: str
    disabled: bool = False
    consecutive_failures: int = 0

    @property
    def ref(self) -> str:
        return self.model.ref

    @property
    def live(self) -> bool:
        return not self.disabled and self.weight > 0


class Router:
    """Chooses a variant per request; thread-safe for the failure counters."""

    def __init__(self, routes: Sequence[Route], shadows: Sequence[ServedModel] = (), *, breaker_threshold: int = 5) -> None:
        self.routes = list(routes)
        self.shadows = list(shadows)
        self.breaker_threshold = breaker_threshold
        self._lock = threading.Lock()
        self._rebuild()

    def _rebuild(self) -> None:
        live = [r for r in self.routes if r.live]
        total = sum(r.weight for r in live)
        self._live = live
        self._total = total
        bounds = []
        acc = 0
        for r in live:
            acc += r.weight
            bounds.append(acc)
        self._bounds = bounds

    def by_ref(self, ref: str) -> Route | None:
        return next((r for r in self.routes if r.ref == ref), None)

    @property
    def stable(self) -> Route | None:
        """The live stable variant with the largest weight (the failover target)."""
        stable = [r for r in self._live if r.role == "stable"]
        return max(stable, key=lambda r: r.weight) if stable else None

    def choose(self, sticky_key: str | None = None) -> Route | None:
        """The variant for one request, or ``None`` when no variant is live."""
        if not self._total:
            return None
        if sticky_key is not None:
            point = bucket_of(sticky_key) * self._total / BUCKETS
        else:
            point = random.random() * self._total
        for route, bound in zip(self._live, self._bounds, strict=True):
            if point < bound:
                return route
        return self._live[-1]

    def failover(self, failed: Route) -> Route | None:
        """Where a request goes after ``failed`` could not answer it: another live variant, stable first."""
        candidates = [r for r in self._live if r is not failed]
        if not candidates:
            return None
        stable = [r for r in candidates if r.role == "stable"]
        return max(stable or candidates, key=lambda r: r.weight)

    def record(self, route: Route, ok: bool) -> bool:
        """Count a success or failure; returns True when this failure opened the breaker."""
        with self._lock:
            if ok:
                route.consecutive_failures = 0
                return False
            route.consecutive_failures += 1
            if route.consecutive_failures >= self.breaker_threshold and not route.disabled:
                route.disabled = True
                self._rebuild()
                return True
        return False

    def set_disabled(self, ref: str, disabled: bool) -> Route | None:
        with self._lock:
            route = self.by_ref(ref)
            if route is not None:
                route.disabled = disabled
                route.consecutive_failures = 0
                self._rebuild()
            return route

    def weights(self) -> dict[str, int]:
        return {r.ref: r.weight for r in self.routes}
