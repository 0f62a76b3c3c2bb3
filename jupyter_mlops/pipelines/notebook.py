"""Notebook files without papermill: read and hash them, find their parameters cell, pick their kernel, write them atomically.

Read with the standard ``json`` module, so the cache path never pays for importing papermill or
nbformat.
"""

from __future__ import annotations

import ast
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.hashing import canonical_json, sha256_text
from ..errors import InvalidInput

__all__ = [
    "DEFAULT_KERNEL",
    "DefaultKernelWarning",
    "code_hash",
    "declared_parameters",
    "kernel_for",
    "parameters_cell",
    "read_notebook",
    "write_atomic",
]


DEFAULT_KERNEL = "python3"


def read_notebook(path: str | Path) -> dict[str, Any]:
    """The notebook's JSON, with a clear error when the file is missing or not a notebook."""
    p = Path(path)
    if p.suffix != ".ipynb":
        raise InvalidInput(f"{p} is not a notebook (.ipynb)", value=str(p), hint="pass a .ipynb file or a pipeline .yaml")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"no such notebook: {p}", value=str(p), hint="check the path and the working directory") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read notebook {p}: {exc}", value=str(p), hint="is it a valid .ipynb file?") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise InvalidInput(f"{p} is not a Jupyter notebook (no cells)", value=str(p))
    return data


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def code_hash(nb: Mapping[str, Any]) -> str:
    """SHA-256 over the code cells' sources only (outputs, metadata and markdown excluded)."""
    sources = [_source(c) for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    return sha256_text(canonical_json(sources))


def parameters_cell(nb: Mapping[str, Any]) -> int | None:
    """Index of the cell tagged ``parameters``, if any."""
    for i, cell in enumerate(nb.get("cells", [])):
        if "parameters" in (cell.get("metadata", {}).get("tags") or []):
            return i
    return None


def declared_parameters(nb: Mapping[str, Any]) -> dict[str, str] | None:
    """Names assigned in the ``parameters`` cell (name -> source text of the default), or ``None``."""
    index = parameters_cell(nb)
    if index is None:
        return None
    text = _source(nb["cells"][index])
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    out: dict[str, str] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name):
                value = getattr(node, "value", None)
                out[t.id] = ast.get_source_segment(text, value) or "" if value is not None else ""
    return out


class DefaultKernelWarning(UserWarning):
    """A notebook names no kernel (no kernelspec, e.g. written by jupytext), so it runs on ``python3``."""


def kernel_for(nb: Mapping[str, Any], requested: str | None, notebook: Path) -> tuple[str | None, str | None]:
    """``(kernel name to pass papermill, note)``: the requested kernel, the notebook's own, or ``python3``.

    papermill refuses a notebook without a kernelspec unless it is given a kernel name; such a
    notebook (a jupytext conversion, a hand-written file) runs on the default Python kernel, with a
    warning and a note on the run saying so.
    """
    if requested:
        return requested, None
    spec = (nb.get("metadata") or {}).get("kernelspec") or {}
    if isinstance(spec, Mapping) and spec.get("name"):
        return None, None
    note = f"{notebook.name} names no kernel (no kernelspec in its metadata); it ran on the default {DEFAULT_KERNEL!r} kernel"
    import warnings

    warnings.warn(note, DefaultKernelWarning, stacklevel=3)
    return DEFAULT_KERNEL, note


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
