"""Data drift per feature, with scipy, against the training data version's snapshot.

The tests and thresholds follow the defaults practitioners know from Evidently (which is heavy
to install for four formulas; whylogs is abandoned):

- reference up to 1,000 rows: two-sample Kolmogorov-Smirnov for numeric columns and Pearson's
  chi-square (current counts against the reference proportions) for categorical columns; a
  feature drifts when p < 0.05;
- reference above 1,000 rows: the Wasserstein distance divided by the reference's standard
  deviation ("normed") for numeric columns and the Jensen-Shannon distance (base 2) for
  categorical columns; a feature drifts when the distance is at least 0.1;
- the data set drifts when at least half of its features drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["DRIFT_SHARE", "SMALL_REFERENCE", "dataset_drift", "feature_drift"]

SMALL_REFERENCE = 1000
P_VALUE = 0.05
DISTANCE = 0.1
DRIFT_SHARE = 0.5


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def feature_drift(feature: str, reference: Sequence[Any], current: Sequence[Any]) -> dict[str, Any]:
    """The drift test of one feature: method, statistic, p-value (small references), threshold, drift."""
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    ref = [v for v in reference if v is not None]
    cur = [v for v in current if v is not None]
    out: dict[str, Any] = {"feature": feature, "reference_rows": len(ref), "current_rows": len(cur)}
    if not ref or not cur:
        return {**out, "method": "none", "statistic": None, "p_value": None, "threshold": None, "drift": None, "note": "no data"}
    small = len(ref) <= SMALL_REFERENCE
    if _numeric(ref) and _numeric(cur):
        r, c = np.asarray(ref, dtype=float), np.asarray(cur, dtype=float)
        if small:
            res = stats.ks_2samp(r, c)
            return {
                **out,
                "kind": "numeric",
                "method": "ks",
                "statistic": float(res.statistic),
                "p_value": float(res.pvalue),
                "threshold": P_VALUE,
                "drift": bool(res.pvalue < P_VALUE),
            }
        scale = float(np.std(r)) or 1.0
        dist = float(stats.wasserstein_distance(r, c)) / scale
        return {
            **out,
            "kind": "numeric",
            "method": "wasserstein",
            "statistic": dist,
            "p_value": None,
            "threshold": DISTANCE,
            "drift": bool(dist >= DISTANCE),
        }
    cats = sorted({str(v) for v in ref} | {str(v) for v in cur})
    ref_counts = np.array([sum(1 for v in ref if str(v) == k) for k in cats], dtype=float)
    cur_counts = np.array([sum(1 for v in cur if str(v) == k) for k in cats], dtype=float)
    if small:
        # expected counts from the reference proportions, smoothed so a category unseen in training
        # gives a large statistic instead of a division by zero
        expected = (ref_counts + 0.5) / (ref_counts + 0.5).sum() * cur_counts.sum()
        res = stats.chisquare(cur_counts, expected)
        return {
            **out,
            "kind": "categorical",
            "method": "chi_square",
            "statistic": float(res.statistic),
            "p_value": float(res.pvalue),
            "threshold": P_VALUE,
            "drift": bool(res.pvalue < P_VALUE),
        }
    dist = float(jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum(), base=2))
    return {
        **out,
        "kind": "categorical",
        "method": "jensen_shannon",
        "statistic": dist,
        "p_value": None,
        "threshold": DISTANCE,
        "drift": bool(dist >= DISTANCE),
    }


def dataset_drift(features: Sequence[dict[str, Any]]) -> bool | None:
    """True when at least half of the tested features drift (``None`` when none could be tested)."""
    tested = [f for f in features if f.get("drift") is not None]
    if not tested:
        return None
    return sum(1 for f in tested if f["drift"]) >= DRIFT_SHARE * len(tested)
