"""The arrests data (shipped with scikit-lego) split into versions, and the demo's model, for tests."""

from __future__ import annotations

from typing import Any

import jupyter_mlops as mlops

FEATURES = ["year", "age", "employed", "citizen", "checks"]
SENSITIVE = ("colour", "sex")


def version_split(seed: int = 42) -> tuple[Any, Any]:
    """Version ``arrests-train`` and ``arrests-test`` in the current workspace; return both versions."""
    from sklearn.model_selection import train_test_split
    from sklego.datasets import load_arrests

    raw = load_arrests(as_frame=True)
    train, test = train_test_split(raw, test_size=0.25, random_state=seed, stratify=raw["released"])
    return (
        mlops.version_data(train.reset_index(drop=True), "arrests-train", sensitive=SENSITIVE),
        mlops.version_data(test.reset_index(drop=True), "arrests-test", sensitive=SENSITIVE),
    )


def model(C: float = 0.01) -> Any:
    """The demo's unfitted model: class-weighted logistic regression on the non-sensitive features."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["employed", "citizen"]), (StandardScaler(), ["year", "age", "checks"])
        ),
        LogisticRegression(C=C, class_weight="balanced", max_iter=1000),
    )


def loaded_frames() -> dict[str, Any]:
    """``X_train``, ``y_train``, ``X_test``, ``y_test`` loaded back from the versions (so they carry the mark)."""
    train, test = mlops.load_data("arrests-train@latest"), mlops.load_data("arrests-test@latest")
    return {
        "X_train": train[FEATURES],
        "y_train": train["released"],
        "X_test": test.drop(columns="released"),
        "y_test": test["released"],
    }
