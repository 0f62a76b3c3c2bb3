"""Where a frame came from: the data version it was loaded (or versioned) as, and what was derived.

pandas carries ``DataFrame.attrs`` through column selection, filtering, ``head``, ``astype``,
``drop``, ``reset_index``, ``train_test_split`` and most other operations (``__finalize__``
deep-copies them; checked on pandas 3.1). So a frame returned by ``mlops.load_data`` or passed to
``mlops.version_data`` is marked with its version, and every frame derived from it carries the
mark into ``evaluate`` and ``log_model``, which record the version as read together with what
was derived (the columns kept, the rows kept, the derived frame's own fingerprint).

A frame without the mark (built anew, or read back from a file) is matched by its full-content
fingerprint against the catalogue; only when that fails too is it "not versioned", and then its
fingerprint is what gets recorded. Anything else (arrays, lists) has no fingerprint of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import MlopsError

if TYPE_CHECKING:
    from ..core.context import Context
    from .entities import DataVersion

__all__ = ["ATTR", "derivation_text", "describe", "mark", "marked_spec"]

#: The key under ``DataFrame.attrs`` holding ``{"spec": ..., "fingerprint": ...}``.
ATTR = "jupyter_mlops"


def mark(obj: Any, version: DataVersion) -> None:
    """Mark a DataFrame or Series as (derived from) ``version``; other objects are left alone."""
    attrs = getattr(obj, "attrs", None)
    if isinstance(attrs, dict) and version.kind in ("frame", "series"):
        attrs[ATTR] = {"spec": version.spec, "fingerprint": version.fingerprint}


def marked_spec(obj: Any) -> str | None:
    """The version spec an object is marked with, if any."""
    attrs = getattr(obj, "attrs", None)
    entry = attrs.get(ATTR) if isinstance(attrs, dict) else None
    spec = entry.get("spec") if isinstance(entry, dict) else None
    return spec if isinstance(spec, str) else None


def _own_fingerprint(obj: Any) -> str | None:
    from .fingerprint import fingerprint_object

    try:
        return fingerprint_object(obj)
    except MlopsError:  # a column with no canonical encoding: it cannot be matched
        return None


def _columns(obj: Any) -> list[str]:
    cols = getattr(obj, "columns", None)
    if cols is not None:
        return [str(c) for c in cols]
    name = getattr(obj, "name", None)
    return [] if name is None else [str(name)]


def describe(ctx: Context, obj: Any, *, fingerprint: str | None = None) -> dict[str, Any]:
    """What is known about where ``obj`` came from, as JSON-safe data.

    Returns
    -------
    dict
        ``{"data_version": "name@N", "fingerprint": <version's>}`` for a version or an exact copy
        of one; for a frame derived from a version also ``"derived": {"fingerprint", "rows",
        "of_rows", "columns", "of_columns"}`` (``columns`` lists the kept columns when some were
        dropped); for anything else ``{"data_version": None, "fingerprint": <its own, or None>,
        "rows": ...}``. ``fingerprint`` is ``obj``'s own, when the caller computed it already.
    """
    import pandas as pd

    from . import queries
    from .entities import DataVersion

    if isinstance(obj, DataVersion):
        return {"data_version": obj.spec, "fingerprint": obj.fingerprint}
    if not isinstance(obj, (pd.DataFrame, pd.Series)):
        return {"data_version": None, "fingerprint": None, "rows": _rows(obj)}
    own = fingerprint or _own_fingerprint(obj)
    spec = marked_spec(obj)
    version = None
    if spec is not None:
        try:
            version = queries.show(ctx, spec)
        except MlopsError:
            version = None
    if version is None and own is not None:
        version = queries.find_by_fingerprint(ctx, own)
    if version is None:
        return {"data_version": None, "fingerprint": own, "rows": len(obj), "columns": len(_columns(obj))}
    out: dict[str, Any] = {"data_version": version.spec, "fingerprint": version.fingerprint}
    if own != version.fingerprint:
        cols = _columns(obj)
        all_cols = [str(c.get("name")) for c in version.schema.get("columns", [])]
        out["derived"] = {
            "fingerprint": own,
            "rows": len(obj),
            "of_rows": version.n_rows,
            "columns": cols if cols != all_cols else None,
            "of_columns": version.n_cols,
        }
    return out


def _rows(obj: Any) -> int | None:
    try:
        return len(obj)
    except TypeError:
        return None


def derivation_text(origin: Mapping[str, Any]) -> str:
    """``"columns year, age of 8; 1307 of 1307 rows"``: what a derived frame kept of its version."""
    d = origin.get("derived") or {}
    if not d:
        return ""
    parts = []
    if d.get("columns") is not None:
        parts.append(f"columns {', '.join(d['columns'])} of {d.get('of_columns')}")
    parts.append(f"{d.get('rows')} of {d.get('of_rows')} rows")
    return "; ".join(parts)
