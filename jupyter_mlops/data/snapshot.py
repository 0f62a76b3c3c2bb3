"""Snapshots: deterministic Parquet for frames, raw bytes for files, a manifest for folders.

Snapshots are content-addressed objects, so the same frame must serialize to the same bytes every
time (otherwise re-versioning would store a second copy): every writer option that could vary is
pinned (codec and level, row group size, dictionary and statistics settings, format version), and
the Arrow table is built in one chunk per column. Decoding restores what Parquet cannot hold on its
own (non-string column names, object dtypes, series names) from the version's recorded schema,
and the caller re-fingerprints the result, so a load either returns the exact frame or fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

from ..core.hashing import canonical_json
from ..errors import IntegrityError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SERIES_COLUMN", "decode_frame", "encode_frame", "manifest_bytes", "parse_manifest", "token_name"]

SERIES_COLUMN = "__mlops_series__"
_WRITE_OPTIONS: dict[str, Any] = {
    # Snappy, Parquet's default codec: zstd level 3 took 1.6x its CPU time on numeric data for
    # files 17 % smaller, and the first version of a frame waits for it (issue 16).
    "compression": "snappy",
    "row_group_size": 1 << 20,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "store_schema": True,
}


def token_name(token: list[Any]) -> Any:
    """The column or index name a :func:`~jupyter_mlops.data.fingerprint.name_token` stands for."""
    tag = token[0]
    if tag == "n":
        return None
    if tag in ("s", "b", "i"):
        return token[1]
    if tag == "f":
        return float(token[1])
    if tag == "t":
        return tuple(token_name(t) for t in token[1])
    return token[-1]


def _storage_names(schema: dict[str, Any]) -> list[str]:
    names = [c["name"] for c in schema["columns"]]
    if len(set(names)) == len(names) and "__index_level_0__" not in names:
        return names
    return [f"c{i}" for i in range(len(names))]


def encode_frame(obj: pd.DataFrame | pd.Series, schema: dict[str, Any], sink: BinaryIO | None = None) -> Any:
    """Serialize a frame or series to Parquet, deterministically.

    Written to ``sink`` (a writable binary file, e.g. the object store's temporary file: no copy
    of the snapshot is held in memory) or, without one, returned as a ``pyarrow.Buffer``.
    Dictionary encoding is used for every column except floating-point, date and duration ones,
    whose values rarely repeat: Parquet would build a dictionary for them and then give it up,
    which cost as much as writing them.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = obj.to_frame(name=SERIES_COLUMN) if isinstance(obj, pd.Series) else obj
    names = _storage_names(schema) if not isinstance(obj, pd.Series) else [SERIES_COLUMN]
    frame = frame.set_axis(names, axis=1)
    table = pa.Table.from_pandas(frame, preserve_index=None).combine_chunks()
    dictionary = [
        f.name
        for f in table.schema
        if not (pa.types.is_floating(f.type) or pa.types.is_temporal(f.type) or pa.types.is_decimal(f.type))
    ]
    options = {**_WRITE_OPTIONS, "use_dictionary": dictionary}
    if sink is not None:
        pq.write_table(table, sink, **options)
        return None
    out = pa.BufferOutputStream()
    pq.write_table(table, out, **options)
    return out.getvalue()


def decode_frame(data: bytes, schema: dict[str, Any]) -> pd.DataFrame | pd.Series:
    """Rebuild the frame or series from its Parquet snapshot and its recorded schema."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(pa.BufferReader(data)).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise IntegrityError(
            f"the snapshot cannot be decoded as Parquet: {exc}", hint="restore the object from a backup"
        ) from exc
    cols = schema["columns"]
    if frame.shape[1] != len(cols):
        raise IntegrityError(f"the snapshot has {frame.shape[1]} columns, the version recorded {len(cols)}")
    for i, col in enumerate(cols):
        if str(frame.iloc[:, i].dtype) != col["dtype"]:
            frame.isetitem(i, _restore_dtype(frame.iloc[:, i], col["dtype"]))
    names = [token_name(c["token"]) for c in cols]
    columns = pd.MultiIndex.from_tuples(names) if schema.get("columns_multi") else pd.Index(names)
    wanted = schema.get("columns_dtype")
    if wanted and not schema.get("columns_multi") and str(columns.dtype) != wanted:
        columns = columns.astype(wanted)
    frame.columns = columns
    index = schema["index"]
    if frame.index.nlevels == 1 and index["dtypes"] and str(frame.index.dtype) != index["dtypes"][0]:
        frame.index = frame.index.astype(index["dtypes"][0])
    frame.index.names = [token_name(t) for t in index["names"]]
    if schema.get("kind") == "series":
        series = frame.iloc[:, 0]
        series.name = token_name(schema["series_name"])
        return series
    return frame


def _restore_dtype(col: pd.Series, dtype: str) -> pd.Series:
    if dtype == "object":
        return col.astype(object).where(col.notna(), None)
    return col.astype(dtype)


def manifest_bytes(fingerprint: str, scheme: str, files: list[dict[str, Any]]) -> bytes:
    """The canonical JSON manifest of a folder version (paths, sizes, object ids, fingerprints)."""
    return canonical_json(
        {"format": "jupyter-mlops/folder-manifest/v1", "fingerprint": fingerprint, "scheme": scheme, "files": files}
    ).encode()


def parse_manifest(data: bytes, object_id: str) -> list[dict[str, Any]]:
    """The file entries of a folder manifest, or :class:`IntegrityError` when it is not one."""
    import json

    try:
        doc = json.loads(data)
        files = doc["files"]
        if doc.get("format") != "jupyter-mlops/folder-manifest/v1" or not isinstance(files, list):
            raise ValueError("not a folder manifest")
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"object {object_id} is not a folder manifest", value=object_id) from exc
    return files
