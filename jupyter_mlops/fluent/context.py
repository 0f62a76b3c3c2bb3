"""The current workspace: a :class:`contextvars.ContextVar`, never a module global.

Set it with :func:`init` or :func:`use`; when none is set, the workspace is discovered from the
working directory (nearest ``.mlops/``, or ``JUPYTER_MLOPS_HOME``) and the opened object is reused.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["current_workspace", "init", "use"]


_current: contextvars.ContextVar[Workspace | None] = contextvars.ContextVar("jupyter_mlops_workspace", default=None)


_opened: dict[tuple[str, str | None], Workspace] = {}


def current_workspace() -> Workspace:
    """The workspace set by :func:`init`/:func:`use`, else the one found from the working directory."""
    ws = _current.get()
    if ws is not None:
        return ws
    from ..config import find_root
    from ..workspace import Workspace

    root = find_root()
    key = (str(root), os.environ.get("JUPYTER_MLOPS_USER"))
    ws = _opened.get(key)
    if ws is None:
        ws = Workspace.open(root)
        _opened[key] = ws
    return ws


def use(workspace: Workspace | str | Path, *, user: str | None = None) -> Workspace:
    """Make ``workspace`` (an object or a project folder) current in this context."""
    from ..workspace import Workspace

    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace, user=user)
    _current.set(ws)
    return ws


def init(path: str | Path = ".", *, user: str | None = None) -> Workspace:
    """Create (or open) the workspace in ``path`` and make it current; see :func:`jupyter_mlops.create.init`."""
    from ..create import init as _init

    ws = _init(path, user=user)
    _current.set(ws)
    return ws
