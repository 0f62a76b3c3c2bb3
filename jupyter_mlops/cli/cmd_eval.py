"""``eval``: evaluate a model from a cell (``%mlops eval clf --data X_test y_test --sensitive colour,sex``)
or a terminal (``jupyter-mlops eval arrests-clf@2 --data arrests-test@1 --target released``).

In the magic, ``MODEL`` and ``--data`` name notebook variables; a value containing ``@`` is a
registered model version (``arrests-clf@3``) or a data version (``arrests-test@1``), which also
works from the terminal. The command only parses and calls ``ws.evaluation.evaluate``.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from .commands import CommandUsageError, Context, Result, split_list

_THRESHOLD_RE = re.compile(
    r"^\s*(?P<name>[A-Za-z][A-Za-z0-9_]*(?:\[[^\]]+\])?)\s*(?P<op><=|>=|<|>|=)\s*(?P<value>[-+0-9.eE]+)\s*$"
)


def register(subs: Any) -> None:
    p = subs.add_parser("eval", help="evaluate a model: metrics with intervals, group fairness, baseline, thresholds")
    p.add_argument("model", metavar="MODEL", help="a notebook variable holding a fitted model, or a version such as name@3")
    p.add_argument(
        "--data",
        nargs="+",
        required=True,
        metavar="X [Y]",
        help="test features and labels: notebook variables, or data versions such as name@1; "
        "one value with --target when it holds the labels",
    )
    p.add_argument("--target", help="the label column of X (instead of Y), e.g. --data arrests-test@1 --target released")
    p.add_argument("--sensitive", help="comma-separated sensitive columns of X, e.g. colour,sex")
    p.add_argument("--model-version", help="the registered version MODEL is, e.g. name@3 (links the evaluation)")
    p.add_argument("--baseline", help="a version to compare with (default: the serving alias); 'none' to skip")
    p.add_argument(
        "--threshold",
        action="append",
        metavar="RULE",
        help="a pass/fail rule such as accuracy>=0.7 or equalized_odds_difference<=0.1 "
        "(repeatable; '=' uses the natural direction)",
    )
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap rounds for the intervals (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    p.set_defaults(func=_eval)


def _value(ctx: Context, name: str) -> Any:
    """A version spec stays a string (resolved by the service); anything else is a notebook variable."""
    if "@" in name:
        return name
    return ctx.resolve_var(name)


def parse_thresholds(rules: list[str] | None) -> dict[str, Any] | None:
    """``["accuracy>=0.7", "demographic_parity_ratio=0.8"]`` -> the ``thresholds`` dict of ``evaluate``."""
    if not rules:
        return None
    out: dict[str, Any] = {}
    for rule in rules:
        m = _THRESHOLD_RE.match(rule)
        if m is None:
            raise CommandUsageError(f"cannot read threshold {rule!r}; write e.g. accuracy>=0.7 or equalized_odds_difference<=0.1")
        try:
            number = float(m.group("value"))
        except ValueError:
            raise CommandUsageError(f"threshold {rule!r} needs a number after the operator") from None
        op = m.group("op")
        out[m.group("name")] = number if op == "=" else (op, number)
    return out


def _eval(ctx: Context, args: argparse.Namespace) -> Result:
    model = _value(ctx, args.model)
    if len(args.data) > 2 or (len(args.data) == 2) == bool(args.target):
        raise CommandUsageError("--data takes X and Y, or X alone with --target COLUMN")
    X = _value(ctx, args.data[0])
    y = _value(ctx, args.data[1]) if len(args.data) == 2 else None
    baseline: Any = None
    if args.baseline:
        baseline = False if args.baseline.lower() == "none" else _value(ctx, args.baseline)
    sensitive = split_list(args.sensitive) or None
    report = ctx.workspace().evaluation.evaluate(
        model,
        X,
        y,
        target=args.target,
        sensitive_features=sensitive,
        baseline=baseline,
        thresholds=parse_thresholds(args.threshold),
        model_version=args.model_version,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        plots=not args.no_plots,
    )
    return Result(report, str(report), exit_code=1 if report.passed is False else 0)
