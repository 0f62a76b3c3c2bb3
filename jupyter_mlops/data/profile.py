"""Schemas and per-column profiles of frames, with sensitive columns masked at the source.

The profile is computed once, when a version is made, and stored with it; diffs, HTML, the CLI
and audit payloads only ever see this stored form. A column declared sensitive gets its dtype,
null count and distinct count, and nothing derived from its values (no min, max, mean or top
values), so no later rendering can leak a raw value by accident.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..core.hashing import sha256_json
from .fingerprint import name_token

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TOP_VALUES", "frame_schema", "profile_frame", "schema_hash"]

TOP_VALUES = 5
_MAX_TEXT = 80


def _json_scalar(value: Any) -> Any:
    """A JSON-safe rendering of a statistic (NaN and NaT become ``None``)."""
    import pandas as pd

    if value is None or value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (bool, int, str)):
        return value if not isinstance(value, str) else value[:_MAX_TEXT]
    return str(value)[:_MAX_TEXT]


def frame_schema(obj: pd.DataFrame | pd.Series) -> dict[str, Any]:
    """Columns (display name, type-tagged name, dtype) and index of a frame or series."""
    import pandas as pd

    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    schema: dict[str, Any] = {
        "kind": "series" if isinstance(obj, pd.Series) else "frame",
        "columns": [
            {"name": str(name), "token": name_token(name), "dtype": str(frame.iloc[:, i].dtype)}
            for i, name in enumerate(frame.columns)
        ],
        "columns_multi": isinstance(frame.columns, pd.MultiIndex),
        "columns_dtype": str(frame.columns.dtype),
        "index": {
            "type": type(frame.index).__name__,
            "names": [name_token(n) for n in frame.index.names],
            "dtypes": [str(frame.index.get_level_values(i).dtype) for i in range(frame.index.nlevels)],
        },
    }
    if isinstance(obj, pd.Series):
        schema["series_name"] = name_token(obj.name)
    return schema


def schema_hash(schema: dict[str, Any]) -> str:
    """SHA-256 of the schema's canonical JSON."""
    return sha256_json(schema)


def _column_profile(col: pd.Series, name: str, masked: bool) -> dict[str, Any]:
    import pandas as pd
    from pandas.api import types as pdt

    out: dict[str, Any] = {"name": name, "dtype": str(col.dtype), "nulls": int(col.isna().sum())}
    try:
        out["distinct"] = int(col.nunique(dropna=True))
    except TypeError:
        out["distinct"] = None
    if masked:
        out["masked"] = True
        return out
    if len(col) == out["nulls"]:
        return out
    if pdt.is_bool_dtype(col.dtype):
        counts = col.value_counts(dropna=True).head(TOP_VALUES)
        out["top"] = [[_json_scalar(k), int(v)] for k, v in counts.items()]
    elif pdt.is_numeric_dtype(col.dtype) and not isinstance(col.dtype, pd.CategoricalDtype):
        values = col.astype("float64") if not pdt.is_float_dtype(col.dtype) else col
        out.update(
            min=_json_scalar(col.min()),
            max=_json_scalar(col.max()),
            mean=_json_scalar(values.mean()),
            std=_json_scalar(values.std()),
        )
    elif pdt.is_datetime64_any_dtype(col.dtype) or pdt.is_timedelta64_dtype(col.dtype):
        out.update(min=_json_scalar(col.min()), max=_json_scalar(col.max()))
    else:
        counts = col.value_counts(dropna=True).head(TOP_VALUES)
        out["top"] = [[_json_scalar(k), int(v)] for k, v in counts.items()]
    return out


def profile_frame(obj: pd.DataFrame | pd.Series, sensitive: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Per-column statistics; columns whose name is in ``sensitive`` are masked."""
    import pandas as pd

    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    import numpy as np

    columns = []
    with np.errstate(all="ignore"):  # infinities make std NaN, which is reported as None
        for i, name in enumerate(frame.columns):
            label = str(name)
            columns.append(_column_profile(frame.iloc[:, i], label, label in sensitive))
    return {"rows": len(frame), "columns": columns}
