"""MLflow's scoring protocol, validated against the model signature.

``POST /invocations`` accepts what ``mlflow models serve`` accepts, so a client switches by
changing the URL:

- JSON (``application/json``): ``{"dataframe_split": {"columns": [...], "data": [[...]]}}``,
  ``{"dataframe_records": [{...}]}``, ``{"instances": [...]}`` or ``{"inputs": ...}`` (records,
  rows in signature order, or ``{column: [values]}``);
- CSV (``text/csv``) with a header row.

Every row is checked against the signature's columns and types before the model sees it. A
:class:`PayloadError` names the missing or mistyped field (and the row) but never echoes a
value: the values may be personal data, and they end up in logs.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

from ...errors import InvalidInput

__all__ = ["PayloadError", "build_frame", "parse_payload", "to_frame", "validate_rows"]

_NUMERIC = {"double", "float", "long", "integer"}
_INTEGRAL = {"long", "integer"}
_DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32", "boolean": "bool"}
MAX_ROWS = 10_000


class PayloadError(InvalidInput):
    """The request body does not match the protocol or the model signature (HTTP 400/415)."""


def _rows_from_split(body: Any) -> tuple[list[str], list[list[Any]]]:
    if not isinstance(body, dict) or not isinstance(body.get("columns"), list) or not isinstance(body.get("data"), list):
        raise PayloadError(
            "dataframe_split must be {'columns': [...], 'data': [[...], ...]}",
            field="dataframe_split",
            hint="send the columns once and one list per row",
        )
    columns = [str(c) for c in body["columns"]]
    data = body["data"]
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise PayloadError(f"row {i} of dataframe_split.data has a different length than columns", field="dataframe_split")
    return columns, data


def _rows_from_records(records: Any, key: str, columns: Sequence[str]) -> tuple[list[str], list[list[Any]]]:
    if isinstance(records, dict):  # {column: [values]} (the "inputs" column form)
        if not all(isinstance(v, list) for v in records.values()):
            raise PayloadError(f"{key} as a mapping must map each column to a list of values", field=key)
        names = [str(k) for k in records]
        lengths = {len(v) for v in records.values()}
        if len(lengths) > 1:
            raise PayloadError(f"the columns of {key} have different lengths", field=key)
        n = lengths.pop() if lengths else 0
        return names, [[records[c][i] for c in records] for i in range(n)]
    if not isinstance(records, list):
        raise PayloadError(f"{key} must be a list of rows", field=key)
    if records and all(isinstance(r, dict) for r in records):
        names = list(dict.fromkeys(str(k) for r in records for k in r))
        return names, [[r.get(c, _MISSING) for c in names] for r in records]
    if records and all(isinstance(r, list) for r in records):
        for i, r in enumerate(records):
            if len(r) != len(columns):
                raise PayloadError(
                    f"row {i} of {key} has {len(r)} values; the model takes {len(columns)} ({', '.join(columns)})", field=key
                )
        return list(columns), [list(r) for r in records]
    raise PayloadError(f"{key} must be a list of records (objects) or of rows (lists)", field=key)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def parse_payload(body: bytes, content_type: str, columns: Sequence[str]) -> tuple[list[str], list[list[Any]]]:
    """``(column names, rows)`` of a scoring request; ``columns`` is the signature order."""
    ctype = (content_type or "application/json").split(";")[0].strip().lower()
    if ctype == "text/csv":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("the CSV body is not UTF-8", field="body") from None
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader)
        except StopIteration:
            raise PayloadError("the CSV body is empty; send a header row and at least one row", field="body") from None
        rows = [list(r) for r in reader if r]
        for i, r in enumerate(rows):
            if len(r) != len(header):
                raise PayloadError(f"CSV row {i + 1} has {len(r)} fields, the header has {len(header)}", field="body")
        return [h.strip() for h in header], rows
    if ctype != "application/json":
        raise PayloadError(
            f"unsupported content type {ctype[:60]!r}",
            field="Content-Type",
            hint="send application/json (dataframe_split, dataframe_records, instances or inputs) or text/csv",
            http_status=415,
        )
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("the body is not valid JSON", field="body") from None
    if not isinstance(payload, dict):
        raise PayloadError(
            "the JSON body must be an object with one of dataframe_split, dataframe_records, instances, inputs", field="body"
        )
    keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in payload]
    if len(keys) != 1:
        raise PayloadError(
            "the JSON body must have exactly one of dataframe_split, dataframe_records, instances, inputs",
            field="body",
            hint='e.g. {"dataframe_records": [{"age": 21, ...}]}',
        )
    key = keys[0]
    if key == "dataframe_split":
        return _rows_from_split(payload[key])
    return _rows_from_records(payload[key], key, columns)


def _check(value: Any, kind: str, column: str, row: int, from_csv: bool) -> Any:
    """The value converted to the column's type; a :class:`PayloadError` that shows no value."""
    where = f"field {column!r} in row {row}"
    if value is _MISSING or value is None or (from_csv and value == ""):
        raise PayloadError(f"{where} is missing", field=column, hint="every column of the model signature is required")
    if kind in _NUMERIC:
        if from_csv:
            try:
                value = float(value) if kind not in _INTEGRAL else int(value)
            except ValueError:
                raise PayloadError(f"{where} must be a number ({kind})", field=column) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PayloadError(f"{where} must be a number ({kind}), got {type(value).__name__}", field=column)
        if kind in _INTEGRAL:
            if isinstance(value, float) and not value.is_integer():
                raise PayloadError(f"{where} must be a whole number ({kind})", field=column)
            return int(value)
        return float(value)
    if kind == "boolean":
        if from_csv and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise PayloadError(f"{where} must be true or false, got {type(value).__name__}", field=column)
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise PayloadError(f"{where} must be text (string), got {type(value).__name__}", field=column)
        return value
    return value


def validate_rows(
    names: list[str], rows: list[list[Any]], signature: Sequence[tuple[str, str]], *, from_csv: bool = False
) -> tuple[dict[str, list[Any]], list[dict[str, Any]]]:
    """Check every row against the signature: ``({column: values}, records)`` in signature order.

    Columns the signature does not know are ignored; a missing column is a :class:`PayloadError`.
    A model without a signature gets the columns as they came.
    """
    if not rows:
        raise PayloadError("the request has no rows", field="body", hint="send at least one row")
    if len(rows) > MAX_ROWS:
        raise PayloadError(f"the request has {len(rows)} rows; at most {MAX_ROWS} per request", field="body")
    if not signature:
        columns = {n: [r[i] for r in rows] for i, n in enumerate(names)}
        return columns, [dict(zip(names, r, strict=True)) for r in rows]
    index = {n: i for i, n in enumerate(names)}
    missing = [c for c, _ in signature if c not in index]
    if missing:
        more = f" and {len(missing) - 1} more ({', '.join(missing[1:4])})" if len(missing) > 1 else ""
        raise PayloadError(
            f"missing field {missing[0]!r}{more}",
            field=missing[0],
            hint="the model signature needs: " + ", ".join(c for c, _ in signature),
        )
    data: dict[str, list[Any]] = {}
    for column, kind in signature:
        j = index[column]
        data[column] = [_check(r[j], kind, column, i, from_csv) for i, r in enumerate(rows)]
    records = [{c: data[c][i] for c, _ in signature} for i in range(len(rows))]
    return data, records


def build_frame(columns: dict[str, list[Any]], signature: Sequence[tuple[str, str]]) -> Any:
    """A pandas frame of validated columns, with the dtypes the signature names."""
    import pandas as pd

    if not signature:
        return pd.DataFrame(columns)
    return pd.DataFrame({c: pd.Series(columns[c], dtype=_DTYPES.get(k)) for c, k in signature})


def to_frame(
    names: list[str], rows: list[list[Any]], signature: Sequence[tuple[str, str]], *, from_csv: bool = False
) -> tuple[Any, list[dict[str, Any]]]:
    """:func:`validate_rows` then :func:`build_frame`: the frame and the records."""
    columns, records = validate_rows(names, rows, signature, from_csv=from_csv)
    return build_frame(columns, signature), records
