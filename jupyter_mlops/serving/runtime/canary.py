"""Canary analysis in the gateway: judge each closed window, raise or clear alerts, take the next step.

The numbers come from :mod:`.analysis` (windows, :func:`~.analysis.judge`,
:func:`~.analysis.next_step`); the state change is :func:`~.changes.canary_change`, applied and
audited through the gateway's control. A promotion moves the registry aliases that named the
replaced stable variants, through the registry's own approval gate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import analysis as an
from .changes import canary_change

if TYPE_CHECKING:
    from .app import Gateway

__all__ = ["analyse"]


def analyse(gateway: Gateway, done: dict[str, an.WindowStats]) -> str | None:
    """Judge one closed window: alerts for every variant, the canary's next step."""
    spec, a = gateway.spec, gateway.spec.analysis
    for ref, w in done.items():
        summary = w.summary()
        for kind, value, limit in (
            ("error_rate", summary["error_rate"], a.max_error_rate),
            ("p99_ms", summary["p99_ms"], a.max_p99_ms),
        ):
            key = (ref, kind)
            breach = w.requests >= a.min_requests and value is not None and value > limit
            if breach and key not in gateway.alerting:
                gateway.alerting.add(key)
                gateway.control.event(
                    "serving.alert",
                    {
                        "deployment": spec.name,
                        "variant": ref,
                        "metric": kind,
                        "value": value,
                        "threshold": limit,
                        "window": summary,
                    },
                )
            elif not breach and key in gateway.alerting and w.requests >= a.min_requests:
                gateway.alerting.discard(key)
                gateway.control.event(
                    "serving.alert_cleared",
                    {"deployment": spec.name, "variant": ref, "metric": kind, "value": value, "threshold": limit},
                )
    canary = spec.canary
    stable = gateway.router.stable
    if canary is None or canary.weight <= 0 or stable is None:
        return None
    verdict = an.judge(done.get(canary.model, an.WindowStats()), done.get(stable.ref, an.WindowStats()), a)
    route = gateway.router.by_ref(canary.model)
    if route is not None and route.consecutive_failures >= gateway.router.breaker_threshold:
        # the breaker took the canary out of the traffic: that window failed, however few requests it saw
        reason = f"{route.consecutive_failures} failures in a row opened the circuit breaker"
        verdict = an.Verdict(
            "fail", (*verdict.reasons, reason) if verdict.outcome == "fail" else (reason,), verdict.canary, verdict.stable
        )
    failures = int((gateway.state.get("canary") or {}).get("failures", 0))
    action, weight, failures = an.next_step(verdict, weight=canary.weight, failures=failures, analysis=a)
    if verdict.outcome == "skip":
        return "skip"
    payload = {
        "deployment": spec.name,
        "canary": canary.model,
        "stable": stable.ref,
        "verdict": verdict.to_dict(),
        "decision": action,
        "weight_before": canary.weight,
        "weight_after": weight,
        "failed_windows": failures,
        "analysis": a.to_dict(),
    }
    alias = None
    if action == "promote":
        # the registry follows: the aliases the replaced stable variants were named by now
        # name the canary (through the registry's own approval gate; see Control.promoted)
        name = canary.model.partition("@")[0]
        aliases = sorted({v.alias for v in spec.variants if v.role == "stable" and v.alias and v.model.partition("@")[0] == name})
        moved = gateway.control.promoted(canary.model, aliases) if aliases else {"moved": [], "not_moved": []}
        payload["aliases"] = moved
        alias = next(iter(moved["moved"]), None)
    audit = {"hold": "deployment.canary_failed_window", "step": "deployment.canary_step"}.get(action, f"deployment.{action}")
    gateway.update(audit, lambda s: canary_change(s, action, canary.model, weight, failures, alias=alias), payload)
    return action
