"""Sample frames for the data tests: one column of every dtype the fingerprint encodes."""

from __future__ import annotations

import numpy as np
import pandas as pd


def every_dtype() -> pd.DataFrame:
    """Six rows, one column per supported dtype, with missing values where the dtype has them."""
    return pd.DataFrame(
        {
            "i64": np.array([1, -2, 3, 4, 5, 6], dtype="int64"),
            "i32": np.array([1, 2, 3, 4, 5, 6], dtype="int32"),
            "u8": np.array([0, 1, 2, 3, 254, 255], dtype="uint8"),
            "f64": [1.5, np.nan, -0.0, np.inf, 1e300, 2.25],
            "f32": np.array([1.5, np.nan, 0.0, 3.0, 4.0, 5.0], dtype="float32"),
            "bool": [True, False, True, True, False, False],
            "Int64": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
            "Float64": pd.array([1.0, None, 3.5, 4.0, 5.0, None], dtype="Float64"),
            "boolean": pd.array([True, None, False, True, None, False], dtype="boolean"),
            "str": pd.Series(["a", None, "ü€", "", "long text with spaces", "x"], dtype="str"),
            "string": pd.array(["a", None, "b", "", "ü", "z"], dtype="string"),
            "object": pd.Series(["x", None, "y", "z", "", "w"], dtype=object),
            "cat": pd.Categorical(["lo", "hi", None, "lo", "mid", "hi"], categories=["lo", "mid", "hi"], ordered=True),
            "dt_ns": pd.to_datetime(
                ["2020-01-01", None, "2021-06-30 12:00:00", "1970-01-01 00:00:00", "2262-04-11 00:00:00", "1999-12-31 23:59:59"],
                format="ISO8601",
            ).as_unit("ns"),
            "dt_us_tz": pd.date_range("2024-03-30", periods=6, freq="7h", tz="Europe/Berlin").as_unit("us"),
            "td": pd.to_timedelta([1, 2, None, 4, 5, 6], unit="s"),
            "period": pd.period_range("2020-01", periods=6, freq="M"),
        }
    ).set_axis(pd.RangeIndex(10, 16, name="row"), axis=0)
