"""Checks that run before anything is written: is this object something we can version faithfully?

Each refusal is one :class:`~jupyter_mlops.errors.UnsupportedData` (or ``InvalidInput``) naming
the value and the fix, raised before any byte reaches the object store or the database.
"""

from __future__ import annotations

import difflib
import os
from typing import Any

from ..core.paths import validate_file
from ..errors import InvalidInput, UnsupportedData

__all__ = ["check_frame", "classify"]

_RESTORABLE_NAMES = (str, int, float, bool, type(None), tuple)


def classify(obj: Any) -> str:
    """``frame``, ``series``, ``file`` or ``folder``; anything else is refused."""
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return "frame"
    if isinstance(obj, pd.Series):
        return "series"
    if isinstance(obj, (str, os.PathLike)):
        path = validate_file(obj, must_exist=True, allow_dir=True)
        return "folder" if path.is_dir() else "file"
    raise UnsupportedData(
        f"cannot version an object of type {type(obj).__module__}.{type(obj).__qualname__}",
        value=type(obj).__name__,
        hint="pass a pandas DataFrame or Series, or the path of a file or folder (e.g. pd.DataFrame(obj) for arrays)",
        field="obj",
    )


def _suggest(name: str, columns: list[str]) -> str:
    close = difflib.get_close_matches(name, columns, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "columns are: " + ", ".join(columns[:20])


def check_frame(obj: Any, keys: tuple[str, ...], sensitive: tuple[str, ...]) -> None:
    """Refuse empty frames, duplicate or unrestorable column names, and unknown or non-unique keys."""
    import pandas as pd

    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    what = "series" if isinstance(obj, pd.Series) else "frame"
    if len(frame) == 0 or frame.shape[1] == 0:
        raise UnsupportedData(
            f"the {what} is empty ({frame.shape[0]} rows, {frame.shape[1]} columns)",
            value=f"{frame.shape[0]}x{frame.shape[1]}",
            hint="version data with at least one row and one column",
            field="obj",
        )
    labels = [str(c) for c in frame.columns]
    dupes = sorted({c for c in labels if labels.count(c) > 1})
    if dupes:
        raise UnsupportedData(
            f"the {what} has duplicate column names: {', '.join(repr(d) for d in dupes[:10])}",
            value=dupes[:10],
            hint="rename them first, e.g. df.columns = [...] or df.loc[:, ~df.columns.duplicated()]",
            field="obj",
        )
    for name in [*frame.columns, *frame.index.names]:
        parts = name if isinstance(name, tuple) else (name,)
        if not all(isinstance(p, _RESTORABLE_NAMES) for p in parts):
            raise UnsupportedData(
                f"column or index name {name!r} of type {type(name).__name__} cannot be stored faithfully",
                value=repr(name)[:80],
                hint="use text or numbers as names, e.g. df.columns = df.columns.astype(str)",
                field="obj",
            )
    for field, names in (("sensitive", sensitive), ("key", keys)):
        for col in names:
            if col not in labels:
                raise InvalidInput(
                    f"{field} column {col!r} is not in the {what}", value=col, hint=_suggest(col, labels), field=field
                )
    if keys:
        cols = [frame.columns[labels.index(k)] for k in keys]
        sub = frame[cols]
        if sub.isna().any().any():
            raise UnsupportedData(
                f"key {', '.join(keys)} has missing values", value=list(keys), hint="a key must identify every row", field="key"
            )
        dup = int(sub.duplicated().sum())
        if dup:
            raise UnsupportedData(
                f"key {', '.join(keys)} is not unique ({dup} duplicate rows)",
                value=list(keys),
                hint="choose columns that identify each row, or version without a key",
                field="key",
            )
