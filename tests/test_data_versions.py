"""Data versions end to end: version, dedupe, load exactly, refuse bad input and corrupt bytes, link to runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from data_samples import every_dtype

import jupyter_mlops as mlops
from jupyter_mlops.data.schema import data_versions
from jupyter_mlops.errors import IntegrityError, InvalidInput, NotFound, UnsafePath, UnsupportedData


def arrests() -> pd.DataFrame:
    from sklego.datasets import load_arrests

    df = load_arrests(as_frame=True)
    df.insert(0, "id", np.arange(len(df), dtype="int64"))
    return df


@pytest.fixture(scope="module")
def shared_ws(tmp_path_factory: pytest.TempPathFactory) -> mlops.Workspace:
    """One workspace for tests that must leave it unchanged (creating MLflow's store costs seconds)."""
    from jupyter_mlops.create import init

    return init(tmp_path_factory.mktemp("shared") / "project", user="alice")


def _state(ws: mlops.Workspace) -> tuple[int, int, list[tuple[str, int]]]:
    with ws.db.read() as conn:
        n_rows = conn.execute(sa.select(sa.func.count()).select_from(data_versions)).scalar_one()
    events = len(ws.audit_events(limit=10_000))
    files = sorted((str(p), p.stat().st_size) for p in ws.objects.root.rglob("*") if p.is_file())
    return n_rows, events, files


def test_version_and_load_back_exactly(ws: mlops.Workspace) -> None:
    df = arrests()
    v = mlops.version_data(df, "arrests", key="id", description="sklego arrests")
    assert (v.name, v.version, v.kind, v.n_rows, v.n_cols) == ("arrests", 1, "frame", 5226, 9)
    assert v.scheme == "blake3-canonical-v1" and len(v.fingerprint) == 64
    assert [c["name"] for c in v.schema["columns"]][:3] == ["id", "released", "colour"]
    prof = {c["name"]: c for c in v.profile["columns"]}
    assert prof["age"]["min"] == int(df["age"].min()) and prof["age"]["nulls"] == 0
    assert prof["released"]["top"][0] == ["Yes", int((df["released"] == "Yes").sum())]
    assert v.creator == "alice" and v.location == f"mlops-object:{v.object_id}"
    for spec in ("arrests@1", "arrests@latest", "arrests", f"arrests@{v.fingerprint}", f"arrests@{v.fingerprint[:16]}"):
        pd.testing.assert_frame_equal(mlops.load_data(spec), df)
    event = ws.audit_events(action="data.version")[0]
    assert event.object_id == "arrests@1" and event.payload["fingerprint"] == v.fingerprint
    edges = {(e.relation, e.dst_id) for e in ws.lineage("data_version", "arrests@1").edges}
    assert ("version_of", "arrests") in edges


def test_every_dtype_series_file_and_folder_round_trip(ws: mlops.Workspace, tmp_path: Path) -> None:
    df = every_dtype()
    pd.testing.assert_frame_equal(ws.data.load(ws.data.version(df, "all-dtypes").spec), df)
    s = df["str"]
    pd.testing.assert_series_equal(ws.data.load(ws.data.version(s, "a-series").spec), s)
    ints = pd.DataFrame({5: [1, 2], "5x": [3.0, 4.0]})
    pd.testing.assert_frame_equal(ws.data.load(ws.data.version(ints, "int-names").spec), ints)
    f = tmp_path / "raw.csv"
    f.write_bytes(b"a,b\n1,2\n")
    vf = ws.data.version(f, "raw")
    assert vf.kind == "file" and ws.data.load("raw@1") == b"a,b\n1,2\n"
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "x.txt").write_text("x")
    (tmp_path / "folder" / "sub" / "y.bin").write_bytes(b"\x00\x01")
    vd = ws.data.version(tmp_path / "folder", "folder")
    assert vd.kind == "folder" and vd.n_rows == 2
    assert ws.data.load("folder@latest") == {"x.txt": b"x", "sub/y.bin": b"\x00\x01"}


def test_unchanged_content_returns_the_existing_version_and_writes_nothing(ws: mlops.Workspace) -> None:
    df = arrests()
    v1 = ws.data.version(df, "arrests")
    before = _state(ws)
    again = ws.data.version(df.copy(), "arrests")
    assert again == v1
    assert _state(ws) == before
    changed = df.copy()
    changed.loc[100, "age"] = 77
    v2 = ws.data.version(changed, "arrests")
    assert v2.version == 2 and v2.fingerprint != v1.fingerprint
    files_before_v3 = _state(ws)[2]
    v3 = ws.data.version(df, "arrests")  # back to the first content: a new version, no new bytes
    assert v3.version == 3 and v3.object_id == v1.object_id
    assert _state(ws)[2] == files_before_v3
    v4 = ws.data.version(df, "arrests", sensitive=["colour"])  # same bytes, new declaration: new version
    assert v4.version == 4 and v4.sensitive == ("colour",)


def test_snapshots_are_private_files(ws: mlops.Workspace) -> None:
    v = ws.data.version(arrests(), "arrests")
    path = ws.objects.path(v.object_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_corrupted_bytes_are_refused_naming_the_object(ws: mlops.Workspace) -> None:
    v = ws.data.version(arrests(), "arrests")
    path = ws.objects.path(v.object_id)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(path, 0o600)
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as err:
        ws.data.load("arrests@1")
    assert v.object_id in str(err.value)
    report = ws.data.verify()
    assert not report.ok and [c["object_id"] for c in report.corrupt] == [v.object_id]
    assert "arrests@1" in report.corrupt[0]["referenced_by"]
    path.unlink()
    report = ws.data.verify()
    assert [m["object_id"] for m in report.missing] == [v.object_id]


def test_verify_reports_an_intact_store(ws: mlops.Workspace, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("a")
    ws.data.version(arrests(), "arrests")
    ws.data.version(tmp_path / "d", "docs")
    report = ws.data.verify()
    assert report.ok and report.checked == 3  # parquet, manifest, one file


@pytest.mark.parametrize(
    ("obj", "error", "words"),
    [
        (np.arange(3), UnsupportedData, "numpy.ndarray"),
        ({"a": [1]}, UnsupportedData, "dict"),
        (pd.DataFrame(), UnsupportedData, "empty"),
        (pd.DataFrame({"a": []}), UnsupportedData, "empty"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), UnsupportedData, "duplicate column names: 'a'"),
        (pd.DataFrame({"m": pd.Series([1, "x"], dtype=object)}), UnsupportedData, "'m'"),
        (pd.DataFrame({"n": pd.Series([[1], [2, 3]], dtype=object)}), UnsupportedData, "list"),
        ("no/such/file.csv", UnsafePath, "no such file"),
    ],
)
def test_bad_input_gets_one_clear_error_and_writes_nothing(
    shared_ws: mlops.Workspace, obj: object, error: type, words: str
) -> None:
    before = _state(shared_ws)
    with pytest.raises(error) as err:
        shared_ws.data.version(obj, "bad")
    assert words in str(err.value) and err.value.hint
    assert _state(shared_ws) == before


def test_bad_columns_and_specs(ws: mlops.Workspace) -> None:
    df = arrests()
    before = _state(ws)
    with pytest.raises(InvalidInput, match="did you mean 'colour'"):
        ws.data.version(df, "arrests", sensitive=["color"])
    with pytest.raises(UnsupportedData, match="not unique"):
        ws.data.version(df, "arrests", key="year")
    assert _state(ws) == before
    ws.data.version(df, "arrests")
    with pytest.raises(NotFound, match="did you mean 'arrests'"):
        ws.data.load("arrest@1")
    with pytest.raises(NotFound) as err:
        ws.data.load("arrests@7")
    assert "versions 1 to 1" in str(err.value)
    with pytest.raises(NotFound):
        ws.data.get("arrests@" + "a" * 16)


def test_sensitive_columns_are_masked_everywhere(ws: mlops.Workspace) -> None:
    df = arrests()
    df["ssn"] = [f"SSN-{i:06d}-SECRET" for i in range(len(df))]
    v = ws.data.version(df, "people", key="id", sensitive=["ssn", "colour"])
    prof = {c["name"]: c for c in v.profile["columns"]}
    assert prof["ssn"]["masked"] and "top" not in prof["ssn"] and prof["ssn"]["distinct"] == len(df)
    assert "top" not in prof["colour"]
    d2 = df.copy()
    d2.loc[3, "ssn"] = "SSN-CHANGED-SECRET"
    ws.data.version(d2, "people", key="id", sensitive=["ssn", "colour"])
    diff = ws.data.diff("people@1", "people@2")
    assert diff.rows_changed == 1 and diff.changed_examples[0]["columns"] == ["ssn"]
    shown = [str(v), v._repr_html_(), str(v.to_dict()), str(diff), diff._repr_html_(), str(diff.to_dict())]
    shown += [str(e.to_dict()) for e in ws.audit_events(limit=100)]
    for text in shown:
        assert "SECRET" not in text and "White" not in text


def test_reading_sensitive_data_is_authorized(ws: mlops.Workspace) -> None:
    df = arrests()
    ws.data.version(df, "people", sensitive=["colour"])
    ws.data.version(df.head(10), "public")
    cfg = ws.settings.home / "config.toml"
    # deny by default: bob and alice need a role to read at all; only the steward (or the owner) reads sensitive data
    roles = '[access.roles]\ndata_steward = ["carol"]\nviewer = ["bob"]\nresearcher = ["alice"]\n'
    cfg.write_text(cfg.read_text() + '\n[access]\nmode = "enforce"\n\n' + roles)
    root = ws.settings.root
    bob = mlops.Workspace.open(root, user="bob")
    with pytest.raises(mlops.PermissionDenied, match="data.read_sensitive"):
        bob.data.load("people@1")
    denied = bob.audit_events(action="access.denied")
    assert denied and denied[0].actor == "bob" and denied[0].payload["resource"] == "people@1"
    pd.testing.assert_frame_equal(bob.data.load("public@1"), df.head(10))
    pd.testing.assert_frame_equal(mlops.Workspace.open(root, user="carol").data.load("people@1"), df)
    pd.testing.assert_frame_equal(mlops.Workspace.open(root, user="alice").data.load("people@1"), df)


def test_diff_reports_schema_rows_and_profiles(ws: mlops.Workspace) -> None:
    df = arrests()
    ws.data.version(df, "arrests", key="id")
    d = df.drop(index=[7, 8]).copy()
    d.loc[5, "age"] = 99
    d.loc[6, "checks"] = 6
    d = pd.concat([d, df.iloc[[0]].assign(id=10_000)], ignore_index=True)
    d["new_col"] = 1.0
    d = d.drop(columns=["citizen"]).astype({"year": "int32"})
    ws.data.version(d, "arrests", key="id")
    diff = mlops.diff_data("arrests@1", "arrests@2")
    assert diff.rows == (5226, 5225)
    assert diff.columns_added == ("new_col",) and diff.columns_removed == ("citizen",)
    assert diff.dtype_changes == {"year": ["int64", "int32"]}
    assert diff.profile_changes["age"]["max"] == [66, 99]
    assert (diff.rows_added, diff.rows_removed, diff.rows_changed) == (1, 2, 2)
    assert {ex["key"]: ex["columns"] for ex in diff.changed_examples} == {"5": ["age"], "6": ["checks"]}
    assert diff.added_examples == ("10000",) and set(diff.removed_examples) == {"7", "8"}
    html = diff._repr_html_()
    assert "new_col" in html and "citizen" in html
    same = ws.data.diff("arrests@1", "arrests@1")
    assert same.same_content and "same content" in str(same)


def test_html_escapes_user_text(ws: mlops.Workspace) -> None:
    df = pd.DataFrame({"<script>alert(1)</script>": ["<b>x</b>", "y"]})
    v = ws.data.version(df, "xss", description="<img src=x onerror=alert(1)>")
    html = v._repr_html_() + ws.data.list()._repr_html_()
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_versions_used_in_a_run_are_linked(ws: mlops.Workspace) -> None:
    df = arrests()
    ws.data.version(df, "arrests")
    with mlops.start_run("train") as run:
        v2 = mlops.version_data(df.head(100), "arrests")
        mlops.load_data("arrests@1")
    edges = {(e.src_id, e.relation) for e in ws.lineage("run", run.run_id).edges}
    assert {("arrests@1", "input_of"), ("arrests@2", "input_of")} <= edges
    uses = ws.audit_events(action="data.use")
    assert {e.object_id for e in uses} == {"arrests@1", "arrests@2"} and uses[0].payload["run_id"] == run.run_id
    assert v2.source["run_id"] == run.run_id
    mlflow_run = ws.tracking.client.get_run(run.run_id)
    digests = {i.dataset.name: i.dataset.digest for i in mlflow_run.inputs.dataset_inputs}
    assert digests == {"arrests@2": v2.fingerprint[:32], "arrests@1": ws.data.get("arrests@1").fingerprint[:32]}
    assert all(i.dataset.source_type == "jupyter-mlops" for i in mlflow_run.inputs.dataset_inputs)


def test_list_and_show(ws: mlops.Workspace) -> None:
    ws.data.version(arrests(), "arrests")
    ws.data.version(every_dtype(), "dtypes")
    listed = mlops.list_data()
    assert [v.spec for v in listed] == ["dtypes@1", "arrests@1"]
    assert [v.spec for v in mlops.list_data("arrests")] == ["arrests@1"]
    assert ws.data.show("dtypes@latest").n_cols == 17
    assert "dtypes@1" in str(listed) and "arrests@1" in listed._repr_html_()


def test_long_numeric_columns_get_a_stated_distinct_estimate_and_short_ones_an_exact_count() -> None:
    from jupyter_mlops.data.profile import EXACT_DISTINCT_ROWS, profile_frame

    rng = np.random.default_rng(7)
    n = EXACT_DISTINCT_ROWS + 200_000
    long = pd.DataFrame(
        {
            "f": np.where(np.arange(n) % 9 == 0, np.nan, rng.random(n)),
            "i": rng.integers(0, 300_000, n),
            "ts": pd.date_range("2001-01-01", periods=n, freq="s"),
            "few": rng.integers(0, 40, n),  # too few distinct values for the sketch: counted
        }
    )
    profile = profile_frame(long)
    cols = {c["name"]: c for c in profile["columns"]}
    for name in ("f", "i", "ts"):
        exact = long[name].nunique()
        assert cols[name]["distinct_estimated"] is True
        assert abs(cols[name]["distinct"] - exact) <= 4 * cols[name]["distinct_rse"] * exact, (name, cols[name], exact)
    assert cols["few"]["distinct"] == 40 and "distinct_estimated" not in cols["few"]
    assert "KMV" in profile["distinct_method"]
    assert profile_frame(long) == profile  # deterministic: an unchanged column never shows as changed in a diff
    short = profile_frame(long.head(1000))
    assert "distinct_method" not in short
    assert [c["distinct"] for c in short["columns"]] == [long.head(1000)[c].nunique() for c in long.columns]


def test_a_frame_snapshot_streams_into_the_store_once(ws: mlops.Workspace) -> None:
    import hashlib

    from jupyter_mlops.data.snapshot import encode_frame

    df = arrests()
    v = ws.data.version(df.copy(), "streamed")
    stored = ws.objects.path(v.object_id).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == v.object_id and len(stored) == v.size_bytes
    assert stored == encode_frame(arrests(), v.schema).to_pybytes()  # the same bytes as the in-memory encoding
    again = ws.objects.put_stream(lambda sink: encode_frame(arrests(), v.schema, sink))
    assert (again.object_id, again.created) == (v.object_id, False)
    assert [p.name for p in ws.objects.root.rglob(".tmp-*")] == []

    def broken(sink: object) -> None:
        sink.write(b"half a snapshot")  # type: ignore[attr-defined]
        raise OSError("disk gone")

    before = sorted(p.name for p in ws.objects.root.rglob("*"))
    with pytest.raises(OSError, match="disk gone"):
        ws.objects.put_stream(broken)
    assert sorted(p.name for p in ws.objects.root.rglob("*")) == before
