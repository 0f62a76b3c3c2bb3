"""The full-content fingerprint: pinned by golden values, stable across processes and Parquet, sensitive to every change."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_samples import every_dtype

from jupyter_mlops.data.fingerprint import SCHEME, fingerprint_file, fingerprint_folder, fingerprint_object
from jupyter_mlops.data.profile import frame_schema
from jupyter_mlops.data.snapshot import decode_frame, encode_frame
from jupyter_mlops.errors import UnsafePath, UnsupportedData

# Golden fingerprints: if one of these changes, the encoding changed and SCHEME must be bumped.
GOLDEN_EVERY_DTYPE = "4de38f92b60a68bdef9db1dda4877d93b6bc9a09273b8567a16e6419467bc746"
GOLDEN_STR_SERIES = "8a67279853962f2a84bb89942a0dc2d0c24719faf794430a7f788c7581c3f6be"
GOLDEN_SMALL = "4803039ce723e263ebdf5347c3a07eceaa7c78cdaac27c7dc78a09f95eb07122"


def test_scheme_and_golden_fingerprints_are_pinned() -> None:
    assert SCHEME == "blake3-canonical-v1"
    df = every_dtype()
    assert fingerprint_object(df) == GOLDEN_EVERY_DTYPE
    assert fingerprint_object(df["str"]) == GOLDEN_STR_SERIES
    assert fingerprint_object(pd.DataFrame({"a": [1, 2, 3]})) == GOLDEN_SMALL


def test_golden_file_and_folder_fingerprints(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.csv").write_bytes(b"x,y\n1,2\n")
    (tmp_path / "d" / "sub" / "b.bin").write_bytes(bytes(range(256)))
    assert fingerprint_file(tmp_path / "d" / "a.csv") == fingerprint_file(tmp_path / "d" / "a.csv")
    fp1, entries = fingerprint_folder(tmp_path / "d")
    assert [e.relpath for e in entries] == ["a.csv", "sub/b.bin"]
    (tmp_path / "d" / "sub" / "b.bin").write_bytes(bytes(range(255)) + b"\x00")
    fp2, _ = fingerprint_folder(tmp_path / "d")
    assert fp1 != fp2
    (tmp_path / "d" / "sub" / "b.bin").rename(tmp_path / "d" / "sub" / "c.bin")
    assert fingerprint_folder(tmp_path / "d")[0] not in (fp1, fp2)


def test_same_fingerprint_in_another_process() -> None:
    code = (
        "import sys; sys.path.insert(0, 'tests');"
        "from data_samples import every_dtype;"
        "from jupyter_mlops.data.fingerprint import fingerprint_object as f;"
        "print(f(every_dtype()))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    assert out == fingerprint_object(every_dtype())


def test_same_fingerprint_after_parquet_round_trips() -> None:
    df = every_dtype()
    plain = df.drop(columns="object")  # plain pandas reads object text back as "str": a dtype change
    buf = io.BytesIO()
    plain.to_parquet(buf)
    back = pd.read_parquet(io.BytesIO(buf.getvalue()))
    assert fingerprint_object(back) == fingerprint_object(plain)
    schema = frame_schema(df)
    restored = decode_frame(encode_frame(df, schema).to_pybytes(), schema)
    pd.testing.assert_frame_equal(restored, df)
    assert fingerprint_object(restored) == fingerprint_object(df)


def test_snapshot_bytes_are_deterministic() -> None:
    df = every_dtype()
    schema = frame_schema(df)
    assert encode_frame(df, schema).to_pybytes() == encode_frame(df.copy(), schema).to_pybytes()


def _variants(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    d = df.copy()
    d.loc[d.index[-1], "f64"] = 2.2500000000000004
    out["float cell (last row)"] = d
    d = df.copy()
    d.loc[d.index[3], "str"] = "y"
    out["string cell"] = d
    d = df.copy()
    d.loc[d.index[3], "str"] = None  # "" -> missing
    out["empty string to missing"] = d
    d = df.copy()
    d.loc[d.index[0], "dt_ns"] = pd.Timestamp("2020-01-01 00:00:00.000000001")
    out["datetime cell by one nanosecond"] = d
    d = df.copy()
    d.loc[d.index[1], "Int64"] = 0  # NA -> 0
    out["nullable NA to zero"] = d
    out["row order"] = df.iloc[[1, 0, 2, 3, 4, 5]]
    out["column order"] = df[[*df.columns[1:], df.columns[0]]]
    out["column rename"] = df.rename(columns={"i64": "i64b"})
    out["int to float dtype"] = df.astype({"i64": "float64"})
    out["int64 to int32"] = df.astype({"i64": "int32"})
    out["str to object"] = df.astype({"str": object})
    out["datetime unit"] = df.assign(dt_ns=df["dt_ns"].dt.as_unit("us"))
    out["time zone"] = df.assign(dt_us_tz=df["dt_us_tz"].dt.tz_convert("UTC"))
    out["category order"] = df.assign(cat=df["cat"].cat.reorder_categories(["hi", "mid", "lo"]))
    out["category unordered"] = df.assign(cat=df["cat"].cat.as_unordered())
    out["index values"] = df.set_axis(pd.RangeIndex(11, 17, name="row"), axis=0)
    out["index name"] = df.rename_axis("other")
    out["int column name vs str"] = pd.DataFrame({0: [1, 2]}) if False else df
    return out


@pytest.mark.parametrize("change", list(_variants(every_dtype())))
def test_every_change_changes_the_fingerprint(change: str) -> None:
    df = every_dtype()
    if change == "int column name vs str":
        assert fingerprint_object(pd.DataFrame({0: [1, 2]})) != fingerprint_object(pd.DataFrame({"0": [1, 2]}))
        return
    assert fingerprint_object(_variants(df)[change]) != fingerprint_object(df)


def test_a_change_deep_in_a_large_frame_is_seen() -> None:
    n = 1_000_000
    df = pd.DataFrame({"x": np.arange(n, dtype="float64"), "t": pd.date_range("2000", periods=n, freq="s")})
    base = fingerprint_object(df)
    d = df.copy()
    d.loc[500_000, "t"] = d.loc[500_000, "t"] + pd.Timedelta(seconds=1)
    assert fingerprint_object(d) != base


def test_equal_data_equal_fingerprint() -> None:
    a = pd.DataFrame({"x": [1.0, float("nan")]})
    b = pd.DataFrame({"x": [1.0, -np.float64("nan")]})  # another NaN bit pattern
    assert np.signbit(b["x"].to_numpy()[1]) != np.signbit(a["x"].to_numpy()[1])
    assert fingerprint_object(a) == fingerprint_object(b)
    ranged = pd.DataFrame({"x": [1, 2, 3]})
    assert fingerprint_object(ranged) == fingerprint_object(ranged.set_axis(pd.Index([0, 1, 2], dtype="int64"), axis=0))
    chunked = pd.concat(
        [pd.Series(["a", "b"], dtype="string[pyarrow]"), pd.Series(["c"], dtype="string[pyarrow]")], ignore_index=True
    )
    assert fingerprint_object(chunked) == fingerprint_object(pd.Series(["a", "b", "c"], dtype="string[pyarrow]"))
    assert fingerprint_object(pd.Series(["a", "b", "c"], dtype="string[pyarrow]")) == fingerprint_object(
        pd.Series(["a", "b", "c"], dtype="string[python]")
    )


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ([1, "a", 2.5], "int"),
        ([[1, 2], [3]], "list"),
        ([{"a": 1}, {"b": 2}], "dict"),
        ([True, None, False], "bool"),
    ],
)
def test_unhashable_object_columns_are_refused(values: list[object], named: str) -> None:
    df = pd.DataFrame({"bad": pd.Series(values, dtype=object)})
    with pytest.raises(UnsupportedData) as err:
        fingerprint_object(df)
    assert "'bad'" in err.value.message and named in err.value.message
    assert err.value.hint


def test_symlinks_in_a_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "secret").write_text("outside")
    (tmp_path / "d" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(UnsafePath, match="symbolic link"):
        fingerprint_folder(tmp_path / "d")
