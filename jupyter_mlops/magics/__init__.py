"""IPython magics: ``%%track`` and ``%mlops``. Loading them imports nothing heavy."""

from __future__ import annotations

from typing import Any

__all__ = ["load", "unload"]


def load(ipython: Any) -> None:
    """Register the magics, the cell-id hook and the short error display on ``ipython``."""
    from .core import MlopsMagics

    magics = MlopsMagics(ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics.remember_cell)
    from ..errors import MlopsError

    ipython.set_custom_exc((MlopsError,), magics.show_error)


def unload(ipython: Any) -> None:
    """Remove the cell hook and the error display (the magics stay until the kernel restarts)."""
    magics = ipython.magics_manager.registry.get("MlopsMagics")
    if magics is not None:
        try:
            ipython.events.unregister("pre_run_cell", magics.remember_cell)
        except ValueError:
            pass
    ipython.set_custom_exc((), None)
