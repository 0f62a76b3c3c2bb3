"""Where rules come from: a YAML file read safely, with the line and column of every key.

A typo in a rules file should be answered like a compiler answers it: the file, the line, the key
and the closest valid name. So the file is parsed twice from the same text, once into plain
Python values (``yaml.safe_load``: no tags, no objects, nothing executed) and once into YAML
nodes for their positions. Duplicate keys, which YAML silently collapses, are refused.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from ..core.hashing import sha256_bytes
from ..core.paths import validate_file
from ..errors import InvalidInput

__all__ = ["ALIASES", "Path_", "Where", "read_yaml", "suggest"]

#: A key's path inside the file: ``("columns", "age", "ge")`` or ``("checks", 0, "check")``.
Path_ = tuple[str | int, ...]
_MAX_RULES_BYTES = 2 * 1024 * 1024
# spellings from other tools, suggested before difflib's guess
ALIASES = {
    "lte": "le",
    "gte": "ge",
    "<=": "le",
    ">=": "ge",
    "<": "lt",
    ">": "gt",
    "==": "eq",
    "!=": "ne",
    "min": "ge",
    "max": "le",
    "less_than_or_equal_to": "le",
    "greater_than_or_equal_to": "ge",
    "less_than": "lt",
    "greater_than": "gt",
    "in": "isin",
    "one_of": "isin",
    "allowed": "isin",
    "values": "isin",
    "not_in": "notin",
    "regex": "str_matches",
    "pattern": "str_matches",
    "matches": "str_matches",
    "type": "dtype",
    "null": "nullable",
    "nulls": "nullable",
    "not_null": "nullable",
    "optional": "required",
    "min_length": "str_length",
    "max_length": "str_length",
    "rows_min": "min_rows",
    "rows_max": "max_rows",
}


class Where:
    """Line and column (1-based) of every mapping key and list item, for error messages."""

    def __init__(self, source: str, marks: dict[Path_, tuple[int, int]]) -> None:
        self.source = source
        self.marks = marks

    def at(self, path: Path_) -> str:
        """``"rules.yaml, line 4, column 5"`` for ``path`` (or its nearest located parent)."""
        while path and path not in self.marks:
            path = path[:-1]
        line, col = self.marks.get(path, (1, 1))
        return f"{self.source}, line {line}, column {col}"

    def error(self, path: Path_, message: str, *, value: Any = None, hint: str | None = None) -> InvalidInput:
        """An :class:`InvalidInput` that names the file, line, column and key path."""
        key = ".".join(str(p) for p in path) or None
        return InvalidInput(f"{self.at(path)} ({key or 'top level'}): {message}", value=value, hint=hint, field=key)


def suggest(key: Any, allowed: tuple[str, ...]) -> str:
    """``"did you mean 'isin'? known: ..."`` for an unknown key (known aliases first, then difflib)."""
    alias = ALIASES.get(str(key).lower())
    close = [alias] if alias in allowed else difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
    return (f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(allowed)}"


def read_yaml(path: str | Path) -> tuple[Any, Where, str]:
    """Parse a rules file: its data, the positions of its keys, and the SHA-256 of its bytes."""
    import yaml

    file = validate_file(path)
    raw = file.read_bytes()
    if len(raw) > _MAX_RULES_BYTES:
        raise InvalidInput(f"rules file {file.name} is larger than 2 MiB", value=str(path), hint="split it or trim it")
    try:
        text = raw.decode("utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"rules file {file.name} is not UTF-8 text", value=str(path)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InvalidInput(
            f"{file.name}{where}: {problem}", value=str(path), hint="fix the YAML syntax (indentation, quotes, colons)"
        ) from exc
    marks: dict[Path_, tuple[int, int]] = {}
    _marks(node, (), marks, file.name)
    return data, Where(file.name, marks), sha256_bytes(raw)


def _marks(node: Any, path: Path_, out: dict[Path_, tuple[int, int]], where: str) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            sub = (*path, key)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise InvalidInput(
                    f"{where}, line {line}: duplicate key {key!r}", value=key, hint="each key may appear once", field=str(key)
                )
            seen.add(key)
            out[sub] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _marks(value_node, sub, out, where)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _marks(item, (*path, i), out, where)
