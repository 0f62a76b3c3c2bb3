"""Which way a metric is better: one rule for every table, chart and sort of the project.

Losses, errors, Brier scores, log losses, false-positive and false-negative rates, disparities
(differences between groups) and durations are better when lower; everything else (accuracy, AUC,
F1, recall, parity *ratios* ...) when higher. Tables sort a metric best first with this rule, so
"sorted by brier" puts the lowest Brier score on top.
"""

from __future__ import annotations

import re

__all__ = ["is_internal_metric", "lower_is_better"]

_LOWER = re.compile(
    r"(loss|error|brier|logloss|log_loss|mse|mae|rmse|mape|perplexity|false_positive|false_negative|"
    r"\bfpr\b|\bfnr\b|fall_out|miss_rate|disparit|difference|_diff\b|gap|latency|duration|seconds|_time\b|regret)",
    re.IGNORECASE,
)


def lower_is_better(metric: str) -> bool:
    """Whether smaller values of ``metric`` are better (``"log_loss"``: True, ``"accuracy"``: False).

    Parameters
    ----------
    metric
        A metric name as logged (``"val_loss"``, ``"brier"``, ``"demographic_parity_difference"``).
    """
    name = metric.rsplit("/", 1)[-1]
    if name.endswith("_ratio"):
        return False
    return bool(_LOWER.search(name))


def is_internal_metric(metric: str) -> bool:
    """Whether ``metric`` is jupyter-mlops bookkeeping (``mlops.*``), hidden from tables unless asked for."""
    return metric.startswith("mlops.")
