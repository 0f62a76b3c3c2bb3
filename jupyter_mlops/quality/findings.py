"""Turn pandera's failure-case table into report rows, masking sensitive columns on the way.

pandera's lazy validation returns one row per failing value (``schema_context``, ``column``,
``check``, ``check_number``, ``failure_case``, ``index``); a table-wide check that flags rows lists
every column of every flagged row. A report wants one row per failed check: the column, the rule,
how many rows failed and a few examples. This is the one place that reads failing values, so it is
the one place that masks them: a value of a sensitive column is replaced by ``***`` here, before
any report, HTML, log line or database row can see it. pandera's own error messages (which quote
values) are never used.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .report import MASK, MAX_EXAMPLES, QualityFailure
from .rules import CheckLabel, RuleSet

__all__ = ["MAX_EXAMPLES", "failures_from_pandera", "json_value"]

_PANDERA_NAMES = {
    "greater_than_or_equal_to": "ge",
    "greater_than": "gt",
    "less_than_or_equal_to": "le",
    "less_than": "lt",
    "equal_to": "eq",
    "not_equal_to": "ne",
    "not_nullable": "nullable",
    "field_uniqueness": "unique",
    "multiple_fields_uniqueness": "unique",
    "column_in_dataframe": "column_present",
    "column_in_schema": "strict",
}
_EXCEPTION = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*(?:Error|Exception|Warning))\((.*)\)$", re.DOTALL)
# checks whose argument is a data value (masked for sensitive columns); dtype/nullable/unique are not
_STRUCTURAL = {"dtype", "nullable", "unique", "column_present", "strict", "min_rows", "max_rows"}


def json_value(value: Any) -> Any:
    """A JSON-safe, short form of one failing value (numpy scalars unwrapped, NaN as ``None``)."""
    if value is None:
        return None
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        try:
            value = item()
        except (ValueError, TypeError):
            pass
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:197] + "..."
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return str(isoformat())
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def failures_from_pandera(cases: Any, ruleset: RuleSet, frame: Any, sensitive: set[str]) -> tuple[QualityFailure, ...]:
    """Group pandera's ``failure_cases`` into one :class:`QualityFailure` per failed check."""
    import pandas as pd

    cases = cases.reset_index(drop=True)
    # one group per check: table-wide checks list every column of a failing row, so their
    # column is left out of the key
    per_column = cases["column"].where(cases["schema_context"] != "DataFrameSchema")
    keys = [cases["schema_context"], cases["check"], cases["check_number"].astype(object), per_column]
    columns: list[QualityFailure] = []
    table: list[QualityFailure] = []
    for _, group in cases.groupby(keys, sort=False, dropna=False):
        first = group.iloc[0]
        ctx, check = str(first["schema_context"]), str(first["check"])
        num = None if pd.isna(first["check_number"]) else int(first["check_number"])
        if ctx == "DataFrameSchema":
            table.extend(_table_failures(group, check, num, ruleset, frame, sensitive))
        else:
            columns.append(_column_failure(group, str(first["column"]), check, num, ruleset, sensitive))
    # column failures first (in the order pandera found them), then whole-table ones
    return (*columns, *table)


def _label(check: str, label: CheckLabel | None) -> tuple[str, str | None]:
    if label is not None:
        return label.check, label.expected
    head, paren, rest = check.partition("(")
    name = _PANDERA_NAMES.get(head, head)
    expected = rest[:-1] if paren and rest.endswith(")") else None
    if name == "dtype" and expected:
        expected = expected.strip("'\"")
    return name, expected


def _could_not_run(value: Any, involved_sensitive: bool) -> str | None:
    match = _EXCEPTION.match(str(value))
    if match is None:
        return None
    if involved_sensitive:
        return f"could not run: {match.group(1)}"
    return f"could not run: {match.group(1)}: {match.group(2)[:200].strip(chr(34) + chr(39))}"


def _column_failure(
    group: Any, column: str, check: str, number: int | None, ruleset: RuleSet, sensitive: set[str]
) -> QualityFailure:
    masked = column in sensitive
    name, expected = _label(check, ruleset.column_labels.get((column, number)) if number is not None else None)
    if masked and expected is not None and name not in _STRUCTURAL:
        expected = MASK
    rows = group["index"]
    if name == "nullable":
        expected = "no nulls"
    if name == "dtype":
        return QualityFailure(column, "dtype", expected, None, (), json_value(group["failure_case"].iloc[0]))
    if rows.isna().all():  # the check looked at the column as a whole (or could not run)
        value = group["failure_case"].iloc[0]
        found = _could_not_run(value, masked) or (MASK if masked else str(json_value(value)))
        return QualityFailure(column, name, expected, None, (), found)
    examples: tuple[Any, ...] = ()
    if name != "nullable":
        values = group["failure_case"].head(MAX_EXAMPLES)
        examples = tuple(MASK if masked else json_value(v) for v in values)
    return QualityFailure(column, name, expected, int(rows.nunique()), examples)


def _table_failures(
    group: Any, check: str, number: int | None, ruleset: RuleSet, frame: Any, sensitive: set[str]
) -> list[QualityFailure]:
    if check in ("column_in_dataframe", "column_in_schema"):
        absent = check == "column_in_dataframe"
        return [
            QualityFailure(
                str(v),
                "column_present" if absent else "strict",
                "present" if absent else "only the columns in the rules",
                None,
                (),
                "missing" if absent else "not in the rules",
            )
            for v in group["failure_case"]
        ]
    label = ruleset.frame_labels.get(number) if number is not None else None
    name, expected = _label(check, label)
    if check == "multiple_fields_uniqueness":
        involved = tuple(str(c) for c in ruleset.schema.unique or ())
        expected = ", ".join(involved)
    else:
        involved = label.columns if label is not None else tuple(dict.fromkeys(str(c) for c in group["column"].dropna()))
    hidden = any(c in sensitive for c in involved)
    column = ", ".join(involved) if involved else None
    rows = group["index"]
    if rows.isna().all():
        value = group["failure_case"].iloc[0]
        missing = [c for c in involved if c not in {str(x) for x in frame.columns}]
        if missing:
            found = f"column {missing[0]!r} is missing"
        elif name in ("min_rows", "max_rows"):
            found = f"{len(frame)} rows"
        else:
            found = _could_not_run(value, hidden) or (MASK if hidden else str(json_value(value)))
        return [QualityFailure(column, name, MASK if hidden and name not in _STRUCTURAL else expected, None, (), found)]
    # row-level: examples read back from the frame (pandera's failure cases upcast the values)
    labels = list(dict.fromkeys(rows))[:MAX_EXAMPLES]
    shown = [c for c in involved if c in {str(x) for x in frame.columns}] if involved else [str(c) for c in frame.columns]
    by_name = {str(c): c for c in frame.columns}
    sample = frame.loc[frame.index.isin(labels), [by_name[c] for c in shown]].head(MAX_EXAMPLES)
    examples = tuple(
        {c: (MASK if c in sensitive else json_value(v)) for c, v in zip(shown, values, strict=True)}
        for values in sample.itertuples(index=False, name=None)
    )
    failing = int((~label.rows_ok(frame)).sum()) if label is not None and label.rows_ok is not None else int(rows.nunique())
    return [QualityFailure(column, name, expected, failing, examples)]
