"""Changes to a deployment state, as pure functions: one canary decision, one admin request.

The gateway applies them through :meth:`~.control.Control.update`, which audits each one with its
state before and after; keeping them free of the gateway lets them be checked on plain dicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ...errors import InvalidInput
from .control import State

__all__ = ["admin_change", "canary_change"]


def canary_change(state: State, action: str, canary: str, weight: int, failures: int, *, alias: str | None = None) -> State:
    """The state after one canary decision (hold, step, promote, rollback)."""
    spec = state["spec"]
    variants = spec["variants"]
    info = dict(state.get("canary") or {})
    info.update(failures=failures, windows=int(info.get("windows", 0)) + 1)
    if action == "rollback":
        spec["variants"] = [v for v in variants if v["model"] != canary]
        _share(spec["variants"], 100)
        info.update(failures=0, windows=0, last={"model": canary, "outcome": "rolled_back"})
    elif action == "promote":
        named = {"alias": alias} if alias else {}
        spec["variants"] = [{**v, "role": "stable", "weight": 100, **named} for v in variants if v["model"] == canary]
        info.update(failures=0, windows=0, last={"model": canary, "outcome": "promoted"})
    elif action == "step":
        for v in variants:
            if v["model"] == canary:
                v["weight"] = weight
        _share([v for v in variants if v["model"] != canary], 100 - weight)
    state["canary"] = info
    return state


def _share(stable: list[dict[str, Any]], total: int) -> None:
    """Split ``total`` between the stable variants in proportion to their weights."""
    if not stable:
        return
    current = sum(int(v.get("weight", 0)) for v in stable) or len(stable)
    given = 0
    for v in stable[:-1]:
        v["weight"] = round(total * (int(v.get("weight", 0)) or 1) / current)
        given += v["weight"]
    stable[-1]["weight"] = total - given


def admin_change(
    action: str, body: dict[str, Any], state: State, *, actor: str
) -> tuple[Callable[[State], State], str, dict[str, Any]]:
    """``(change, audit action, payload)`` for an admin request; validated before anything is written."""
    models = [v["model"] for v in state["spec"]["variants"]]
    if action == "stop":
        reason = body.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
            raise InvalidInput("reason must be text of at most 2000 characters", field="reason")
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        def stop(s: State) -> State:
            return {**s, "stopped": True, "stop": {"reason": reason or "", "ts": ts, "actor": actor}}

        return stop, "serving.stop", {"reason": reason or ""}
    if action == "resume":
        return (lambda s: {**s, "stopped": False, "stop": None}), "serving.resume", {}
    if action == "weights":
        weights = body.get("weights")
        if not isinstance(weights, dict) or not weights:
            raise InvalidInput("send {'weights': {'name@version': weight, ...}}", field="weights")
        for ref, w in weights.items():
            if ref not in models:
                raise InvalidInput(
                    f"{str(ref)[:80]} is not a variant of this deployment (variants: {', '.join(models)})", field="weights"
                )
            if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 100:
                raise InvalidInput(f"the weight of {ref} must be a whole number from 0 to 100", field="weights")
        if sum(int(weights.get(m, v["weight"])) for m, v in zip(models, state["spec"]["variants"], strict=True)) <= 0:
            raise InvalidInput("the weights would add up to 0", field="weights")

        def reweight(s: State) -> State:
            for v in s["spec"]["variants"]:
                v["weight"] = int(weights.get(v["model"], v["weight"]))
            return s

        return reweight, "deployment.weights", {"weights": weights}
    if action in ("disable", "enable"):
        ref = body.get("model")
        if ref not in models:
            raise InvalidInput(f"'model' must name a variant of this deployment ({', '.join(models)})", field="model")

        def toggle(s: State) -> State:
            off = set(s.get("disabled") or [])
            (off.add if action == "disable" else off.discard)(str(ref))
            return {**s, "disabled": sorted(off)}

        return toggle, f"deployment.variant_{action}", {"model": ref}
    raise InvalidInput(f"no admin action {action[:40]!r}", hint="stop, resume, weights, disable, enable", field="action")
