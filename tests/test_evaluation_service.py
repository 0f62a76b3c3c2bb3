"""ws.evaluation end to end: stored, audited, lineage-linked, logged to runs; bad input writes nothing."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn import metrics as skm
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklego.datasets import load_arrests

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.evaluation.schema import evaluations
from jupyter_mlops.workspace import Workspace


def _pipeline(C: float = 1.0):
    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["colour", "sex", "employed", "citizen"]),
            (StandardScaler(), ["year", "age", "checks"]),
        ),
        LogisticRegression(C=C, max_iter=1000),
    )


@pytest.fixture(scope="module")
def arrests():
    df = load_arrests(as_frame=True)
    X, y = df.drop(columns="released"), df["released"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    return _pipeline().fit(X_train, y_train), X_train, X_test, y_test


def _state(ws: Workspace) -> tuple[int, int, int]:
    with ws.db.read() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(evaluations)).scalar_one()
    return rows, len(ws.audit_events(limit=10_000)), len(list(ws.objects.iter_ids()))


def test_evaluate_arrests_stores_the_report_with_audit_event_and_lineage(ws, arrests):
    model, X_train, X_test, y_test = arrests
    ref = ws.models.log_model(model, "arrests-clf", X_example=X_train.head()).ref
    report = mlops.evaluate(model, X_test, y_test, sensitive_features=["colour", "sex"], model_version=ref, n_bootstrap=100)

    assert report.task == "binary" and report.positive_label == "Yes" and report.n_rows == len(X_test)
    y_pred = model.predict(X_test)
    assert report.metric("accuracy") == pytest.approx(skm.accuracy_score(y_test, y_pred))
    assert report.metric("f1") == pytest.approx(skm.f1_score(y_test, y_pred, pos_label="Yes"))
    assert report.metric("roc_auc") == pytest.approx(skm.roc_auc_score(y_test == "Yes", model.predict_proba(X_test)[:, 1]))
    for m in report.metrics.values():
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
    assert set(report.fairness["by_feature"]) == {"colour", "sex", "colour x sex"}
    assert report.baseline["note"] == "no baseline: no version of arrests-clf holds the alias 'champion'"
    assert {"roc", "calibration", "groups_colour", "groups_sex", "groups_colour_x_sex"} <= set(report.plots)
    assert report.plot_png("roc").startswith(b"\x89PNG")

    stored = ws.evaluation.get(report.eval_id)
    assert stored == report
    assert ws.evaluation.latest_for("arrests-clf@latest") == report
    assert ws.evaluation.latest_for("arrests-clf@1").eval_id == report.eval_id
    [event] = ws.audit_events(action="model.evaluate")
    assert event.object_id == report.eval_id and event.actor == "alice"
    assert event.payload["model_version"] == ref and event.payload["metrics"]["accuracy"] == report.metric("accuracy")
    graph = ws.lineage("evaluation", report.eval_id)
    assert any(e.relation == "evaluates" and e.dst_id == ref for e in graph.edges)
    assert ws.verify_audit().ok
    with ws.db.read() as conn:
        row = conn.execute(sa.select(evaluations)).one()
    assert row.model_version == ref and row.task == "binary" and row.passed is None
    assert ws.objects.open_verified(row.report_object)  # the report JSON itself is content addressed

    html = report._repr_html_()
    assert html.count("data:image/png;base64,") == len(report.plots)
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_evaluate_inside_a_run_logs_metrics_and_artifacts(ws, arrests):
    model, _, X_test, y_test = arrests
    with mlops.start_run("evaluate") as run:
        report = mlops.evaluate(model, X_test, y_test, sensitive_features="colour", thresholds={"accuracy": 0.5}, n_bootstrap=50)
    assert report.run_id == run.run_id
    logged = ws.tracking.get_run(run.run_id)
    assert logged["metrics"]["eval_accuracy"] == pytest.approx(report.metric("accuracy"))
    assert logged["metrics"]["eval_demographic_parity_ratio"] == pytest.approx(report.disparity("demographic_parity_ratio"))
    assert logged["metrics"]["eval_passed"] == 1.0
    assert logged["tags"]["mlops.evaluation"] == report.eval_id
    folder = f"evaluation/{report.eval_id[:12]}"
    files = {a.path for a in ws.tracking.client.list_artifacts(run.run_id, folder)}
    assert {f"{folder}/report.json", f"{folder}/report.html", f"{folder}/plots"} <= files
    plots = {a.path.rsplit("/", 1)[-1] for a in ws.tracking.client.list_artifacts(run.run_id, f"{folder}/plots")}
    assert plots == {f"{name}.png" for name in report.plots}
    assert any(e.relation == "produced" and e.src_id == run.run_id for e in ws.lineage("evaluation", report.eval_id).edges)


def test_thresholds_pass_and_fail_per_rule_and_overall(ws, arrests):
    model, _, X_test, y_test = arrests
    report = ws.evaluation.evaluate(
        model,
        X_test,
        y_test,
        sensitive_features=["colour", "sex"],
        thresholds={
            "accuracy": 0.7,
            "demographic_parity_ratio": 0.8,
            "equalized_odds_difference": ("<=", 0.01),
            "demographic_parity_difference[colour]": ("<", 0.5),
        },
        n_bootstrap=0,
    )
    outcome = {t["name"]: t["passed"] for t in report.thresholds}
    assert outcome == {
        "accuracy": True,
        "demographic_parity_ratio": True,
        "equalized_odds_difference": False,
        "demographic_parity_difference[colour]": True,
    }
    eo = next(t for t in report.thresholds if t["name"] == "equalized_odds_difference")
    assert eo["value"] == report.fairness["worst"]["equalized_odds_difference"]["value"]
    assert report.passed is False
    assert all(m["ci_low"] is None for m in report.metrics.values())  # n_bootstrap=0: no intervals
    with ws.db.read() as conn:
        assert conn.execute(sa.select(evaluations.c.passed)).scalar_one() is False


@pytest.fixture
def iris_model():
    X, y = load_iris(return_X_y=True, as_frame=True)
    labels = y.map(dict(enumerate(["setosa", "versicolor", "virginica"])))
    X_train, X_test, y_train, y_test = train_test_split(X, labels, test_size=0.4, random_state=1, stratify=labels)
    return LogisticRegression(max_iter=500, C=0.05).fit(X_train, y_train), X_test, y_test


def test_multiclass_iris_metrics_equal_scikit_learn(ws, iris_model):
    model, X_test, y_test = iris_model
    report = mlops.evaluate(model, X_test, y_test, thresholds={"f1": 0.5}, n_bootstrap=100)
    assert report.task == "multiclass" and report.classes == ("setosa", "versicolor", "virginica")
    pred = model.predict(X_test)
    assert report.metric("accuracy") == pytest.approx(skm.accuracy_score(y_test, pred))
    assert report.metric("f1") == pytest.approx(skm.f1_score(y_test, pred, average="macro"))
    assert report.metric("roc_auc") == pytest.approx(skm.roc_auc_score(y_test, model.predict_proba(X_test), multi_class="ovr"))
    assert report.metric("log_loss") == pytest.approx(skm.log_loss(y_test, model.predict_proba(X_test)), rel=1e-6)
    assert "brier" not in report.metrics and report.passed is True
    assert "roc" in report.plots and "calibration" not in report.plots


def test_regression_on_diabetes_with_a_sensitive_column(ws):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = X.iloc[:320], X.iloc[320:], y.iloc[:320], y.iloc[320:]
    model = Ridge(alpha=0.1).fit(X_train, y_train)
    sex = (X_test["sex"] > 0).map({True: "group_a", False: "group_b"}).rename("sex_group")
    report = mlops.evaluate(model, X_test, y_test, sensitive_features=sex, thresholds={"r2": 0.2, "rmse": 80.0})
    pred = model.predict(X_test)
    assert report.task == "regression"
    assert report.metric("rmse") == pytest.approx(math.sqrt(skm.mean_squared_error(y_test, pred)))
    assert report.metric("mae") == pytest.approx(skm.mean_absolute_error(y_test, pred))
    assert report.metric("r2") == pytest.approx(skm.r2_score(y_test, pred))
    groups = {g["label"]: g for g in report.fairness["by_feature"]["sex_group"]["groups"]}
    a = (sex == "group_a").to_numpy()
    assert groups["sex_group=group_a"]["mae"] == pytest.approx(skm.mean_absolute_error(y_test[a], pred[a]))
    assert report.disparity("mae_difference") == pytest.approx(
        abs(groups["sex_group=group_a"]["mae"] - groups["sex_group=group_b"]["mae"])
    )
    assert "predicted_vs_actual" in report.plots
    assert {t["name"]: t["op"] for t in report.thresholds} == {"r2": ">=", "rmse": "<="}


def test_an_explicit_baseline_gives_metric_deltas(ws, arrests):
    model, X_train, X_test, y_test = arrests
    weak = _pipeline(C=0.001).fit(X_train.iloc[:300], pd.Series(np.where(np.arange(300) % 2, "Yes", "No")))
    report = mlops.evaluate(model, X_test, y_test, baseline=weak, n_bootstrap=0)
    base_acc = skm.accuracy_score(y_test, weak.predict(X_test))
    assert report.baseline["metrics"]["accuracy"] == pytest.approx(base_acc)
    assert report.baseline["deltas"]["accuracy"] == pytest.approx(report.metric("accuracy") - base_acc)
    assert report.baseline["label"].startswith("given model (Pipeline")
    assert "baseline" in report._repr_html_()


def test_the_default_baseline_is_the_champion(ws, arrests):
    model, X_train, X_test, y_test = arrests
    v1 = ws.models.log_model(_pipeline(C=0.01).fit(X_train, y_train_of(arrests)), "arr", X_example=X_train.head()).ref
    ws.evaluation.evaluate(v1, X_test, y_test, n_bootstrap=0)
    ws.cards.build_card(v1)
    ws.models.request_review(v1, note="first")
    bob = Workspace(dataclasses.replace(ws.settings, user="bob", reviewers=("bob",)))
    bob.models.approve(v1, comment="ok")
    ws.models.promote(v1)
    v2 = ws.models.log_model(model, "arr", X_example=X_train.head()).ref
    report = ws.evaluation.evaluate(v2, X_test, y_test, n_bootstrap=0)
    assert report.baseline["ref"] == v1 and report.baseline["label"] == f"{v1} (champion)"
    assert report.baseline["deltas"]["accuracy"] == pytest.approx(
        report.metric("accuracy") - report.baseline["metrics"]["accuracy"]
    )
    assert any(e.relation == "compared_with" and e.dst_id == v1 for e in ws.lineage("evaluation", report.eval_id).edges)
    again = ws.evaluation.evaluate(v1, X_test, y_test, n_bootstrap=0)
    assert again.baseline == {"ref": None, "note": f"no baseline: {v1} is itself the 'champion'"}


def y_train_of(arrests):
    _, X_train, _, _ = arrests
    df = load_arrests(as_frame=True)
    return df.loc[X_train.index, "released"]


_BAD_INPUT = [
    ("short_y", "X has 1568 rows but y has 1567"),
    ("numeric_labels", "the label column y has values the model does not know: 1, 0"),
    ("missing_sensitive", "sensitive feature 'color' is not a column of X (did you mean 'colour'?"),
    ("unknown_threshold", "unknown threshold 'acuracy' for a binary model (did you mean 'accuracy'?"),
    ("fairness_threshold_without_features", "threshold 'demographic_parity_ratio' needs sensitive_features"),
    ("unfitted", "Pipeline is not fitted"),
    ("two_label_columns", "y must be one label column"),
    ("sensitive_wrong_length", "sensitive features have 3 rows but X has 1568"),
    ("regression_text_labels", "a regression model needs a numeric label column"),
]


def test_bad_input_raises_one_clear_error_and_writes_nothing(ws, arrests):
    model, _, X_test, y_test = arrests
    Xd, yd = load_diabetes(return_X_y=True, as_frame=True)
    before = _state(ws)
    for case, message in _BAD_INPUT:
        kwargs = {}
        m, X, y = model, X_test, y_test
        if case == "short_y":
            y = y_test.iloc[:-1]
        elif case == "numeric_labels":
            y = (y_test == "Yes").astype(int)
        elif case == "missing_sensitive":
            kwargs["sensitive_features"] = ["color", "sex"]
        elif case == "unknown_threshold":
            kwargs["thresholds"] = {"acuracy": 0.7}
        elif case == "fairness_threshold_without_features":
            kwargs["thresholds"] = {"demographic_parity_ratio": 0.8}
        elif case == "unfitted":
            m = _pipeline()
        elif case == "two_label_columns":
            y = pd.DataFrame({"a": y_test, "b": y_test})
        elif case == "sensitive_wrong_length":
            kwargs["sensitive_features"] = pd.Series(["a", "b", "c"])
        elif case == "regression_text_labels":
            m, X, y = LinearRegression().fit(Xd, yd), Xd, yd.astype(str)
        with pytest.raises(InvalidInput) as info:
            ws.evaluation.evaluate(m, X, y, **kwargs)
        assert message in str(info.value), case
    assert _state(ws) == before


def test_unknown_model_version_is_not_found_and_writes_nothing(ws, arrests):
    model, X_train, X_test, y_test = arrests
    ws.models.log_model(model, "arrests-clf", X_example=X_train.head())
    before = _state(ws)
    with pytest.raises(NotFound):
        ws.evaluation.evaluate("arrests-clf@9", X_test, y_test)
    with pytest.raises(NotFound):
        ws.evaluation.evaluate(model, X_test, y_test, model_version="arrests-clf@champion")
    assert _state(ws) == before
    assert ws.evaluation.latest_for("arrests-clf@1") is None
    with pytest.raises(NotFound):
        ws.evaluation.get("0" * 32)


def test_user_strings_are_escaped_in_html(ws, arrests):
    model, _, X_test, y_test = arrests
    evil = pd.Series(
        np.where(np.arange(len(X_test)) % 2, "<script>alert(1)</script>", "<b>x</b>"), name="<img src=x onerror=alert(1)>"
    )
    report = ws.evaluation.evaluate(model, X_test, y_test, sensitive_features=evil, n_bootstrap=0, plots=False)
    html = report._repr_html_()
    assert "<script>" not in html and "<img src=x" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert json.loads(json.dumps(report.to_dict()))["fairness"]["by_feature"]


def test_a_one_row_group_is_flagged_in_the_report(ws, arrests):
    model, _, X_test, y_test = arrests
    region = pd.Series(["north"] * (len(X_test) - 1) + ["island"], name="region")
    report = ws.evaluation.evaluate(model, X_test, y_test, sensitive_features=region, n_bootstrap=0)
    island = next(g for g in report.fairness["by_feature"]["region"]["groups"] if g["label"] == "region=island")
    assert island["count"] == 1 and island["small"] is True
    assert any("region=island has only 1 row" in w for w in report.warnings)
    assert report.disparity("demographic_parity_ratio") is not None


def test_eval_command_in_the_magic_namespace(ws, arrests):
    from jupyter_mlops.cli.commands import CommandUsageError, Context, build_parser

    model, _, X_test, y_test = arrests
    parser = build_parser()
    args = parser.parse_args(
        [
            "eval",
            "clf",
            "--data",
            "X_test",
            "y_test",
            "--sensitive",
            "colour,sex",
            "--threshold",
            "accuracy>=0.99",
            "--bootstrap",
            "20",
        ]
    )
    ctx = Context(open_workspace=lambda: ws, namespace={"clf": model, "X_test": X_test, "y_test": y_test}, interactive=True)
    result = args.func(ctx, args)
    assert result.value.passed is False and result.exit_code == 1
    assert result.value.thresholds[0]["op"] == ">=" and result.value.thresholds[0]["limit"] == 0.99
    assert "FAIL accuracy >= 0.99" in result.text
    assert set(result.value.fairness["by_feature"]) == {"colour", "sex", "colour x sex"}
    with pytest.raises(CommandUsageError):
        args.func(Context(open_workspace=lambda: ws), args)
