"""Evaluation plots as PNG bytes: ROC, calibration, predicted vs actual, per-group bars.

Figures are drawn on matplotlib's Agg canvas through ``matplotlib.figure.Figure`` directly, never
``pyplot``: no global figure state, no GUI back-end, safe in a kernel, a scheduler or a thread.
The bytes are stored as run artifacts and embedded inline (base64) in the report's HTML.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from .metrics import Prepared

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["evaluation_plots"]

_DPI = 80
_MAX_SCATTER = 3000


def _figure(width: float = 5.0, height: float = 4.0) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    return fig, ax


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


def _roc(p: Prepared) -> bytes | None:
    import numpy as np
    from sklearn.metrics import roc_curve

    if p.proba is None:
        return None
    fig, ax = _figure()
    curves: list[tuple[str, Any, Any]] = []
    if p.task == "binary":
        if len(np.unique(p.y_true)) < 2:
            return None
        fpr, tpr, _ = roc_curve(p.y_true, p.proba)
        curves.append((f"positive = {p.classes[1]}", fpr, tpr))
    else:
        for k, cls in enumerate(p.classes):
            truth = p.y_true == k
            if 0 < truth.sum() < p.n:
                fpr, tpr, _ = roc_curve(truth, p.proba[:, k])
                curves.append((f"{cls} vs rest", fpr, tpr))
    if not curves:
        return None
    for label, fpr, tpr in curves:
        ax.plot(fpr, tpr, label=label[:40])
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC")
    ax.legend(loc="lower right", fontsize="small")
    return _png(fig)


def _calibration(p: Prepared) -> bytes | None:
    import numpy as np
    from sklearn.calibration import calibration_curve

    if p.task != "binary" or p.proba is None or p.proba_is_score or len(np.unique(p.y_true)) < 2:
        return None
    frac_pos, mean_pred = calibration_curve(p.y_true, p.proba, n_bins=10, strategy="quantile")
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="perfectly calibrated")
    ax.plot(mean_pred, frac_pos, marker="o", label="model")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("fraction of positives")
    ax.set_title("Calibration (quantile bins)")
    ax.legend(loc="upper left", fontsize="small")
    return _png(fig)


def _predicted_vs_actual(p: Prepared) -> bytes | None:
    import numpy as np

    if p.task != "regression":
        return None
    rng = np.random.default_rng(0)
    take = rng.choice(p.n, size=min(p.n, _MAX_SCATTER), replace=False)
    fig, ax = _figure()
    ax.scatter(p.y_true[take], p.y_pred[take], s=6, alpha=0.5)
    lo = float(min(p.y_true.min(), p.y_pred.min()))
    hi = float(max(p.y_true.max(), p.y_pred.max()))
    ax.plot([lo, hi], [lo, hi], linestyle="--", color="grey", linewidth=0.8)
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.set_title("Predicted vs actual")
    return _png(fig)


def _group_bars(key: str, result: dict[str, Any], task: str) -> bytes | None:
    metric = {"binary": "selection_rate", "multiclass": "accuracy"}.get(task, "mae")
    groups = result.get("groups", [])
    if not groups:
        return None
    labels = [g["label"][:40] for g in groups]
    values = [g.get(metric) if g.get(metric) is not None else 0.0 for g in groups]
    colours = ["#d08770" if g.get("small") else "#5e81ac" for g in groups]
    fig, ax = _figure(6.0, max(2.0, 0.35 * len(groups) + 1.2))
    bars = ax.barh(range(len(groups)), values, color=colours)
    ax.set_yticks(range(len(groups)))
    ax.set_yticklabels(labels, fontsize="small")
    ax.invert_yaxis()
    for bar, g in zip(bars, groups, strict=False):
        ax.annotate(f" n={g['count']}", (bar.get_width(), bar.get_y() + bar.get_height() / 2), va="center", fontsize="x-small")
    overall = result.get("overall", {}).get(metric)
    if overall is not None:
        ax.axvline(overall, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel(metric.replace("_", " ") + " (orange: small group, dashed: overall)")
    ax.set_title(f"{metric.replace('_', ' ')} by {key}"[:80])
    return _png(fig)


def evaluation_plots(p: Prepared, fairness: dict[str, Any] | None) -> dict[str, bytes]:
    """Every plot that applies to ``p``, as ``{name: PNG bytes}`` (names are file-name safe)."""
    import re

    out: dict[str, bytes] = {}
    for name, draw in (("roc", _roc), ("calibration", _calibration), ("predicted_vs_actual", _predicted_vs_actual)):
        png = draw(p)
        if png is not None:
            out[name] = png
    for key, result in (fairness or {}).get("by_feature", {}).items():
        png = _group_bars(key, result, p.task)
        if png is not None:
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:60]
            out[f"groups_{safe}"] = png
    return out
