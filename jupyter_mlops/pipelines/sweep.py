"""Sweeps: pick the best of a stage's grid runs by its named metric.

The grid itself fans out in :mod:`.runner` (each combination is a separate, separately cached
stage run); this module decides which run is passed downstream. A sweep whose runs did not all
succeed, or where no run recorded the metric, selects nothing and fails the stage with a reason.
"""

from __future__ import annotations

from typing import Any

from .execute import Outcome
from .spec import StageSpec

__all__ = ["select_best"]


def select_best(stage: StageSpec, recs: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    """The selected record (``None`` when the stage failed) and the reason when it failed."""
    ok = [r for r in recs if r["outcome"] in (Outcome.SUCCEEDED.value, Outcome.CACHED.value)]
    if stage.sweep is None:
        return (ok[0], "") if ok else (None, recs[0]["message"] if recs else "")
    if len(ok) < len(recs):
        bad = [r for r in recs if r not in ok]
        return None, f"{len(bad)} of {len(recs)} sweep runs did not succeed: {bad[0]['message']}"
    metric = stage.sweep.metric
    scored = [r for r in ok if metric in (r.get("metrics") or {})]
    if not scored:
        seen = sorted({k for r in ok for k in (r.get("metrics") or {})})
        return None, (
            f"no sweep run recorded the selection metric {metric!r} "
            f"(they recorded: {', '.join(seen) if seen else 'no metrics'}); log it with mlops.log_metric({metric!r}, ...)"
        )
    pick = max if stage.sweep.mode == "max" else min
    return pick(scored, key=lambda r: float(r["metrics"][metric])), ""
