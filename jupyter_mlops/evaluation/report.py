"""The :class:`EvaluationReport` entity: what an evaluation found, as data, text and HTML.

The same object is returned by ``mlops.evaluate``, stored as JSON in the object store, logged to
the active run, read back by model cards and the review, and shown in notebooks. Its HTML is
self-contained (plots are inline base64 PNGs, styles inline, no scripts, no external assets) and
every string that came from a user or a data set (class labels, group values, feature names,
model names) goes through :func:`~jupyter_mlops.core.entities.escape`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..core.entities import Entity, escape

__all__ = ["EvaluationReport"]

_OK = "#1a7f37"
_BAD = "#cf222e"
_WARN = "#9a6700"


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)
    return str(value)


def _badge(passed: bool | None) -> str:
    if passed is None:
        return "<span style='color:#555'>no thresholds</span>"
    colour, text = (_OK, "&#10003; PASSED") if passed else (_BAD, "&#10007; FAILED")
    return f"<b style='color:{colour}'>{text}</b>"


@dataclasses.dataclass(frozen=True)
class EvaluationReport(Entity):
    """One evaluation of a model on a labelled data set.

    Attributes
    ----------
    eval_id:
        The evaluation's id (hex).
    task:
        ``binary``, ``multiclass`` or ``regression``.
    metrics:
        ``{name: {"value", "ci_low", "ci_high"}}``; ``value`` from scikit-learn, the interval a
        percentile bootstrap (``n_bootstrap`` rounds, ``confidence``).
    fairness:
        Per sensitive feature and pair of features: per-group metrics and counts, disparities,
        warnings; ``worst`` holds the worst disparity across them. ``None`` without sensitive features.
    baseline:
        ``{"ref", "label", "note", "metrics", "deltas", "disparities"}``: ``ref`` is the registered
        version compared with (``None`` for an unregistered model object), ``label`` what is shown;
        without a baseline only ``note`` is set, saying why.
    thresholds:
        One entry per threshold: ``name``, ``op``, ``limit``, ``value``, ``passed``, ``reason``.
    passed:
        Every threshold passed (``None`` when none were given).
    plots:
        ``{name: base64 PNG}``; ``plot_objects`` holds the object-store id of each PNG.
    """

    eval_id: str
    task: str
    n_rows: int
    model_type: str
    metrics: dict[str, dict[str, float | None]]
    model_version: str | None = None
    classes: tuple[str, ...] = ()
    positive_label: str | None = None
    n_bootstrap: int = 0
    seed: int = 0
    confidence: float = 0.95
    fairness: dict[str, Any] | None = None
    baseline: dict[str, Any] = dataclasses.field(default_factory=dict)
    thresholds: tuple[dict[str, Any], ...] = ()
    passed: bool | None = None
    warnings: tuple[str, ...] = ()
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    run_id: str | None = None
    actor: str = ""
    created: str = ""
    plots: dict[str, str] = dataclasses.field(default_factory=dict)
    plot_objects: dict[str, str] = dataclasses.field(default_factory=dict)

    # -- convenience ------------------------------------------------------------------------
    def metric(self, name: str) -> float | None:
        """The point value of metric ``name`` (``None`` if undefined or not computed)."""
        return (self.metrics.get(name) or {}).get("value")

    def disparity(self, name: str, feature: str | None = None) -> float | None:
        """A disparity for one feature (``"colour"``, ``"colour x sex"``) or the worst across all."""
        if not self.fairness:
            return None
        if feature is None:
            return (self.fairness.get("worst", {}).get(name) or {}).get("value")
        result = self.fairness.get("by_feature", {}).get(feature)
        return None if result is None else result.get("disparities", {}).get(name)

    def plot_png(self, name: str) -> bytes:
        """The PNG bytes of plot ``name``."""
        import base64

        return base64.b64decode(self.plots[name])

    def to_dict(self, *, include_plots: bool = True) -> dict[str, Any]:
        """JSON-safe dict; ``include_plots=False`` leaves out the base64 images (short CLI output)."""
        out = super().to_dict()
        if not include_plots:
            out["plots"] = {}
        return out

    # -- text -------------------------------------------------------------------------------
    def __str__(self) -> str:
        head = f"evaluation {self.eval_id[:12]} ({self.task}, {self.n_rows} rows) of {self.model_version or self.model_type}"
        lines = [head]
        for name, m in self.metrics.items():
            ci = ""
            if m.get("ci_low") is not None:
                ci = f"  [{_fmt(m.get('ci_low'))}, {_fmt(m.get('ci_high'))}]"
            delta = (self.baseline.get("deltas") or {}).get(name)
            dtext = f"  delta {delta:+.4g}" if isinstance(delta, float) else ""
            lines.append(f"  {name:<18} {_fmt(m.get('value')):>8}{ci}{dtext}")
        if self.fairness:
            for name, w in self.fairness.get("worst", {}).items():
                lines.append(f"  {name:<30} {_fmt(w['value'])} (worst: {w['feature']})")
        lines.append(f"  baseline: {self.baseline.get('label') or self.baseline.get('note') or 'none'}")
        for t in self.thresholds:
            lines.append(f"  {'PASS' if t['passed'] else 'FAIL'} {t['name']} {t['op']} {t['limit']} (value {_fmt(t['value'])})")
        if self.passed is not None:
            lines.append("  PASSED" if self.passed else "  FAILED")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    # -- HTML -------------------------------------------------------------------------------
    def _metrics_html(self) -> str:
        deltas = self.baseline.get("deltas") or {}
        base = self.baseline.get("metrics") or {}
        show_base = bool(self.baseline.get("label"))
        head = "<tr><th>metric</th><th>value</th><th>95% interval</th>" + (
            "<th>baseline</th><th>delta</th></tr>" if show_base else "</tr>"
        )
        rows = []
        for name, m in self.metrics.items():
            ci = "n/a" if m.get("ci_low") is None else f"{_fmt(m.get('ci_low'))} &ndash; {_fmt(m.get('ci_high'))}"
            row = f"<tr><td>{escape(name)}</td><td><b>{escape(_fmt(m.get('value')))}</b></td><td>{ci}</td>"
            if show_base:
                d = deltas.get(name)
                row += f"<td>{escape(_fmt(base.get(name)))}</td><td>{escape(f'{d:+.4g}' if isinstance(d, float) else 'n/a')}</td>"
            rows.append(row + "</tr>")
        return f"<table style='border-collapse:collapse'>{head}{''.join(rows)}</table>"

    def _thresholds_html(self) -> str:
        if not self.thresholds:
            return ""
        rows = "".join(
            f"<tr><td>{escape(t['name'])}</td><td>{escape(t['op'])} {escape(_fmt(t['limit']))}</td>"
            f"<td>{escape(_fmt(t['value']))}</td><td style='color:{_OK if t['passed'] else _BAD}'>"
            f"{'pass' if t['passed'] else 'fail'}</td><td>{escape(t.get('reason') or '')}</td></tr>"
            for t in self.thresholds
        )
        head = "<tr><th>check</th><th>limit</th><th>value</th><th></th><th></th></tr>"
        return f"<h4>Thresholds {_badge(self.passed)}</h4><table>{head}{rows}</table>"

    def _fairness_html(self) -> str:
        if not self.fairness:
            return "<h4>Fairness</h4><p>no sensitive features given</p>"
        parts = ["<h4>Fairness (per group, fairlearn MetricFrame)</h4>"]
        for key, res in self.fairness.get("by_feature", {}).items():
            disp = ", ".join(f"{escape(k)} = <b>{escape(_fmt(v))}</b>" for k, v in res.get("disparities", {}).items())
            groups = res.get("groups", [])
            cols = [c for c in (groups[0].keys() if groups else []) if c not in ("group", "label", "small")]
            head = "<tr><th>group</th>" + "".join(f"<th>{escape(c)}</th>" for c in cols) + "</tr>"
            body = "".join(
                "<tr" + (f" style='color:{_WARN}' title='small group'" if g.get("small") else "") + ">"
                f"<td>{escape(g['label'])}{' &#9888;' if g.get('small') else ''}</td>"
                + "".join(f"<td>{escape(_fmt(g.get(c)))}</td>" for c in cols)
                + "</tr>"
                for g in groups
            )
            parts.append(f"<details open><summary><b>{escape(key)}</b>: {disp}</summary><table>{head}{body}</table></details>")
        return "".join(parts)

    def _plots_html(self) -> str:
        imgs = "".join(
            f"<figure style='display:inline-block;margin:4px'><img alt='{escape(name)}' "
            f"src='data:image/png;base64,{escape(b64)}'/><figcaption>{escape(name)}</figcaption></figure>"
            for name, b64 in self.plots.items()
        )
        return f"<h4>Plots</h4><div>{imgs}</div>" if imgs else ""

    def _repr_html_(self) -> str:
        label = self.baseline.get("label")
        base_text = f"compared with <code>{escape(label)}</code>" if label else escape(self.baseline.get("note") or "no baseline")
        classes = f" &middot; classes {escape(', '.join(self.classes))}" if self.classes else ""
        positive = f" &middot; positive class <code>{escape(self.positive_label)}</code>" if self.positive_label else ""
        warn = "".join(f"<li>{escape(w)}</li>" for w in self.warnings)
        return (
            "<div class='mlops-evaluation' style='font-family:sans-serif;font-size:13px'>"
            f"<h3>Evaluation <code>{escape(self.eval_id[:12])}</code> {_badge(self.passed)}</h3>"
            f"<p><b>{escape(self.model_version or self.model_type)}</b> ({escape(self.model_type)}) &middot; "
            f"{escape(self.task)} &middot; {self.n_rows} rows{classes}{positive} &middot; {base_text} &middot; "
            f"by {escape(self.actor)} at {escape(self.created)}"
            + (f" &middot; run <code>{escape(self.run_id)}</code>" if self.run_id else "")
            + "</p>"
            + self._metrics_html()
            + f"<p style='color:#555'>intervals: percentile bootstrap, {self.n_bootstrap} rounds, seed {self.seed}</p>"
            + self._thresholds_html()
            + self._fairness_html()
            + (f"<h4>Warnings</h4><ul style='color:{_WARN}'>{warn}</ul>" if warn else "")
            + self._plots_html()
            + "</div>"
        )

    def to_html(self) -> str:
        """A complete, self-contained HTML document of the report."""
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>Evaluation {escape(self.eval_id[:12])}</title></head><body>{self._repr_html_()}</body></html>"
        )
