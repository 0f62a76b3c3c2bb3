"""Canary analysis: per-variant windows of outcomes and latencies, judged like Argo Rollouts / Flagger.

Every ``interval`` the gateway closes the window and calls :func:`judge`: the canary fails the
window when its error rate exceeds the stable variant's by more than ``max_error_rate``, when its
p99 latency exceeds ``max_p99_ms``, or (once ``min_labels`` labels arrived through
``POST /feedback`` for both) when its accuracy is below the stable variant's by more than
``max_quality_drop``. A window with fewer than ``min_requests`` canary requests decides nothing.
:func:`next_step` turns the verdict into the action: ``rollback`` after ``failure_limit`` failed
windows, ``step`` (weight + ``step_weight``, capped at ``max_weight``), or ``promote`` once a
window passes at ``max_weight``. Each decision carries the numbers it was made on.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections import OrderedDict
from typing import Any

from .spec import Analysis

__all__ = ["Verdict", "WindowStats", "Windows", "judge", "next_step", "percentile"]


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by the nearest-rank method, or ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclasses.dataclass
class WindowStats:
    """What one variant did in one window."""

    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    labels: int = 0
    correct: int = 0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labels if self.labels else None

    def summary(self) -> dict[str, Any]:
        p50, p99 = percentile(self.latencies_ms, 50), percentile(self.latencies_ms, 99)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": None if self.error_rate is None else round(self.error_rate, 6),
            "p50_ms": None if p50 is None else round(p50, 3),
            "p99_ms": None if p99 is None else round(p99, 3),
            "labels": self.labels,
            "accuracy": None if self.accuracy is None else round(self.accuracy, 6),
        }


class Windows:
    """The open window of every variant, plus recent predictions waiting for their label."""

    def __init__(self, *, remember: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, WindowStats] = {}
        self._pending: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._remember = remember

    def observe(self, ref: str, latency_ms: float, ok: bool) -> None:
        with self._lock:
            w = self._open.setdefault(ref, WindowStats())
            w.requests += 1
            if ok:
                w.latencies_ms.append(latency_ms)
            else:
                w.errors += 1

    def remember(self, request_id: str, ref: str, prediction: Any) -> None:
        # kept as text: a tuple of strings is not tracked by the garbage collector, so 200,000
        # remembered predictions add nothing to a full collection's walk
        text = json.dumps(prediction, separators=(",", ":"), default=str)
        with self._lock:
            self._pending[request_id] = (ref, text)
            if len(self._pending) > self._remember:
                self._pending.popitem(last=False)

    def label(self, request_id: str, label: Any) -> tuple[str, bool] | None:
        """Count a label for the request's variant; ``(ref, correct)`` or ``None`` if it is unknown here."""
        with self._lock:
            found = self._pending.pop(request_id, None)
            if found is None:
                return None
            ref, text = found
            correct = _same(json.loads(text), label)
            w = self._open.setdefault(ref, WindowStats())
            w.labels += 1
            w.correct += int(correct)
            return ref, correct

    def close(self) -> dict[str, WindowStats]:
        """Hand over the finished window and start a new one."""
        with self._lock:
            done, self._open = self._open, {}
            return done

    def peek(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {ref: w.summary() for ref, w in self._open.items()}


def _same(prediction: Any, label: Any) -> bool:
    if isinstance(prediction, list) and len(prediction) == 1:
        prediction = prediction[0]
    if isinstance(label, list) and len(label) == 1:
        label = label[0]
    try:
        return bool(float(prediction) == float(label))
    except (TypeError, ValueError):
        return str(prediction) == str(label)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One window's result for the canary: passed, failed (with reasons) or no decision."""

    outcome: str  # "pass", "fail" or "skip"
    reasons: tuple[str, ...]
    canary: dict[str, Any]
    stable: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reasons": list(self.reasons), "canary": self.canary, "stable": self.stable}


def judge(canary: WindowStats, stable: WindowStats, analysis: Analysis) -> Verdict:
    """Compare the canary with the stable variant over one window."""
    c, s = canary.summary(), stable.summary()
    if canary.requests < analysis.min_requests:
        return Verdict("skip", (f"only {canary.requests} canary requests (min_requests {analysis.min_requests})",), c, s)
    reasons = []
    c_err, s_err = canary.error_rate or 0.0, stable.error_rate or 0.0
    if c_err > s_err + analysis.max_error_rate:
        reasons.append(f"error rate {c_err:.4f} exceeds stable {s_err:.4f} + max_error_rate {analysis.max_error_rate}")
    p99 = c["p99_ms"]
    if p99 is not None and p99 > analysis.max_p99_ms:
        reasons.append(f"p99 {p99:.1f} ms exceeds max_p99_ms {analysis.max_p99_ms:g}")
    if canary.labels >= analysis.min_labels and stable.labels >= analysis.min_labels:
        ca, sa = canary.accuracy or 0.0, stable.accuracy or 0.0
        if ca < sa - analysis.max_quality_drop:
            reasons.append(f"accuracy {ca:.4f} is below stable {sa:.4f} - max_quality_drop {analysis.max_quality_drop}")
    return Verdict("fail" if reasons else "pass", tuple(reasons), c, s)


def next_step(verdict: Verdict, *, weight: int, failures: int, analysis: Analysis) -> tuple[str, int, int]:
    """``(action, new canary weight, failed windows so far)``; action is hold, step, promote or rollback."""
    if verdict.outcome == "skip":
        return "hold", weight, failures
    if verdict.outcome == "fail":
        failures += 1
        if failures >= analysis.failure_limit:
            return "rollback", 0, failures
        return "hold", weight, failures
    if weight >= analysis.max_weight:
        return "promote", 100, failures
    return "step", min(analysis.max_weight, weight + analysis.step_weight), failures
