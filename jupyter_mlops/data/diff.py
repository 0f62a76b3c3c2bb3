"""Differences between two data versions: schema, row counts, profiles and, given a key, rows.

Schema and profile changes come from what each version recorded, so they cost nothing and never
touch the snapshots. The row-level diff aligns both frames on the key and compares every shared
column, so it reports which rows were added, removed or changed and which columns changed.
Key values of a sensitive key column are masked in everything this module returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from .entities import MASK, DataDiff, DataVersion

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXAMPLES", "diff_versions"]

EXAMPLES = 10
_COMPARED = ("nulls", "distinct", "min", "max", "mean", "std", "top")


def _columns(v: DataVersion) -> dict[str, str]:
    return {c["name"]: c["dtype"] for c in v.schema.get("columns", [])}


def _profiles(v: DataVersion) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in v.profile.get("columns", [])}


def diff_versions(
    a: DataVersion,
    b: DataVersion,
    *,
    key: tuple[str, ...] = (),
    frames: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> DataDiff:
    """Compare two versions; ``frames`` (both snapshots, loaded) are needed only with a ``key``."""
    ca, cb = _columns(a), _columns(b)
    pa_, pb_ = _profiles(a), _profiles(b)
    profile_changes: dict[str, dict[str, list[Any]]] = {}
    for col in ca:
        if col not in cb or col not in pa_ or col not in pb_:
            continue
        x, y = pa_[col], pb_[col]
        changed = {k: [x.get(k), y.get(k)] for k in _COMPARED if x.get(k) != y.get(k)}
        if changed:
            profile_changes[col] = changed
    out: dict[str, Any] = {
        "a": a.spec,
        "b": b.spec,
        "same_content": a.fingerprint == b.fingerprint,
        "rows": (a.n_rows, b.n_rows),
        "columns_added": tuple(c for c in cb if c not in ca),
        "columns_removed": tuple(c for c in ca if c not in cb),
        "dtype_changes": {c: [ca[c], cb[c]] for c in ca if c in cb and ca[c] != cb[c]},
        "profile_changes": profile_changes,
    }
    if key and frames is not None:
        masked = bool(set(key) & (set(a.sensitive) | set(b.sensitive)))
        out.update(_row_diff(frames[0], frames[1], key, masked, a, b))
    return DataDiff(**out)


def _key_text(value: Any, masked: bool) -> str:
    if masked:
        return MASK
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)[:120]
    return str(value)[:120]


def _row_diff(
    fa: pd.DataFrame, fb: pd.DataFrame, key: tuple[str, ...], masked: bool, a: DataVersion, b: DataVersion
) -> dict[str, Any]:
    import numpy as np

    for frame, v in ((fa, a), (fb, b)):
        missing = [k for k in key if k not in frame.columns]
        if missing:
            raise InvalidInput(
                f"key column {missing[0]!r} is not in {v.spec}",
                value=missing[0],
                hint=f"choose key columns present in both versions: {', '.join(str(c) for c in frame.columns[:20])}",
                field="key",
            )
        dup = frame.duplicated(list(key)).sum()
        if dup:
            raise InvalidInput(
                f"key {', '.join(key)} is not unique in {v.spec} ({dup} duplicate rows)",
                value=list(key),
                hint="choose key columns that identify each row",
                field="key",
            )
    ia = fa.set_index(list(key))
    ib = fb.set_index(list(key))
    added = ib.index.difference(ia.index, sort=False)
    removed = ia.index.difference(ib.index, sort=False)
    common = ia.index.intersection(ib.index, sort=False)
    shared = [c for c in ia.columns if c in ib.columns]
    xa = ia.loc[common, shared]
    xb = ib.loc[common, shared]
    changed = np.zeros((len(common), len(shared)), dtype=bool)
    for j, col in enumerate(shared):
        changed[:, j] = _differs(xa[col], xb[col])
    row_changed = changed.any(axis=1)
    examples = []
    for i in np.flatnonzero(row_changed)[:EXAMPLES]:
        examples.append({"key": _key_text(common[i], masked), "columns": [str(shared[j]) for j in np.flatnonzero(changed[i])]})
    return {
        "key": key,
        "rows_added": len(added),
        "rows_removed": len(removed),
        "rows_changed": int(row_changed.sum()),
        "changed_columns": {str(col): int(changed[:, j].sum()) for j, col in enumerate(shared) if changed[:, j].any()},
        "added_examples": tuple(_key_text(k, masked) for k in added[:EXAMPLES]),
        "removed_examples": tuple(_key_text(k, masked) for k in removed[:EXAMPLES]),
        "changed_examples": tuple(examples),
    }


def _differs(x: pd.Series, y: pd.Series) -> Any:
    """Cell-wise "changed" for two aligned columns; two missing values are equal."""
    import numpy as np

    both_missing = np.asarray(x.isna(), dtype=bool) & np.asarray(y.isna(), dtype=bool)
    try:
        equal = x == y
    except (TypeError, ValueError):  # e.g. categoricals with different categories
        equal = x.astype(object) == y.astype(object)
    return ~(np.asarray(equal.fillna(False), dtype=bool) | both_missing)
