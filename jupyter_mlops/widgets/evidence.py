"""The review page's evidence as HTML and charts: card summary, metrics with intervals and verdicts, data, fairness."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.entities import escape
from .charts import Chart, bar_chart
from .common import badge, html_table, humanize, iso_time, kv_table, note, number, section

if TYPE_CHECKING:
    from ..registry.evidence import ReviewEvidence

__all__ = ["evidence_html", "fairness_view"]

GROUP_METRICS = ("selection_rate", "accuracy", "recall", "precision", "true_positive_rate", "false_positive_rate", "count")


def _num(v: Any) -> str:
    return "" if not isinstance(v, (int, float)) or isinstance(v, bool) else number(float(v), 4)


def evidence_html(ev: ReviewEvidence) -> tuple[str, str, str]:
    """The card summary, the metrics (interval, direction, threshold, pass/fail) and the data, as HTML."""
    card = (
        kv_table([(line.title, line.text) for line in ev.card])
        if ev.card
        else note(f"no model card yet: mlops.build_card({ev.ref!r})", "warn")
    )
    card_html = section(f"Model card (version {ev.card_version})" if ev.card_version else "Model card", card)
    if ev.evaluation is None:
        metrics_html = section(
            "Evaluation", note(f"no evaluation of {ev.ref} yet: mlops.evaluate(model, X, y, sensitive_features=...)", "warn")
        )
    else:
        e = ev.evaluation
        verdicts: dict[bool | None, str] = {
            True: badge("\u2713 thresholds passed", "good"),
            False: badge("\u2717 thresholds failed", "bad"),
        }
        verdict = verdicts.get(e.get("passed"), badge("no thresholds set", "none"))
        rows = []
        for m in ev.metrics:
            interval = f"{_num(m.ci_low)}\u2013{_num(m.ci_high)}" if m.ci_low is not None and m.ci_high is not None else ""
            result = ("\u2713 pass" if m.passed else "\u2717 fail" if m.passed is False else "") if m.threshold else ""
            rows.append(
                [humanize(m.name), _num(m.value), interval, "lower" if m.lower_is_better else "higher", m.threshold or "", result]
            )
        confidence = round(float(e.get("confidence") or 0.95) * 100)
        metrics_html = section(
            f"Metrics ({confidence}% bootstrap interval)",
            f"<div>{verdict} <span class='mlops-muted'>{escape(e.get('n_rows'))} rows \u00b7 by {escape(e.get('actor'))} \u00b7 "
            f"{escape(iso_time(e.get('created')))}</span></div>"
            + html_table(["metric", "value", "interval", "better", "threshold", "result"], rows, digits=4)
            + "".join(note(x, "warn") for x in e.get("warnings") or ()),
        )
    data_rows = [
        [
            d.spec,
            d.n_rows,
            ", ".join(d.sensitive) or "none",
            d.quality if d.quality_checks is None else f"{d.quality} ({d.quality_failed} of {d.quality_checks} checks failed)",
            iso_time(d.checked) if d.checked else "",
        ]
        for d in ev.data
    ]
    data_html = section(
        "Trained on",
        html_table(["data version", "rows", "sensitive columns", "quality", "checked"], data_rows)
        if data_rows
        else note("no data version was recorded as read by the training run", "warn"),
    )
    return card_html, metrics_html, data_html


def fairness_view(ev: ReviewEvidence) -> tuple[str, list[Chart]]:
    """Per-group fairness tables (with disparities) and one bar chart per single feature."""
    if ev.evaluation is None:
        return section("Fairness", note("no evaluation yet", "warn")), []
    if not ev.fairness:
        return section("Fairness", note("no sensitive features were given: no fairness results", "warn")), []
    parts = []
    charts: list[Chart] = []
    for f in ev.fairness:
        # the rates a reviewer compares across groups; every metric is in the whole card
        cols = [c for c in GROUP_METRICS if c in f.metrics and c != "count"][:5]
        rows = [
            [g["group"] + (" (small group)" if g.get("small") else ""), g.get("n"), *[g.get(c) for c in cols]] for g in f.groups
        ]
        disp = kv_table([(humanize(k), v) for k, v in f.disparities.items()], digits=4)
        parts.append(
            section(
                f"Fairness by {f.feature}",
                disp
                + html_table(["group", "n", *[humanize(c) for c in cols]], rows, digits=4)
                + "".join(note(x, "warn") for x in f.warnings),
            )
        )
        if " x " not in f.feature and f.groups:
            shown = [c for c in GROUP_METRICS if c in cols][:3]
            if shown:
                charts.append(
                    Chart(
                        spec=bar_chart(
                            f"Group rates by {f.feature}",
                            [g["group"] for g in f.groups],
                            {humanize(c): [g.get(c) for g in f.groups] for c in shown},
                            width=400,
                            height=250,
                        )
                    )
                )
    return "".join(parts), charts
