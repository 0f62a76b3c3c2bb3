"""Checking and preparing what ``evaluate`` is given, before anything is computed or written.

Every way evaluation input can be wrong (mismatched lengths, a label column of the wrong type,
labels the model never saw, a sensitive column that is not in ``X``, an unfitted model) is
detected here and raised as one :class:`~jupyter_mlops.errors.InvalidInput` that names the value
and the fix. The service calls this first, so bad input never reaches the stores.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, UnsupportedData
from .metrics import Prepared

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["as_frame", "as_labels", "detect_task", "prepare", "sensitive_frame"]

_MAX_SHOWN = 5


def _shown(values: Any) -> str:
    items = [repr(v) for v in list(values)[:_MAX_SHOWN]]
    return ", ".join(items) + (", ..." if len(list(values)) > _MAX_SHOWN else "")


def as_frame(X: Any) -> Any:
    """``X`` as given when it is a DataFrame or 2-D array; refuses anything else."""
    import numpy as np
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        if X.shape[0] == 0:
            raise UnsupportedData("X has no rows", value="0 rows", hint="evaluate on a non-empty test set", field="X")
        return X
    if isinstance(X, pd.Series):
        return X.to_frame()
    try:
        arr = np.asarray(X)
    except Exception as exc:
        raise UnsupportedData(f"X of type {type(X).__name__} is not a table", value=type(X).__name__, field="X") from exc
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise UnsupportedData(
            f"X must be a table (2-D) with at least one row, got shape {arr.shape}",
            value=str(arr.shape),
            hint="pass a pandas DataFrame or a 2-D numpy array",
            field="X",
        )
    return arr


def as_labels(y: Any) -> pd.Series:
    """``y`` as a 1-D Series with a fresh 0..n-1 index (a one-column DataFrame is accepted)."""
    import numpy as np
    import pandas as pd

    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise InvalidInput(
                f"y must be one label column, got a DataFrame with {y.shape[1]} columns",
                value=_shown(y.columns),
                hint="pass the target column only, e.g. df['released']",
                field="y",
            )
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        return y.reset_index(drop=True)
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidInput(f"y must be one label column, got shape {arr.shape}", value=str(arr.shape), field="y")
    return pd.Series(arr)


def detect_task(model: Any) -> tuple[str, tuple[Any, ...]]:
    """``("binary"|"multiclass"|"regression", classes)`` from a fitted estimator."""
    from sklearn.base import is_classifier, is_regressor

    classes = getattr(model, "classes_", None)
    if is_classifier(model) or (classes is not None and not is_regressor(model)):
        if classes is None:
            raise InvalidInput(
                f"classifier {type(model).__name__} has no classes_", hint="fit it before evaluating", field="model"
            )
        found = tuple(classes.tolist() if hasattr(classes, "tolist") else classes)
        if len(found) < 2:
            raise InvalidInput(f"the model knows only one class {_shown(found)}", value=_shown(found), field="model")
        return ("binary" if len(found) == 2 else "multiclass"), found
    return "regression", ()


def _check_fitted(model: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(model, "predict"):
        raise InvalidInput(
            f"{type(model).__name__} has no predict method",
            value=type(model).__name__,
            hint="pass a fitted scikit-learn estimator or a registered version such as 'name@3'",
            field="model",
        )
    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        raise InvalidInput(f"{type(model).__name__} is not fitted", hint="call .fit(X, y) first", field="model") from exc
    except TypeError:  # not a scikit-learn estimator: trust its predict
        pass


def _codes(values: pd.Series, classes: tuple[Any, ...], what: str) -> Any:
    import numpy as np
    import pandas as pd

    lookup = {c: i for i, c in enumerate(classes)}
    as_obj = values.astype(object)
    codes = as_obj.map(lookup)
    missing = codes.isna()
    if bool(missing.any()):
        unknown = pd.unique(as_obj[missing])
        raise InvalidInput(
            f"{what} has values the model does not know: {_shown(unknown)} (dtype {values.dtype}); "
            f"the model's classes are {_shown(classes)}",
            value=_shown(unknown),
            hint="pass the label column the model was trained on, with the same encoding",
            field="y",
        )
    return codes.to_numpy(dtype=np.int64)


def prepare(model: Any, X: Any, y: Any) -> Prepared:
    """Validate ``model``, ``X`` and ``y`` and predict; raises :class:`InvalidInput` on bad input."""
    import numpy as np
    import pandas as pd

    _check_fitted(model)
    frame = as_frame(X)
    labels = as_labels(y)
    n = int(frame.shape[0])
    if len(labels) != n:
        raise InvalidInput(
            f"X has {n} rows but y has {len(labels)}",
            value=f"{n} != {len(labels)}",
            hint="X and y must be the same rows, in the same order",
            field="y",
        )
    if bool(labels.isna().any()):
        raise InvalidInput(
            f"y has {int(labels.isna().sum())} missing labels",
            value=int(labels.isna().sum()),
            hint="drop the rows without a label before evaluating",
            field="y",
        )
    task, classes = detect_task(model)
    if task == "regression" and not (pd.api.types.is_numeric_dtype(labels) and not pd.api.types.is_bool_dtype(labels)):
        raise InvalidInput(
            f"a regression model needs a numeric label column, got dtype {labels.dtype}",
            value=str(labels.dtype),
            hint="pass the numeric target column (convert it with .astype(float))",
            field="y",
        )
    y_true = _codes(labels, classes, "the label column y") if classes else labels.to_numpy(dtype=np.float64)
    try:
        raw_pred = model.predict(frame)
    except Exception as exc:
        raise InvalidInput(
            f"the model could not predict on X: {type(exc).__name__}: {str(exc)[:300]}",
            hint="pass X with the columns and types the model was trained on",
            field="X",
        ) from exc
    raw_pred = np.asarray(raw_pred)
    if raw_pred.shape[0] != n:
        raise InvalidInput(f"the model returned {raw_pred.shape[0]} predictions for {n} rows", field="model")
    if classes:
        y_pred = _codes(pd.Series(raw_pred), classes, "the model's predictions")
    else:
        y_pred = raw_pred.astype(np.float64).reshape(n)
    proba, is_score = _scores(model, frame, task, n)
    return Prepared(task=task, y_true=y_true, y_pred=y_pred, proba=proba, classes=classes, proba_is_score=is_score)


def _scores(model: Any, frame: Any, task: str, n: int) -> tuple[Any, bool]:
    import numpy as np

    if task == "regression":
        return None, False
    for method, is_score in (("predict_proba", False), ("decision_function", True)):
        fn = getattr(model, method, None)
        if fn is None:
            continue
        try:
            out = np.asarray(fn(frame), dtype=np.float64)
        except Exception:  # noqa: S112 - e.g. SVC(probability=False).predict_proba raises: try the next
            continue
        if task == "binary":
            out = out[:, 1] if out.ndim == 2 else out
            if out.shape != (n,):
                continue
        elif is_score or out.ndim != 2:
            continue
        if not np.isfinite(out).all():
            continue
        return out, is_score
    return None, False


def sensitive_frame(sensitive: Any, X: Any, n: int) -> pd.DataFrame:
    """The sensitive features as a DataFrame of strings (``<missing>`` for nulls), one column each.

    ``sensitive`` is column names of ``X`` (a list, or one comma-separated string), a Series, a
    DataFrame, or a dict of name -> values.
    """
    import pandas as pd

    if isinstance(sensitive, str):
        sensitive = [s.strip() for s in sensitive.split(",") if s.strip()]
    if isinstance(sensitive, pd.Series):
        frame = sensitive.to_frame(name=str(sensitive.name) if sensitive.name is not None else "sensitive")
    elif isinstance(sensitive, pd.DataFrame):
        frame = sensitive.copy()
    elif isinstance(sensitive, dict):
        frame = pd.DataFrame({str(k): list(v) for k, v in sensitive.items()})
    elif isinstance(sensitive, (list, tuple)) and all(isinstance(s, str) for s in sensitive):
        if not isinstance(X, pd.DataFrame):
            raise InvalidInput(
                "sensitive features given by name need X to be a DataFrame",
                value=_shown(sensitive),
                hint="pass a DataFrame X, or the sensitive values themselves (a Series or DataFrame)",
                field="sensitive_features",
            )
        columns = [str(c) for c in X.columns]
        for name in sensitive:
            if name not in columns:
                close = difflib.get_close_matches(name, columns, n=1)
                raise InvalidInput(
                    f"sensitive feature {name!r} is not a column of X",
                    value=name,
                    hint=(f"did you mean {close[0]!r}? " if close else "") + f"X has columns {_shown(columns)}",
                    field="sensitive_features",
                )
        frame = X.loc[:, list(dict.fromkeys(sensitive))].copy()
    else:
        raise InvalidInput(
            f"sensitive_features of type {type(sensitive).__name__} is not supported",
            value=type(sensitive).__name__,
            hint="pass column names of X, a Series, a DataFrame or a dict of name -> values",
            field="sensitive_features",
        )
    if frame.shape[1] == 0:
        raise InvalidInput(
            "sensitive_features is empty", hint="name at least one column, e.g. ['colour']", field="sensitive_features"
        )
    if len(frame) != n:
        raise InvalidInput(
            f"sensitive features have {len(frame)} rows but X has {n}",
            value=f"{len(frame)} != {n}",
            hint="pass one sensitive value per row of X",
            field="sensitive_features",
        )
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return frame.astype(object).where(frame.notna(), "<missing>").astype(str)
