"""Canonical serialization and hashing shared by the audit chain, cards and caches.

Hashes that are evidence must be reproducible in another process, on another machine, years
later. So everything hashed goes through one canonical JSON form: sorted keys, no whitespace,
UTF-8, no NaN, and a fixed rendering of non-JSON scalars.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["canonical_json", "sha256_bytes", "sha256_file", "sha256_json", "sha256_text"]

_CHUNK = 1 << 20


def _default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return obj.as_posix()
    if isinstance(obj, bytes):
        return obj.hex()
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    isoformat = getattr(obj, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    item = getattr(obj, "item", None)  # numpy scalars, without importing numpy
    if callable(item):
        return item()
    raise TypeError(f"cannot serialize {type(obj).__name__} canonically")


def canonical_json(obj: Any) -> str:
    """Serialize ``obj`` to the canonical JSON text used for every hash."""
    return json.dumps(
        obj,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
    )


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """Hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(obj: Any) -> str:
    """Hex SHA-256 of the canonical JSON form of ``obj``."""
    return sha256_text(canonical_json(obj))


def sha256_file(path: str | Path, chunks: Iterable[bytes] | None = None) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    if chunks is not None:
        for chunk in chunks:
            h.update(chunk)
        return h.hexdigest()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            h.update(block)
    return h.hexdigest()
