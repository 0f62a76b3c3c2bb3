"""What serving returns: a deployment's status, a prediction's trace, a monitoring report."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..core.entities import Entity, escape

__all__ = ["DeploymentStatus", "MonitorReport", "Trace"]


@dataclasses.dataclass(frozen=True)
class DeploymentStatus(Entity):
    """A deployment's current state and its changes, newest first."""

    name: str
    state: dict[str, Any]
    changes: tuple[dict[str, Any], ...] = ()

    def __str__(self) -> str:
        s = self.state
        lines = [f"deployment {self.name} (revision {s.get('revision')}){'  STOPPED' if s.get('stopped') else ''}"]
        if s.get("stopped"):
            stop = s.get("stop") or {}
            lines.append(f"  stop switch on since {stop.get('ts')} by {stop.get('actor')}: {stop.get('reason') or '-'}")
        for v in s["spec"]["variants"]:
            off = " (disabled)" if v["model"] in (s.get("disabled") or []) else ""
            lines.append(f"  {v['role']:<7} {v['model']:<32} weight {v['weight']:>3}{off}")
        for v in s["spec"].get("shadow", []):
            lines.append(f"  shadow  {v['model']}")
        for c in self.changes[:10]:
            lines.append(f"  r{c['revision']:<4} {c['ts'][:19]} {c['action']:<34} by {c['actor']}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Trace(Entity):
    """One prediction's chain: prediction -> model version -> review -> run -> notebook cell -> data."""

    request_id: str
    steps: tuple[dict[str, Any], ...]

    def step(self, kind: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s.get("step") == kind), None)

    def __str__(self) -> str:
        out = [f"trace of request {self.request_id}"]
        for s in self.steps:
            fields = ", ".join(f"{k}={v}" for k, v in s.items() if k != "step" and v not in (None, [], {}))
            out.append(f"  {s['step']:<12} {fields}")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(s['step'])}</th><td>"
            + "<br>".join(f"{escape(k)}: <code>{escape(v)}</code>" for k, v in s.items() if k != "step")
            + "</td></tr>"
            for s in self.steps
        )
        return f"<div><b>Trace of request {escape(self.request_id)}</b><table>{rows}</table></div>"


@dataclasses.dataclass(frozen=True)
class MonitorReport(Entity):
    """Traffic, latency, split, drift, labelled accuracy and alerts of one deployment."""

    deployment: str
    window: dict[str, Any]
    totals: dict[str, Any]
    variants: tuple[dict[str, Any], ...]
    drift: tuple[dict[str, Any], ...]
    dataset_drift: bool | None
    drift_reference: str | None
    alerts: tuple[dict[str, Any], ...]
    stopped: bool = False

    def __str__(self) -> str:
        t = self.totals
        lines = [
            f"deployment {self.deployment}{' (STOPPED)' if self.stopped else ''}: {t['requests']} requests, "
            f"{t['errors']} errors, {t['client_errors']} rejected inputs, "
            f"p50 {t['p50_ms']} ms, p95 {t['p95_ms']} ms, p99 {t['p99_ms']} ms"
        ]
        for v in self.variants:
            acc = f", accuracy {v['accuracy']:.3f} on {v['labels']} labels" if v.get("accuracy") is not None else ""
            lines.append(
                f"  {v['model_version']:<28} {v['share']:>6.1%} of traffic, {v['requests']} requests, "
                f"{v['errors']} errors, p99 {v['p99_ms']} ms{acc}"
            )
        if self.drift_reference:
            flag = "DRIFT" if self.dataset_drift else "no dataset drift"
            lines.append(f"  drift against {self.drift_reference}: {flag}")
            for d in self.drift:
                stat = "-" if d.get("statistic") is None else f"{d['statistic']:.4f}"
                lines.append(
                    f"    {d['feature']:<16} {d['method']:<12} {stat:>8} {'drift' if d.get('drift') else d.get('note', 'ok')}"
                )
        for a in self.alerts[:10]:
            lines.append(f"  alert {a['ts'][:19]} {a['action']} {a.get('metric')} {a.get('variant') or ''}")
        return "\n".join(lines)
