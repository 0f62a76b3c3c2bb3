"""Pass/fail thresholds on metrics and disparities, parsed before anything is computed.

``{"accuracy": 0.7, "demographic_parity_ratio": 0.8, "equalized_odds_difference": ("<=", 0.1)}``:
a bare number uses the metric's natural direction (``>=`` for scores and ratios, ``<=`` for
losses and differences); a disparity is checked at its worst across every sensitive feature and
intersection, or for one of them with ``"demographic_parity_ratio[colour]"``. Unknown names are
refused up front with a "did you mean", so a typo cannot silently pass.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput
from .fairness import DISPARITY_DIRECTION
from .metrics import LOWER_IS_BETTER, METRIC_NAMES

__all__ = ["Threshold", "check", "parse_thresholds"]

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_DISPARITIES = {
    "binary": ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference"),
    "multiclass": ("accuracy_difference",),
    "regression": ("mae_difference",),
}
_KEY_RE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)(?:\[(?P<feature>[^\]]+)\])?$")


@dataclasses.dataclass(frozen=True)
class Threshold:
    """One parsed threshold: ``name op limit``, on a metric or on a disparity (optionally of one feature)."""

    key: str
    name: str
    op: str
    limit: float
    feature: str | None = None

    @property
    def is_disparity(self) -> bool:
        return self.name in DISPARITY_DIRECTION


def parse_thresholds(thresholds: Any, task: str, features: list[str]) -> list[Threshold]:
    """Validate ``thresholds`` for ``task`` and the sensitive ``features`` given (raises :class:`InvalidInput`)."""
    if thresholds is None:
        return []
    if not isinstance(thresholds, dict):
        raise InvalidInput(
            f"thresholds must be a dict, got {type(thresholds).__name__}",
            hint='e.g. {"accuracy": 0.7, "equalized_odds_difference": ("<=", 0.1)}',
            field="thresholds",
        )
    known = [*METRIC_NAMES[task], *_DISPARITIES[task]]
    keys = list(features) + [f"{a} x {b}" for i, a in enumerate(features) for b in features[i + 1 :]]
    out: list[Threshold] = []
    for key, spec in thresholds.items():
        m = _KEY_RE.match(key) if isinstance(key, str) else None
        name = m.group("name") if m else str(key)
        if m is None or name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            raise InvalidInput(
                f"unknown threshold {key!r} for a {task} model",
                value=str(key)[:80],
                hint=(f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(known)}",
                field="thresholds",
            )
        feature = m.group("feature")
        if name in DISPARITY_DIRECTION:
            if not features:
                raise InvalidInput(f"threshold {key!r} needs sensitive_features", value=key, field="thresholds")
            if feature is not None and feature not in keys:
                raise InvalidInput(
                    f"threshold {key!r} names {feature!r}, which is not a sensitive feature here",
                    value=feature,
                    hint=f"use one of {', '.join(keys)}",
                    field="thresholds",
                )
            default_op = DISPARITY_DIRECTION[name]
        elif feature is not None:
            raise InvalidInput(f"threshold {key!r}: only disparities take a [feature]", value=key, field="thresholds")
        else:
            default_op = "<=" if name in LOWER_IS_BETTER else ">="
        op, limit = default_op, spec
        if isinstance(spec, (tuple, list)):
            if len(spec) != 2 or spec[0] not in _OPS:
                raise InvalidInput(
                    f"threshold {key!r} must be a number or (op, number) with op one of <=, >=, <, >",
                    value=repr(spec)[:80],
                    field="thresholds",
                )
            op, limit = spec
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(float(limit)):
            raise InvalidInput(
                f"threshold {key!r} needs a finite number, got {limit!r}", value=repr(limit)[:80], field="thresholds"
            )
        out.append(Threshold(key=key, name=name, op=op, limit=float(limit), feature=feature))
    return out


def check(
    items: list[Threshold],
    metrics: dict[str, float | None],
    fairness: dict[str, Any] | None,
) -> tuple[list[dict[str, Any]], bool | None]:
    """Each threshold's outcome and the overall verdict (``None`` when there are no thresholds)."""
    results: list[dict[str, Any]] = []
    for t in items:
        value: float | None
        where = None
        if t.is_disparity:
            if t.feature is not None:
                value = ((fairness or {}).get("by_feature", {}).get(t.feature) or {}).get("disparities", {}).get(t.name)
                where = t.feature
            else:
                worst = (fairness or {}).get("worst", {}).get(t.name) or {}
                value, where = worst.get("value"), worst.get("feature")
        else:
            value = metrics.get(t.name)
        if value is None:
            ok, reason = False, f"{t.name} is undefined or was not computed for this model"
        else:
            ok = _OPS[t.op](value, t.limit)
            reason = f"worst group split: {where}" if where and t.feature is None else ""
        results.append({"name": t.key, "op": t.op, "limit": t.limit, "value": value, "passed": bool(ok), "reason": reason})
    return results, (all(r["passed"] for r in results) if results else None)
