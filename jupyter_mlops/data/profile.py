"""Schemas and per-column profiles of frames, with sensitive columns masked at the source.

The profile is computed once, when a version is made, and stored with it; diffs, HTML, the CLI
and audit payloads only ever see this stored form. A column declared sensitive gets its dtype,
null count and distinct count, and nothing derived from its values (no min, max, mean or top
values), so no later rendering can leak a raw value by accident.

Distinct counts of long numeric and date columns are estimated, not counted: an exact
``nunique()`` builds a hash table of every value, and on a 1 GB frame that cost more than the
fingerprint, the rest of the profile and the Parquet snapshot together. Above
:data:`EXACT_DISTINCT_ROWS` rows, each value is hashed (64 bits, a splitmix64-style mix computed
in place with numpy) and only the distinct hashes below a threshold that keeps about
:data:`DISTINCT_SAMPLE` of them are counted: a KMV ("theta") sketch, the estimator of Apache
DataSketches' Theta sketch, computed with numpy because that library updates one value per
Python call. The estimate is deterministic (the same data gives the same number, so diffs stay
quiet) and its relative standard error is about ``1/sqrt(kept)``, 0.4 % at full sample; the
column says so (``distinct_estimated``, ``distinct_rse``) and the profile states the method. A
column with too few distinct values for the sample to hold 1,024 of them is counted exactly,
which is cheap there (a small hash table).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..core.hashing import sha256_json
from .fingerprint import name_token

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DISTINCT_SAMPLE", "EXACT_DISTINCT_ROWS", "TOP_VALUES", "frame_schema", "profile_frame", "schema_hash"]

TOP_VALUES = 5
EXACT_DISTINCT_ROWS = 1_000_000
DISTINCT_SAMPLE = 1 << 16
_MIN_KEPT = 1024
_MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9
DISTINCT_METHOD = (
    f"exact up to {EXACT_DISTINCT_ROWS:,} rows and for text, category and boolean columns; above, for numbers and"
    f" dates, a KMV (theta) sketch of 64-bit value hashes keeping about {DISTINCT_SAMPLE:,} of them"
    " (relative standard error in distinct_rse)"
)
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


def _estimated_distinct(col: pd.Series, non_null: int) -> tuple[int, float] | None:
    """``(estimate, relative standard error)`` of a long numeric or date column, else ``None`` (count it)."""
    import numpy as np
    import pandas as pd
    from pandas.api import types as pdt

    mix1, mix2 = np.uint64(_MIX1), np.uint64(_MIX2)
    dtype = col.dtype
    numeric = pdt.is_numeric_dtype(dtype) and not pdt.is_bool_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    dated = pdt.is_datetime64_any_dtype(dtype) or pdt.is_timedelta64_dtype(dtype)
    extension = isinstance(dtype, pd.api.extensions.ExtensionDtype) and not dated  # nullable Int64, ...: counted
    if non_null <= EXACT_DISTINCT_ROWS or not (numeric or dated) or extension:
        return None
    values = col.to_numpy()
    if dated:
        if isinstance(dtype, pd.DatetimeTZDtype):
            values = col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        values = values.view("i8")
        if non_null < len(values):
            values = values[values != np.iinfo("i8").min]  # NaT
        hashes = values.view("u8") * mix1
    else:
        if values.dtype.kind == "f":
            values = values[~np.isnan(values)] if non_null < len(values) else values
            values = np.add(values, 0.0, dtype="f8")  # nunique counts -0.0 as 0.0; a new array, hashed in place
        else:
            values = values.astype("i8")
        hashes = values.view("u8")
        hashes *= mix1
    # A splitmix64-style mix (multiply, xor-shift, multiply): every input bit reaches the top bits
    # the threshold looks at, at a fifth of pandas.util.hash_array's cost.
    hashes ^= hashes >> np.uint64(32)
    hashes *= mix2
    theta = min(1.0, DISTINCT_SAMPLE / max(1, non_null))
    kept = np.unique(hashes[hashes < np.uint64(min(theta * 2.0**64, 2.0**64 - 2048))])
    if len(kept) < _MIN_KEPT:
        return None
    return round(len(kept) / theta), round(1 / math.sqrt(len(kept)), 4)


def _column_profile(col: pd.Series, name: str, masked: bool) -> dict[str, Any]:
    import pandas as pd
    from pandas.api import types as pdt

    out: dict[str, Any] = {"name": name, "dtype": str(col.dtype), "nulls": int(col.isna().sum())}
    estimate = _estimated_distinct(col, len(col) - out["nulls"])
    if estimate is not None:
        out.update(distinct=estimate[0], distinct_estimated=True, distinct_rse=estimate[1])
    else:
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
    elif (
        getattr(col.dtype, "kind", "") in "iuf"
        and out["nulls"] == 0
        and len(col) > 1
        and not isinstance(col.dtype, pd.CategoricalDtype)
    ):
        # No missing values: numpy straight on the array, the same numbers as pandas' reductions
        # below (same summation order) without a missing-value mask per statistic.
        arr = col.to_numpy()
        values = arr if arr.dtype.kind == "f" else arr.astype("float64")
        mean = values.mean()
        out.update(
            min=_json_scalar(arr.min()),
            max=_json_scalar(arr.max()),
            mean=_json_scalar(mean),
            std=_json_scalar(values.std(ddof=1)),
        )
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
    profile: dict[str, Any] = {"rows": len(frame), "columns": columns}
    if any(c.get("distinct_estimated") for c in columns):
        profile["distinct_method"] = DISTINCT_METHOD
    return profile
