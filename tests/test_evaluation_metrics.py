"""The vectorised metrics equal scikit-learn, and the vectorised bootstrap equals a plain loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression

from jupyter_mlops.evaluation.inputs import prepare
from jupyter_mlops.evaluation.metrics import Prepared, bootstrap, point_metrics, weighted_metrics


def _binary() -> Prepared:
    rng = np.random.default_rng(1)
    n = 700
    y = rng.integers(0, 2, n)
    score = np.clip(y * 0.3 + rng.normal(0.35, 0.25, n), 0.001, 0.999)
    score[:50] = 0.5  # ties
    return Prepared("binary", y, (score > 0.5).astype(int), score, (0, 1))


def _multiclass() -> Prepared:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=200, C=0.05).fit(X, y)
    return prepare(model, X, y)


def _regression() -> Prepared:
    X, y = load_diabetes(return_X_y=True)
    return prepare(LinearRegression().fit(X[:300], y[:300]), X[300:], y[300:])


@pytest.mark.parametrize("make", [_binary, _multiclass, _regression])
def test_weighted_metrics_with_unit_weights_equal_scikit_learn(make):
    p = make()
    exact = point_metrics(p)
    vectorised = weighted_metrics(p, np.ones((1, p.n)))
    assert set(exact) == set(vectorised)
    for name, value in exact.items():
        assert value is not None
        assert vectorised[name][0] == pytest.approx(value, rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("make", [_binary, _multiclass, _regression])
def test_weighted_metrics_equal_scikit_learn_on_each_bootstrap_sample(make):
    p = make()
    rng = np.random.default_rng(7)
    idx = rng.integers(0, p.n, size=(5, p.n))
    w = np.stack([np.bincount(row, minlength=p.n) for row in idx]).astype(float)
    vectorised = weighted_metrics(p, w)
    for r, row in enumerate(idx):
        sample = Prepared(p.task, p.y_true[row], p.y_pred[row], None if p.proba is None else p.proba[row], p.classes)
        for name, value in point_metrics(sample).items():
            assert value is not None
            assert vectorised[name][r] == pytest.approx(value, rel=1e-9, abs=1e-12), (name, r)


def test_bootstrap_intervals_are_deterministic_and_bracket_the_estimate():
    p = _binary()
    a = bootstrap(p, n_bootstrap=200, seed=3)
    b = bootstrap(p, n_bootstrap=200, seed=3)
    c = bootstrap(p, n_bootstrap=200, seed=4)
    assert a == b
    assert a != c
    exact = point_metrics(p)
    for name, (low, high) in a.items():
        assert low is not None and high is not None
        assert low <= exact[name] <= high, name
        assert high - low > 0
    # a 95% interval of accuracy on 700 rows is about +-3.7 points wide
    low, high = a["accuracy"]
    assert 0.04 < high - low < 0.10


def test_bootstrap_leaves_out_rounds_where_a_metric_is_undefined():
    y = np.array([0] * 99 + [1])
    p = Prepared("binary", y, y.copy(), y * 0.9 + 0.05, (0, 1))
    ci = bootstrap(p, n_bootstrap=100, seed=0)
    # about 37% of resamples have no positive row: recall is undefined there, not 0
    assert ci["recall"] == (1.0, 1.0)
    assert math.isclose(ci["accuracy"][0], 1.0)


def test_log_loss_and_brier_match_scikit_learn_on_extreme_probabilities():
    y = np.array([0, 1, 1, 0, 1])
    proba = np.array([0.0, 1.0, 0.999999, 1e-9, 0.5])
    p = Prepared("binary", y, (proba > 0.5).astype(int), proba, (0, 1))
    exact = point_metrics(p)
    assert exact["brier"] == pytest.approx(skm.brier_score_loss(y, proba))
    assert math.isfinite(exact["log_loss"])
    assert weighted_metrics(p, np.ones((1, 5)))["log_loss"][0] == pytest.approx(exact["log_loss"])
