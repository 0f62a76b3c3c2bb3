"""A recorded project for the dashboard tests: runs, a model version with evaluation and card, a review.

Used by the kernel-side widget tests and by the browser test (which builds it before starting
JupyterLab). Everything is real: MLflow on SQLite, a scikit-learn model on the arrests data,
fairlearn group metrics, the registry's review rules.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jupyter_mlops as mlops

MODEL = "arrests-clf"


def set_reviewers(ws: mlops.Workspace, *names: str) -> None:
    """Write ``[review] reviewers`` into the workspace's config.toml."""
    cfg = ws.settings.home / "config.toml"
    text = cfg.read_text()
    cfg.write_text(re.sub(r"(?m)^reviewers = .*$", "reviewers = " + json.dumps(list(names)), text, count=1))


def arrests_frames(n: int = 1500) -> tuple[Any, Any, Any, Any, Any]:
    """``(X_train, X_test, y_train, y_test, sensitive_test)`` from the bundled arrests data."""
    import pandas as pd
    from sklego.datasets import load_arrests

    df = load_arrests(as_frame=True).head(n).reset_index(drop=True)
    y = (df["released"] == "Yes").astype(int)
    X = pd.get_dummies(df[["year", "age", "checks", "colour", "sex", "employed", "citizen"]], drop_first=True).astype(float)
    cut = int(len(df) * 0.7)
    sens = df[["colour", "sex"]].iloc[cut:].reset_index(drop=True)
    return X.iloc[:cut], X.iloc[cut:].reset_index(drop=True), y.iloc[:cut], y.iloc[cut:].reset_index(drop=True), sens


def make_runs(ws: mlops.Workspace, n: int, *, experiment: str = "arrests", names: list[str] | None = None) -> list[str]:
    """``n`` finished runs with a parameter sweep and three metrics (one with a step history)."""
    ids = []
    for i in range(n):
        name = names[i % len(names)] if names else f"sweep-{i}"
        with ws.start_run(
            name,
            experiment=experiment,
            params={"C": round(0.1 * (i + 1), 2), "penalty": "l2" if i % 2 else "l1"},
            source={"cell_source": f"model = LogisticRegression(C={0.1 * (i + 1):.2f})\nmodel.fit(X, y)"},
        ) as run:
            for step in range(4):
                run.log_metric("loss", 1.0 / (step + 1) + i / 100, step=step)
            run.log_metrics({"accuracy": 0.6 + i / 100, "f1": 0.5 + (i % 5) / 50})
        ids.append(run.run_id)
    return ids


def make_reviewed_model(ws: mlops.Workspace, *, request: bool = True, card_text: str | None = None) -> str:
    """Train, log, evaluate (with fairness by colour and sex), build the card and request review."""
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train, y_test, sens = arrests_frames()
    with ws.start_run("train-final", experiment="arrests", params={"C": 1.0}):
        model = LogisticRegression(max_iter=500, C=1.0).fit(X_train, y_train)
        version = ws.models.log_model(model, MODEL, X_example=X_train.head())
    ref = version.ref
    ws.evaluation.evaluate(
        model,
        X_test,
        y_test,
        sensitive_features=sens,
        model_version=ref,
        n_bootstrap=20,
        plots=True,
        thresholds={"accuracy": 0.5},
    )
    ws.cards.build_card(ref)
    if card_text is not None:
        ws.cards.edit_card(ref, "intended_use", card_text)
    if request:
        ws.models.request_review(ref, note="ready for review")
    return str(ref)


def make_story_model(ws: mlops.Workspace, notebook: Any, *, n: int = 900, note: str = "ready") -> str:
    """A model whose lineage tells the whole story, waiting for review.

    Trained in a tracked cell (``cell_id`` ``c0ffee12-cell``) of ``notebook`` (a path inside the
    project) on a data version ``arrests-train`` with a passed quality check; evaluated with
    fairness by colour and sex and an accuracy threshold; card built; review requested.
    """
    from sklearn.linear_model import LogisticRegression

    X_train, X_test, y_train, y_test, sens = arrests_frames(n)
    source = {"notebook": str(notebook), "cell_id": "c0ffee12-cell", "cell_source": "model.fit(X, y)"}
    with ws.start_run("train-final", experiment="arrests", source=source):
        train = ws.data.version(X_train.assign(released=y_train), "arrests-train")
        rules = ws.settings.root / "rules.yaml"
        rules.write_text("version: 1\ncolumns:\n  age:\n    ge: 12\n")
        ws.quality.check(train.spec, rules)
        model = LogisticRegression(max_iter=500).fit(X_train, y_train)
        ref = ws.models.log_model(model, MODEL, X_example=X_train.head()).ref
    ws.evaluation.evaluate(
        model, X_test, y_test, sensitive_features=sens, model_version=ref, n_bootstrap=10, thresholds={"accuracy": 0.5}
    )
    ws.cards.build_card(ref)
    ws.models.request_review(ref, note=note)
    return str(ref)
