"""Evaluation cost: 100,000 rows, 2 sensitive features (plus their intersection), 200 bootstrap rounds.

Compares ``ws.evaluation.evaluate`` (metrics + 95% bootstrap intervals + fairlearn MetricFrames +
plots + storage + audit) with the bare calls a careful analyst would make without intervals:
``model.predict``/``predict_proba``, the scikit-learn metric functions and one fairlearn
``MetricFrame`` per sensitive feature and for the intersection. Also prints what the intervals
alone cost, vectorised, against a plain loop calling scikit-learn per round (extrapolated).

Run: ``python benchmarks/bench_eval.py [--rows 100000] [--rounds 200] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
from sklearn import metrics as skm
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklego.datasets import load_arrests

import jupyter_mlops as mlops
from jupyter_mlops.evaluation.inputs import prepare
from jupyter_mlops.evaluation.metrics import bootstrap, point_metrics

warnings.filterwarnings("ignore")


def data(rows: int) -> tuple[object, pd.DataFrame, pd.Series]:
    df = load_arrests(as_frame=True)
    X, y = df.drop(columns="released"), df["released"]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["colour", "sex", "employed", "citizen"]),
            (StandardScaler(), ["year", "age", "checks"]),
        ),
        LogisticRegression(max_iter=1000),
    ).fit(X, y)
    rng = np.random.default_rng(0)
    take = rng.integers(0, len(df), rows)
    big = df.iloc[take].reset_index(drop=True)
    big["age"] = big["age"] + rng.integers(-2, 3, rows)  # not just copies of 5,226 rows
    return model, big.drop(columns="released"), big["released"]


def bare(model: object, X: pd.DataFrame, y: pd.Series) -> None:
    pred = model.predict(X)  # type: ignore[attr-defined]
    proba = model.predict_proba(X)[:, 1]  # type: ignore[attr-defined]
    yt = (y == "Yes").to_numpy().astype(int)
    yp = (pred == "Yes").astype(int)
    for fn in (skm.accuracy_score, skm.balanced_accuracy_score, skm.precision_score, skm.recall_score, skm.f1_score):
        fn(yt, yp)
    skm.roc_auc_score(yt, proba)
    skm.log_loss(yt, proba)
    skm.brier_score_loss(yt, proba)
    fns = {
        "count": count,
        "selection_rate": selection_rate,
        "accuracy": skm.accuracy_score,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
    }
    for sf in (X["colour"], X["sex"], X[["colour", "sex"]]):
        mf = MetricFrame(metrics=fns, y_true=yt, y_pred=yp, sensitive_features=sf)
        mf.difference()
        mf.ratio()


def timed(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    model, X, y = data(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        ws = mlops.init(Path(tmp) / "bench", user="bench")
        kwargs = {"sensitive_features": ["colour", "sex"], "n_bootstrap": args.rounds}
        ws.evaluation.evaluate(model, X.head(500), y.head(500), **kwargs)  # warm imports
        bare(model, X.head(500), y.head(500))

        t_bare = timed(lambda: bare(model, X, y), args.repeat)
        t_eval = timed(lambda: ws.evaluation.evaluate(model, X, y, **kwargs), args.repeat)
        t_eval_np = timed(lambda: ws.evaluation.evaluate(model, X, y, plots=False, **kwargs), args.repeat)
        t_no_ci = timed(
            lambda: ws.evaluation.evaluate(model, X, y, sensitive_features=["colour", "sex"], n_bootstrap=0, plots=False),
            args.repeat,
        )

        p = prepare(model, X, y)
        t_boot = timed(lambda: bootstrap(p, n_bootstrap=args.rounds, seed=0), args.repeat)
        loop_rounds = 10
        rng = np.random.default_rng(0)

        def loop() -> None:
            from jupyter_mlops.evaluation.metrics import Prepared

            for _ in range(loop_rounds):
                i = rng.integers(0, p.n, p.n)
                point_metrics(Prepared(p.task, p.y_true[i], p.y_pred[i], None if p.proba is None else p.proba[i], p.classes))

        t_loop = timed(loop, 1) * args.rounds / loop_rounds

    print(
        f"rows={args.rows:,}  sensitive features=2 (+1 intersection)  bootstrap rounds={args.rounds}  (median of {args.repeat})"
    )
    print(f"bare sklearn metrics + fairlearn MetricFrames, no intervals : {t_bare:8.3f} s")
    print(f"evaluate (intervals, fairness, plots, storage, audit)      : {t_eval:8.3f} s   ratio {t_eval / t_bare:5.2f}x")
    print(f"evaluate without plots                                     : {t_eval_np:8.3f} s   ratio {t_eval_np / t_bare:5.2f}x")
    print(f"evaluate without intervals and plots                       : {t_no_ci:8.3f} s   ratio {t_no_ci / t_bare:5.2f}x")
    print(f"bootstrap intervals alone, vectorised ({args.rounds} rounds, 8 metrics): {t_boot:8.3f} s")
    print(
        f"same with a loop of scikit-learn calls (extrapolated from {loop_rounds}): {t_loop:8.3f} s   speed-up {t_loop / t_boot:5.1f}x"
    )


if __name__ == "__main__":
    main()
