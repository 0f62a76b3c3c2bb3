"""Per-group metrics and disparities, computed with fairlearn's ``MetricFrame``.

One ``MetricFrame`` per sensitive feature and one per pair of features (their intersection, e.g.
colour x sex). Disparities are read off that frame with fairlearn's own aggregations, so they
equal ``fairlearn.metrics.demographic_parity_difference`` / ``_ratio`` and
``equalized_odds_difference`` (``method="between_groups"``, ``agg="worst_case"``) computed
directly. Groups too small to trust are flagged, never dropped, and a ratio whose denominator is
zero is reported as undefined instead of dividing by zero.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import TYPE_CHECKING, Any

from .metrics import Prepared

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DISPARITY_DIRECTION", "MIN_GROUP_SIZE", "group_fairness"]

#: Groups with fewer rows than this are flagged as too small to trust.
MIN_GROUP_SIZE = 30

#: Disparity name -> the comparison a threshold uses by default.
DISPARITY_DIRECTION: dict[str, str] = {
    "demographic_parity_difference": "<=",
    "demographic_parity_ratio": ">=",
    "equalized_odds_difference": "<=",
    "accuracy_difference": "<=",
    "mae_difference": "<=",
}


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _metric_fns(task: str) -> dict[str, Any]:
    import numpy as np
    from fairlearn.metrics import count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score, mean_absolute_error

    if task == "binary":
        return {
            "count": count,
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
        }
    if task == "multiclass":
        return {"count": count, "accuracy": accuracy_score}

    def mean_prediction(y_true: Any, y_pred: Any) -> float:
        return float(np.mean(y_pred))

    return {"count": count, "mae": mean_absolute_error, "mean_prediction": mean_prediction}


def _group_label(key: Any, names: list[str]) -> tuple[dict[str, str], str]:
    parts = key if isinstance(key, tuple) else (key,)
    group = {n: str(v) for n, v in zip(names, parts, strict=False)}
    return group, ", ".join(f"{k}={v}" for k, v in group.items())


def _one(p: Prepared, features: pd.DataFrame, names: list[str], min_group_size: int) -> dict[str, Any]:
    import numpy as np
    from fairlearn.metrics import MetricFrame

    fns = _metric_fns(p.task)
    sf = features[names[0]] if len(names) == 1 else features[names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(metrics=fns, y_true=p.y_true, y_pred=p.y_pred, sensitive_features=sf)
        by_group = mf.by_group
        overall = mf.overall
        diff = mf.difference(method="between_groups")
        ratio = mf.ratio(method="between_groups")
    groups: list[dict[str, Any]] = []
    notes: list[str] = []
    for key, row in by_group.iterrows():
        group, label = _group_label(key, names)
        rows = int(row["count"])
        entry: dict[str, Any] = {"group": group, "label": label, "count": rows}
        entry.update({m: _num(row[m]) for m in fns if m != "count"})
        small = rows < min_group_size
        entry["small"] = small
        if small:
            notes.append(f"group {label} has only {rows} row{'s' if rows != 1 else ''}: its rates are not reliable")
        if p.task == "binary":
            mask = np.ones(p.n, dtype=bool)
            for n_, v in group.items():
                mask &= features[n_].to_numpy() == v
            positives = int(p.y_true[mask].sum())
            entry["positives"] = positives
            if positives == 0:
                notes.append(f"group {label} has no positive labels: its true positive rate is undefined (counted as 0)")
            if positives == rows:
                notes.append(f"group {label} has no negative labels: its false positive rate is undefined (counted as 0)")
        groups.append(entry)
    result: dict[str, Any] = {
        "features": names,
        "overall": {m: _num(overall[m]) for m in fns if m != "count"},
        "groups": groups,
        "disparities": {},
        "warnings": notes,
    }
    disp: dict[str, float | None] = {}
    if p.task == "binary":
        disp["demographic_parity_difference"] = _num(diff["selection_rate"])
        top = _num(by_group["selection_rate"].max())
        if top is None or top == 0:
            disp["demographic_parity_ratio"] = None
            notes.append(f"demographic parity ratio over {' x '.join(names)} is undefined: no group has any positive prediction")
        else:
            disp["demographic_parity_ratio"] = _num(ratio["selection_rate"])
        tpr, fpr = _num(diff["true_positive_rate"]), _num(diff["false_positive_rate"])
        disp["equalized_odds_difference"] = None if tpr is None or fpr is None else max(tpr, fpr)
    elif p.task == "multiclass":
        disp["accuracy_difference"] = _num(diff["accuracy"])
    else:
        disp["mae_difference"] = _num(diff["mae"])
    result["disparities"] = disp
    if len(groups) < 2:
        notes.append(f"{' x '.join(names)} has a single group: disparities are 0 by construction")
    return result


def group_fairness(p: Prepared, features: pd.DataFrame, *, min_group_size: int = MIN_GROUP_SIZE) -> dict[str, Any]:
    """Per-group metrics and disparities for each feature and each pair of features.

    Returns ``{"by_feature": {key: result}, "worst": {disparity: {"value", "feature"}}}`` where
    ``key`` is the feature name or ``"a x b"`` for an intersection, and ``worst`` holds the largest
    difference (smallest ratio) across all keys. Binary labels are compared as the positive
    class (1) vs the rest, as fairlearn expects.
    """
    names = list(features.columns)
    keys: list[list[str]] = [[n] for n in names] + [list(pair) for pair in itertools.combinations(names, 2)]
    by_feature = {" x ".join(k): _one(p, features, k, min_group_size) for k in keys}
    worst: dict[str, dict[str, Any]] = {}
    for key, res in by_feature.items():
        for name, value in res["disparities"].items():
            if value is None:
                continue
            better_low = DISPARITY_DIRECTION.get(name, "<=") == "<="
            cur = worst.get(name)
            if cur is None or (value > cur["value"] if better_low else value < cur["value"]):
                worst[name] = {"value": value, "feature": key}
    return {"by_feature": by_feature, "worst": worst, "min_group_size": min_group_size}
