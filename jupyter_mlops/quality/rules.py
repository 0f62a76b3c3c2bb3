"""Quality rules: a small YAML format, compiled to a pandera ``DataFrameSchema``.

Researchers write their expectations about a table once, in a file that lives next to the
notebook and is reviewed like code; pandera does the validating. This module only parses the
file, refuses anything it does not know (with "did you mean ..." and the line of the typo) and
builds the schema, so a bad rules file fails before any data is touched or anything is written.
No string from the file is ever evaluated: cross-column checks are data (an operator name and two
column names), not expressions.

The format
----------
::

    version: 1                 # optional, the format version (only 1 exists)
    description: Arrests data, Toronto Star
    strict: false              # true: columns not listed below are failures
    min_rows: 1000             # row-count bounds
    max_rows: 1000000
    unique: [id, year]         # a combination of columns that must be unique
    columns:
      released:
        dtype: str             # any pandas/pandera dtype name: int64, float64, str, bool, category, datetime64[ns], Int64 ...
        nullable: false        # default false: nulls are failures
        isin: ["Yes", "No"]    # allowed values (notin: refused values)
      age:
        dtype: int64
        ge: 12                 # ranges: ge, gt, le, lt (and eq, ne)
        le: 100
      id:
        unique: true           # no duplicate values
        required: true         # default true: a missing column is a failure
      code:
        str_matches: '^[A-Z]{2}[0-9]+$'   # regular expression (from the start of the value)
        str_length: {min: 3, max: 12}
    checks:                    # cross-column checks
      - check: le              # lt, le, gt, ge, eq, ne: left <op> right, row by row
        left: checks
        right: age
        name: checks_not_above_age   # optional label shown in reports
      - check: unique          # the combination of these columns is unique
        columns: [colour, year, age]

Rows where either side of a comparison is null pass the comparison (nullability has its own
rule). Every failure is collected (pandera's lazy mode) and reported per column and check.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import operator
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from ..core.hashing import sha256_text
from ..errors import UnsupportedData
from .report import MAX_EXAMPLES
from .source import Path_, Where, read_yaml, suggest

__all__ = ["COLUMN_CHECKS", "CROSS_CHECKS", "TOP_LEVEL_KEYS", "CheckLabel", "RuleSet", "load_rules", "rules_from_schema"]

#: Keys allowed at the top level of a rules file.
TOP_LEVEL_KEYS = ("version", "description", "strict", "min_rows", "max_rows", "unique", "columns", "checks")
#: Keys allowed under one column.
COLUMN_CHECKS = (
    "dtype",
    "nullable",
    "unique",
    "required",
    "ge",
    "gt",
    "le",
    "lt",
    "eq",
    "ne",
    "isin",
    "notin",
    "str_matches",
    "str_length",
    "description",
)
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
}
#: Names allowed as ``check:`` in the ``checks:`` list.
CROSS_CHECKS = (*_COMPARISONS, "unique")
_CROSS_KEYS = ("check", "left", "right", "columns", "name", "description")
_DTYPE_NAMES = (
    "str",
    "string",
    "int64",
    "int32",
    "Int64",
    "float64",
    "float32",
    "Float64",
    "bool",
    "boolean",
    "category",
    "datetime64[ns]",
    "datetime64[us]",
    "object",
)


@dataclasses.dataclass(frozen=True)
class CheckLabel:
    """How one pandera check is named in a report: ``check`` (``ge``, ``isin`` ...) and its argument."""

    check: str
    expected: str | None = None
    columns: tuple[str, ...] = ()
    #: For table-wide row checks: the check itself, re-run to count failing rows, because pandera
    #: is asked for only a few failure cases (it lists every column of every failing row).
    rows_ok: Callable[[Any], Any] | None = None


@dataclasses.dataclass(frozen=True)
class RuleSet:
    """Compiled rules: the pandera schema plus the labels that name its checks in reports.

    ``column_labels`` maps ``(column, check_number)`` and ``frame_labels`` maps the number of a
    DataFrame-wide check to the rule that produced it.
    """

    schema: Any
    source: str
    sha256: str
    n_checks: int
    column_labels: Mapping[tuple[str, int], CheckLabel] = dataclasses.field(default_factory=dict)
    frame_labels: Mapping[int, CheckLabel] = dataclasses.field(default_factory=dict)


def load_rules(path: str | Path) -> RuleSet:
    """Read a YAML rules file (format in the module docstring) and compile it with pandera.

    Raises
    ------
    InvalidInput
        The file is missing, not YAML, or holds an unknown key or check (the message names the
        file, line and key, and suggests the closest known name), or a value of the wrong type.
    """
    data, where, digest = read_yaml(path)
    return rules_from_mapping(data, source=where.source, sha256=digest, where=where)


def rules_from_mapping(data: Any, *, source: str = "rules", sha256: str | None = None, where: Where | None = None) -> RuleSet:
    """Compile rules given as a mapping (the parsed YAML) into a :class:`RuleSet`."""
    import pandera.pandas as pa

    from ..core.hashing import canonical_json

    w: Where = where if where is not None else Where(source, {})
    if not isinstance(data, dict):
        raise w.error((), "a rules file is a mapping with 'columns' and/or 'checks'", hint="see the example in the docs")
    _known(data, TOP_LEVEL_KEYS, (), w, "key")
    if data.get("version", 1) != 1:
        raise w.error(("version",), f"unknown rules format version {data.get('version')!r}", hint="use version: 1")
    columns_spec = data.get("columns") or {}
    if not isinstance(columns_spec, dict):
        raise w.error(("columns",), "'columns' must map column names to their checks")
    columns: dict[Any, Any] = {}
    column_labels: dict[tuple[str, int], CheckLabel] = {}
    n_checks = 0
    for name, spec in columns_spec.items():
        path: Path_ = ("columns", name)
        if not isinstance(name, (str, int)) or isinstance(name, bool):
            raise w.error(path, f"column name {name!r} must be text")
        spec = {} if spec is None else spec
        if not isinstance(spec, dict):
            raise w.error(path, f"the checks of column {name!r} must be a mapping like {{dtype: int64, ge: 0}}")
        _known(spec, COLUMN_CHECKS, path, w, f"check for column {name!r}")
        checks, labels = _column_checks(spec, path, w, pa)
        for i, label in enumerate(labels):
            column_labels[(str(name), i)] = label
        dtype = _dtype(spec["dtype"], (*path, "dtype"), w) if "dtype" in spec else None
        nullable = _bool(spec, "nullable", False, path, w)
        unique_values = _bool(spec, "unique", False, path, w)
        required = _bool(spec, "required", True, path, w)
        columns[name] = pa.Column(
            dtype,
            checks=checks,
            nullable=nullable,
            unique=unique_values,
            required=required,
            description=str(spec["description"]) if spec.get("description") is not None else None,
            name=cast(Any, name),  # YAML keys may be numbers, like pandas column names
        )
        n_checks += len(checks) + sum((dtype is not None, not nullable, unique_values, required))
    frame_checks, frame_labels = _frame_checks(data, w, pa)
    unique = data.get("unique")
    if unique is not None:
        unique = _column_list(unique, ("unique",), w)
    strict = _bool(data, "strict", False, (), w)
    schema = pa.DataFrameSchema(
        columns,
        checks=frame_checks,
        unique=unique,
        strict=strict,
        name=source,
        description=str(data["description"]) if data.get("description") is not None else None,
    )
    n_checks += len(frame_checks) + (unique is not None) + strict
    digest = sha256 or sha256_text(canonical_json(data))
    return RuleSet(schema, source, digest, n_checks, column_labels, frame_labels)


def rules_from_schema(schema: Any) -> RuleSet:
    """Wrap a pandera ``DataFrameSchema`` (or ``DataFrameModel`` class) given directly in Python.

    Its hash is the SHA-256 of pandera's YAML form of the schema; a schema with custom check
    functions pandera cannot serialize is hashed from its ``repr`` instead.
    """
    import pandera.pandas as pa

    if isinstance(schema, type) and hasattr(schema, "to_schema"):
        schema = schema.to_schema()
    if not isinstance(schema, pa.DataFrameSchema):
        raise UnsupportedData(
            f"rules must be a pandera DataFrameSchema or a path to a YAML rules file, got {type(schema).__name__}",
            value=type(schema).__name__,
            hint="pass pandera.pandas.DataFrameSchema(...) or 'rules/arrests.yaml'",
            field="rules",
        )
    try:
        text = schema.to_yaml() or repr(schema)
    except Exception:  # pandera cannot serialize custom check functions
        text = repr(schema)
    n = len(schema.checks) + sum(1 + len(c.checks) + (c.dtype is not None) for c in schema.columns.values())
    return RuleSet(schema, f"pandera schema {schema.name or ''}".strip(), sha256_text(text), n)


# -- pieces ----------------------------------------------------------------------------------------
def _known(spec: dict[Any, Any], allowed: tuple[str, ...], path: Path_, w: Where, what: str) -> None:
    for key in spec:
        if key in allowed:
            continue
        raise w.error((*path, key), f"unknown {what} {key!r}", value=key, hint=suggest(key, allowed))


def _bool(spec: dict[Any, Any], key: str, default: bool, path: Path_, w: Where) -> bool:
    value = spec.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise w.error((*path, key), f"{key} must be true or false, got {value!r}", value=value)
    return value


def _dtype(value: Any, path: Path_, w: Where) -> Any:
    from pandera.engines import pandas_engine

    if not isinstance(value, str):
        raise w.error(path, f"dtype must be a type name like int64, got {value!r}", value=value)
    try:
        pandas_engine.Engine.dtype(value)
    except (TypeError, ValueError) as exc:
        close = difflib.get_close_matches(value, _DTYPE_NAMES, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise w.error(path, f"unknown dtype {value!r}", value=value, hint=f"{hint}e.g. {', '.join(_DTYPE_NAMES[:9])}") from exc
    return value


def _scalar(value: Any, path: Path_, w: Where, *, numeric_only: bool = False) -> Any:
    import pandas as pd

    if isinstance(value, (dt.date, dt.datetime)):
        return pd.Timestamp(value)
    if isinstance(value, bool) and numeric_only:
        raise w.error(path, f"expected a number or a date, got {value!r}", value=value)
    if isinstance(value, (int, float, str, bool)):
        return value
    raise w.error(path, f"expected a single value (number, text or date), got {type(value).__name__}", value=repr(value)[:80])


def _column_checks(spec: dict[str, Any], path: Path_, w: Where, pa: Any) -> tuple[list[Any], list[CheckLabel]]:
    checks: list[Any] = []
    labels: list[CheckLabel] = []
    builders = {
        "ge": pa.Check.ge,
        "gt": pa.Check.gt,
        "le": pa.Check.le,
        "lt": pa.Check.lt,
        "eq": pa.Check.eq,
        "ne": pa.Check.ne,
    }
    for key, value in spec.items():  # file order, so reports list checks as written
        here = (*path, key)
        if key in builders:
            arg = _scalar(value, here, w, numeric_only=key not in ("eq", "ne"))
            checks.append(builders[key](arg))
            labels.append(CheckLabel(key, _show(value)))
        elif key in ("isin", "notin"):
            if not isinstance(value, list) or not value:
                raise w.error(here, f'{key} must be a non-empty list of values, e.g. ["Yes", "No"]', value=repr(value)[:80])
            items = [_scalar(v, (*here, i), w) for i, v in enumerate(value)]
            checks.append(pa.Check.isin(items) if key == "isin" else pa.Check.notin(items))
            labels.append(CheckLabel(key, _show(value)))
        elif key == "str_matches":
            if not isinstance(value, str):
                raise w.error(here, f"str_matches must be a regular expression in quotes, got {value!r}", value=value)
            try:
                re.compile(value)
            except re.error as exc:
                raise w.error(here, f"invalid regular expression {value!r}: {exc}", value=value) from exc
            checks.append(pa.Check.str_matches(value))
            labels.append(CheckLabel(key, value))
        elif key == "str_length":
            bounds = value if isinstance(value, dict) else None
            if (
                bounds is None
                or not bounds
                or set(bounds) - {"min", "max"}
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in bounds.values())
            ):
                raise w.error(here, "str_length must be {min: N, max: M} with whole numbers", value=repr(value)[:80])
            checks.append(pa.Check.str_length(bounds.get("min"), bounds.get("max")))
            labels.append(CheckLabel(key, _show(bounds)))
    return checks, labels


def _column_list(value: Any, path: Path_, w: Where) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise w.error(path, "expected a list of column names, e.g. [colour, year]", value=repr(value)[:80])
    return list(value)


def _frame_checks(data: dict[str, Any], w: Where, pa: Any) -> tuple[list[Any], dict[int, CheckLabel]]:
    checks: list[Any] = []
    labels: dict[int, CheckLabel] = {}
    for key in ("min_rows", "max_rows"):
        if data.get(key) is None:
            continue
        n = data[key]
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise w.error((key,), f"{key} must be a whole number >= 0, got {n!r}", value=n)
        labels[len(checks)] = CheckLabel(key, str(n))
        checks.append(pa.Check(_row_count(n, at_least=key == "min_rows"), name=key))
    if data.get("min_rows") is not None and data.get("max_rows") is not None and data["min_rows"] > data["max_rows"]:
        raise w.error(("max_rows",), f"max_rows {data['max_rows']} is below min_rows {data['min_rows']}")
    items = data.get("checks") or []
    if not isinstance(items, list):
        raise w.error(("checks",), "'checks' must be a list of {check: ..., ...} items")
    for i, item in enumerate(items):
        path: Path_ = ("checks", i)
        if not isinstance(item, dict) or "check" not in item:
            raise w.error(path, "each cross-column check is a mapping with a 'check' key, e.g. {check: le, left: a, right: b}")
        _known(item, _CROSS_KEYS, path, w, "key in a cross-column check")
        op = item["check"]
        if op not in CROSS_CHECKS:
            raise w.error((*path, "check"), f"unknown cross-column check {op!r}", value=op, hint=suggest(op, CROSS_CHECKS))
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            raise w.error((*path, "name"), "name must be text", value=name)
        if op == "unique":
            if "left" in item or "right" in item:
                raise w.error(path, "a unique check takes 'columns', not left/right")
            cols = _column_list(item.get("columns"), (*path, "columns"), w)
            fn: Callable[[Any], Any] = _unique_rows(cols)
            label = CheckLabel(name or "unique", ", ".join(cols), tuple(cols), fn)
        else:
            left, right = item.get("left"), item.get("right")
            if not isinstance(left, str) or not isinstance(right, str) or "columns" in item:
                raise w.error(path, f"a {op} check compares two columns: {{check: {op}, left: COLUMN, right: COLUMN}}")
            fn = _compare(_COMPARISONS[op], left, right)
            symbol = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}[op]
            label = CheckLabel(name or op, f"{left} {symbol} {right}", (left, right), fn)
        labels[len(checks)] = label
        checks.append(pa.Check(fn, name=label.check, n_failure_cases=MAX_EXAMPLES))
    return checks, labels


def _row_count(n: int, *, at_least: bool) -> Callable[[Any], bool]:
    def check(df: Any) -> bool:
        return len(df) >= n if at_least else len(df) <= n

    return check


def _compare(op: Callable[[Any, Any], Any], left: str, right: str) -> Callable[[Any], Any]:
    def check(df: Any) -> Any:
        a, b = df[left], df[right]
        skipped = a.isna() | b.isna()
        return op(a, b).fillna(False).astype(bool) | skipped

    return check


def _unique_rows(columns: list[str]) -> Callable[[Any], Any]:
    def check(df: Any) -> Any:
        return ~df.duplicated(subset=columns, keep=False)

    return check


def _show(value: Any) -> str:
    from ..core.hashing import canonical_json

    try:
        return canonical_json(value)
    except (TypeError, ValueError):
        return str(value)
