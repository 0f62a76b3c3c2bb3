"""Prometheus metrics of one gateway (``GET /metrics``), through ``prometheus_client``.

Each gateway has its own registry, so two gateways in one process (tests) do not mix counts.
Label children are cached: looking one up on every request would cost more than the count.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Metrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Requests, errors and latency per variant; shadow calls; weights; the stop switch."""

    def __init__(self, deployment: str) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.deployment = deployment
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["deployment", "variant", "model_version"]
        self.requests = Counter(
            "mlops_requests",
            "Scoring requests answered, by variant role, model version and HTTP status",
            [*labels, "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "mlops_errors",
            "Failed scoring requests by kind (client, model, unavailable, stopped)",
            [*labels, "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlops_request_latency_seconds",
            "Time from request to response inside the gateway",
            labels,
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.shadow = Counter(
            "mlops_shadow_requests",
            "Shadow calls (responses logged and discarded) by outcome",
            ["deployment", "model_version", "outcome"],
            registry=self.registry,
        )
        self.weight = Gauge("mlops_variant_weight", "Traffic weight of each variant", labels, registry=self.registry)
        self.stopped = Gauge("mlops_serving_stopped", "1 while the stop switch is on", ["deployment"], registry=self.registry)
        self.logged = Gauge(
            "mlops_prediction_log_records", "Records written to the prediction log", ["deployment"], registry=self.registry
        )
        self.dropped = Gauge(
            "mlops_prediction_log_dropped", "Records the prediction log could not write", ["deployment"], registry=self.registry
        )
        self._cache: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._cache.get(key)
        if child is None:
            child = self._cache[key] = metric.labels(self.deployment, *values)
        return child

    def answered(self, role: str, ref: str, status: int, seconds: float | None) -> None:
        self._child(self.requests, role, ref, str(status)).inc()
        if seconds is not None:
            self._child(self.latency, role, ref).observe(seconds)

    def failed(self, role: str, ref: str, kind: str) -> None:
        self._child(self.errors, role, ref, kind).inc()

    def shadow_call(self, ref: str, outcome: str) -> None:
        self._child(self.shadow, ref, outcome).inc()

    def set_weights(self, routes: list[tuple[str, str, int]]) -> None:
        self.weight.clear()
        for role, ref, weight in routes:
            self.weight.labels(self.deployment, role, ref).set(weight)

    def render(self, stopped: bool, logged: int, dropped: int) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        self.stopped.labels(self.deployment).set(1 if stopped else 0)
        self.logged.labels(self.deployment).set(logged)
        self.dropped.labels(self.deployment).set(dropped)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
