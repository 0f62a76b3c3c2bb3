"""Group fairness on the arrests data equals fairlearn computed directly; tiny groups are flagged, not divided by."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    selection_rate,
    true_positive_rate,
)
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklego.datasets import load_arrests

from jupyter_mlops.evaluation.fairness import group_fairness
from jupyter_mlops.evaluation.inputs import prepare, sensitive_frame
from jupyter_mlops.evaluation.metrics import Prepared


@pytest.fixture(scope="module")
def arrests():
    df = load_arrests(as_frame=True)
    X, y = df.drop(columns="released"), df["released"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["colour", "sex", "employed", "citizen"]),
            (StandardScaler(), ["year", "age", "checks"]),
        ),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    return model, X_test.reset_index(drop=True), y_test.reset_index(drop=True)


def test_fairness_numbers_equal_fairlearn_computed_directly(arrests):
    model, X, y = arrests
    p = prepare(model, X, y)
    result = group_fairness(p, sensitive_frame(["colour", "sex"], X, p.n))
    y_true = (y == "Yes").astype(int).to_numpy()
    y_pred = (model.predict(X) == "Yes").astype(int)
    for key, sf in (("colour", X["colour"]), ("sex", X["sex"]), ("colour x sex", X[["colour", "sex"]])):
        got = result["by_feature"][key]["disparities"]
        assert got["demographic_parity_difference"] == pytest.approx(
            demographic_parity_difference(y_true, y_pred, sensitive_features=sf), abs=1e-12
        )
        assert got["demographic_parity_ratio"] == pytest.approx(
            demographic_parity_ratio(y_true, y_pred, sensitive_features=sf), abs=1e-12
        )
        assert got["equalized_odds_difference"] == pytest.approx(
            equalized_odds_difference(y_true, y_pred, sensitive_features=sf), abs=1e-12
        )
        mf = MetricFrame(
            metrics={"selection_rate": selection_rate, "tpr": true_positive_rate},
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=sf,
        )
        groups = result["by_feature"][key]["groups"]
        assert len(groups) == len(mf.by_group)
        for g in groups:
            index = tuple(g["group"].values()) if len(g["group"]) > 1 else next(iter(g["group"].values()))
            assert g["selection_rate"] == pytest.approx(mf.by_group.loc[index, "selection_rate"], abs=1e-12)
            assert g["true_positive_rate"] == pytest.approx(mf.by_group.loc[index, "tpr"], abs=1e-12)
    # the known disparity of this data: Black people are released less often than White people
    colour = {g["label"]: g for g in result["by_feature"]["colour"]["groups"]}
    assert colour["colour=Black"]["selection_rate"] < colour["colour=White"]["selection_rate"]
    assert sum(g["count"] for g in result["by_feature"]["colour x sex"]["groups"]) == p.n
    worst = result["worst"]["demographic_parity_difference"]
    assert worst["value"] == max(r["disparities"]["demographic_parity_difference"] for r in result["by_feature"].values())


def test_a_group_of_one_row_is_reported_with_a_warning_and_no_division_by_zero():
    y = np.array([1, 0, 1, 0, 1, 1, 0, 1])
    pred = np.array([1, 0, 0, 0, 1, 1, 1, 1])
    p = Prepared("binary", y, pred, None, (0, 1))
    sens = pd.DataFrame({"region": ["a", "a", "a", "a", "b", "b", "b", "c"]})
    with np.errstate(all="raise"):
        result = group_fairness(p, sens, min_group_size=2)
    region = result["by_feature"]["region"]
    c = next(g for g in region["groups"] if g["label"] == "region=c")
    assert c["count"] == 1 and c["small"] is True
    assert c["selection_rate"] == 1.0
    assert any("region=c has only 1 row" in w for w in region["warnings"])
    assert any("region=c has no negative labels" in w for w in region["warnings"])
    assert region["disparities"]["demographic_parity_difference"] == pytest.approx(0.75)
    assert region["disparities"]["demographic_parity_ratio"] == pytest.approx(0.25)


def test_no_positive_prediction_makes_the_ratio_undefined_not_an_error():
    y = np.array([1, 0, 1, 0])
    p = Prepared("binary", y, np.zeros(4, dtype=int), None, (0, 1))
    result = group_fairness(p, pd.DataFrame({"g": ["x", "x", "y", "y"]}))
    disp = result["by_feature"]["g"]["disparities"]
    assert disp["demographic_parity_ratio"] is None
    assert disp["demographic_parity_difference"] == 0.0
    assert any("ratio" in w and "undefined" in w for w in result["by_feature"]["g"]["warnings"])
    assert "demographic_parity_ratio" not in result["worst"]
