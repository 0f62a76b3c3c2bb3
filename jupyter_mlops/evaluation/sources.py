"""Resolving model and data references for evaluation through the registry and the data layer.

An evaluation can be given a fitted estimator or a registered version (``"name@3"``,
``"name@champion"``), and data frames or data versions. The registry and the data service are the
capabilities evaluation builds on; they are handed to :class:`~.service.EvaluationService`, and
only a reference that needs them reaches them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.paths import parse_version_spec
from ..errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from ..data.service import DataService
    from ..registry.service import ModelRegistry

__all__ = [
    "data_digest",
    "describe_model",
    "load_model",
    "model_sha256",
    "resolve_data",
    "resolve_ref",
    "serving_version",
    "split_target",
]


def resolve_ref(models: ModelRegistry, spec: str) -> str:
    """The canonical ``"name@N"`` of a version spec (aliases are resolved through the registry)."""
    return models.resolve(str(parse_version_spec(spec, kind="model version")))


def load_model(models: ModelRegistry, spec: str) -> tuple[Any, str]:
    """Load a registered version (its hashes are checked by the registry) and return it with its ref."""
    ref = resolve_ref(models, spec)
    return models.load_model(ref), ref


def serving_version(models: ModelRegistry, alias: str, ref: str) -> str | None:
    """The version of ``ref``'s model that holds the serving ``alias``, or ``None``."""
    name = ref.partition("@")[0]
    try:
        return resolve_ref(models, f"{name}@{alias}")
    except NotFound:
        return None


def describe_model(model: Any) -> str:
    """A short type description, e.g. ``Pipeline(ColumnTransformer, LogisticRegression)``."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        inner = ", ".join(type(s[1]).__name__ for s in steps if isinstance(s, tuple) and len(s) == 2)
        return f"{type(model).__name__}({inner})"
    return type(model).__name__


def _data_ref(value: Any) -> tuple[str, str | None] | None:
    name, version = getattr(value, "name", None), getattr(value, "version", None)
    fingerprint = getattr(value, "fingerprint", None)
    if isinstance(name, str) and isinstance(version, int) and fingerprint is not None:
        return f"{name}@{version}", str(fingerprint)
    return None


def resolve_data(data: DataService, value: Any, what: str) -> tuple[Any, dict[str, Any]]:
    """``(frame, info)`` for a frame, a ``DataVersion`` or a data spec ``"name@2"``.

    ``info`` holds ``data_version`` and ``fingerprint`` when ``value`` was a data version.
    """
    ref = _data_ref(value)
    if ref is None and not isinstance(value, str):
        return value, {}
    if ref is None:
        spec = str(parse_version_spec(value, kind="data version"))
        ref = _data_ref(data.get(spec)) or (spec, None)
    return data.load(ref[0]), {"data_version": ref[0], "fingerprint": ref[1]}


def model_sha256(model: Any) -> str:
    """The model's content hash (see :func:`jupyter_mlops.tracking.models.model_sha256`)."""
    from ..tracking.models import model_sha256 as content_hash

    return content_hash(model)


def split_target(frame: Any, target: str) -> tuple[Any, Any]:
    """``(features, labels)`` of a frame that holds its label column ``target``."""
    columns = getattr(frame, "columns", None)
    if columns is None:
        raise InvalidInput(
            f"target={target!r} needs X to be a DataFrame (or a data version of one), got {type(frame).__name__}",
            value=type(frame).__name__,
            hint="pass y instead",
            field="target",
        )
    if target not in columns:
        import difflib

        close = difflib.get_close_matches(str(target), [str(c) for c in columns], n=1)
        raise InvalidInput(
            f"X has no column {target!r} to use as the target",
            value=str(target),
            hint=f"did you mean {close[0]!r}?" if close else f"columns: {', '.join(map(str, columns))}"[:300],
            field="target",
        )
    return frame.drop(columns=[target]), frame[target]


def data_digest(X: Any, y: Any) -> str:
    """SHA-256 over the full content of ``X`` and ``y`` (pandas row hashes, column names, dtypes).

    This identifies the evaluation rows for comparison; it is not the data layer's versioning
    fingerprint, which is recorded separately when ``X``/``y`` are data versions.
    """
    import hashlib

    import numpy as np
    import pandas as pd

    h = hashlib.sha256()
    for part in (X, y):
        if isinstance(part, (pd.DataFrame, pd.Series)):
            frame = part.to_frame() if isinstance(part, pd.Series) else part
            h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
            h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        else:
            arr = np.ascontiguousarray(np.asarray(part))
            h.update(f"{arr.dtype}{arr.shape}".encode())
            h.update(arr.tobytes() if arr.dtype != object else repr(arr.tolist()).encode())
    return h.hexdigest()
