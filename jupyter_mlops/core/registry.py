"""A small plug-in registry, one per extension axis (executors, data encoders, ...).

Implementations register by name in code or through the ``jupyter_mlops.<axis>`` entry-point
group; looking up an unknown name raises a :class:`~jupyter_mlops.errors.NotFound` that lists the
names that exist.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Generic, TypeVar

from ..errors import NotFound

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → implementation (or a factory), with entry points loaded lazily."""

    def __init__(self, axis: str) -> None:
        self.axis = axis
        self._items: dict[str, Callable[[], T] | T] = {}
        self._loaded_entry_points = False

    def register(self, name: str, impl: Callable[[], T] | T) -> None:
        """Register ``impl`` (an object or a zero-argument factory) under ``name``."""
        self._items[name] = impl

    def names(self) -> list[str]:
        """All registered names, entry points included."""
        self._load_entry_points()
        return sorted(self._items)

    def get(self, name: str) -> Callable[[], T] | T:
        """Return the implementation registered under ``name``."""
        self._load_entry_points()
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._items, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(self._items)) or 'none'}"
            raise NotFound(f"no {self.axis} named {name!r}", value=name, hint=hint) from None

    def _load_entry_points(self) -> None:
        if self._loaded_entry_points:
            return
        self._loaded_entry_points = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=f"jupyter_mlops.{self.axis}"):
            self._items.setdefault(ep.name, ep.load)
