"""What a run records about where it came from: environment, git state, notebook and cell.

Capture must stay off the cell's hot path: the package list is computed once per process (and
again only when ``sys.path`` changes), and git runs in a background thread that the run joins
when it closes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from ..core.hashing import canonical_json, sha256_text

__all__ = ["GitCapture", "environment", "environment_json", "find_notebook", "track_cell_id"]

_env_cache: dict[tuple[str, ...], tuple[dict[str, Any], str, str]] = {}


def environment() -> tuple[dict[str, Any], str, str]:
    """``(environment, canonical json, sha256)`` of Python, OS and installed packages."""
    key = tuple(sys.path)
    hit = _env_cache.get(key)
    if hit is not None:
        return hit
    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower()] = dist.version
    env = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "packages": dict(sorted(packages.items())),
    }
    text = canonical_json(env)
    result = (env, text, sha256_text(text))
    _env_cache.clear()
    _env_cache[key] = result
    return result


def environment_json() -> str:
    """The environment as pretty JSON (the artifact stored with each run)."""
    import json

    return json.dumps(environment()[0], indent=2, sort_keys=True)


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            timeout=10,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.decode("utf-8", "replace").strip() if out.returncode == 0 else None


def _inside_repository(root: Path) -> bool:
    """Whether ``root`` or a folder above it holds ``.git`` (a folder, or a file for worktrees)."""
    here = root.resolve()
    return any((folder / ".git").exists() for folder in (here, *here.parents))


def git_state(root: Path) -> dict[str, Any]:
    """Commit, branch, dirty flag and a hash of the uncommitted diff ("unknown" outside git).

    One ``git status --porcelain=v2 --branch`` call gives commit, branch and changes; the diff is
    read only when the tree is dirty.
    """
    if not _inside_repository(root):  # no process spawned where git would find nothing
        return dict(_UNKNOWN_GIT)
    status = _git(root, "status", "--porcelain=v2", "--branch", "--untracked-files=no")
    if status is None:
        return dict(_UNKNOWN_GIT)
    commit, branch, dirty = "unknown", "unknown", False
    for line in status.splitlines():
        if line.startswith("# branch.oid "):
            commit = line.split(" ", 2)[2]
        elif line.startswith("# branch.head "):
            branch = line.split(" ", 2)[2]
        elif line and not line.startswith("#"):
            dirty = True
    diff_hash = None
    if dirty:
        try:
            diff = subprocess.run(
                ["git", "-C", str(root), "diff", "HEAD"], capture_output=True, timeout=10, check=False, stdin=subprocess.DEVNULL
            ).stdout
            diff_hash = hashlib.sha256(diff).hexdigest()
        except (OSError, subprocess.SubprocessError):
            diff_hash = "unknown"
    return {"commit": commit, "branch": branch, "dirty": dirty, "diff_sha256": diff_hash}


_UNKNOWN_GIT = {"commit": "unknown", "branch": "unknown", "dirty": "unknown", "diff_sha256": "unknown"}


class GitCapture:
    """Reads git state in a background thread; :meth:`result` joins it."""

    def __init__(self, root: Path) -> None:
        self._result: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(root,), daemon=True, name="mlops-git")
        self._thread.start()

    def _run(self, root: Path) -> None:
        self._result = git_state(root)

    def result(self, timeout: float = 15.0) -> dict[str, Any]:
        self._thread.join(timeout)
        return self._result or dict(_UNKNOWN_GIT)


# -- which notebook, which cell --------------------------------------------------------------------
_MAX_NOTEBOOKS = 200
_MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


_cells_cache: dict[str, tuple[tuple[int, int], list[tuple[str, str, str | None]]]] = {}


def _track_cells(path: Path) -> list[tuple[str, str, str | None]]:
    """``(magic line, body, cell id)`` of every ``%%track`` code cell of a notebook file.

    Parsed once per version of the file (its size and modification time), so a folder of
    notebooks is not read again for every tracked cell.
    """
    try:
        st = path.stat()
        stamp = (st.st_size, st.st_mtime_ns)
        hit = _cells_cache.get(str(path))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        if st.st_size > _MAX_NOTEBOOK_BYTES:
            return []
        with open(path, encoding="utf-8") as fh:
            cells = json.load(fh).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return []
    found = _parse_track_cells(cells)
    if len(_cells_cache) > 4 * _MAX_NOTEBOOKS:
        _cells_cache.clear()
    _cells_cache[str(path)] = (stamp, found)
    return found


def _parse_track_cells(cells: Any) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    for c in cells if isinstance(cells, list) else []:
        if not isinstance(c, dict) or c.get("cell_type") != "code":
            continue
        src = c.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        first, _, rest = src.strip().partition("\n")
        if first.startswith("%%track"):
            cid = c.get("id")
            out.append((first[7:].strip(), rest.strip(), str(cid) if cid else None))
    return out


def track_cell_id(notebook: Path, line: str, body: str) -> str | None:
    """The id of the ``%%track`` cell with this magic line and body in ``notebook``, if it is there.

    Kernels run by papermill or nbclient are sent no cell id, so the cell is found by its source.
    """
    for magic, text, cid in _track_cells(notebook):
        if magic == line.strip() and text == body.strip():
            return cid
    return None


def find_notebook(folder: Path, line: str, body: str) -> tuple[Path, str | None] | None:
    """The one notebook in ``folder`` that holds this ``%%track`` cell, and the cell's id.

    A kernel started by nbclient (``jupyter nbconvert --execute``, papermill, a scheduler) runs in
    the notebook's folder but is never told the notebook's name. When exactly one notebook there
    has this very cell, that is the notebook; when several do (a copy, an output next to its
    input) or none does, nothing is recorded rather than a guess.
    """
    try:
        candidates = sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))
    except OSError:
        return None
    found = []
    for path in candidates[:_MAX_NOTEBOOKS]:
        hits = [cid for magic, text, cid in _track_cells(path) if magic == line.strip() and text == body.strip()]
        if hits:
            found.append((path, hits[0]))
    return found[0] if len(found) == 1 else None
