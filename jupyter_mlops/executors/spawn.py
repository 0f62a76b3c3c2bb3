"""Starting worker processes with ``spawn`` from inside IPython (shared by every executor)."""

from __future__ import annotations

import sys

__all__ = ["ensure_spawnable_main"]


def ensure_spawnable_main() -> None:
    """Let ``spawn`` start workers from inside IPython.

    multiprocessing's spawn reads ``sys.modules["__main__"].__spec__``; IPython (a notebook
    kernel, or any ``InteractiveShell``) replaces ``__main__`` with a module that has no such
    attribute, so starting a process pool or a Dask nanny from a notebook fails with
    ``AttributeError: module has no attribute '__spec__'``. ``None`` is what a script run by
    path has, and tells spawn not to re-import the main module in the worker.
    """
    main = sys.modules.get("__main__")
    if main is not None and not hasattr(main, "__spec__"):
        main.__spec__ = None
