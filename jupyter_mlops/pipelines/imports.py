"""Importing papermill without the JSON-schema format checkers nobody here asked for.

papermill imports nbformat, which imports jsonschema, whose ``_format`` module registers a format
checker for every optional library it finds installed. One of them, ``rfc3987_syntax`` (pulled in
by ``jsonschema[format-nongpl]``, which jupyter_events requires), builds a Lark grammar at import:
1.3 s on an idle machine, more than the rest of papermill together, and 40 % of a trivial
``papermill`` CLI run. nbformat validates notebooks with a plain ``Draft4Validator`` and no
format checker, so that grammar is never used on this path.

:func:`import_papermill` therefore imports jsonschema, when nothing in the process has yet, with
those modules masked (``sys.modules[name] = None`` makes their import fail, which jsonschema
already handles by leaving the format out), then unmasks them: a later ``import rfc3987_syntax``
works as usual. The only effect is that jsonschema's ``iri`` and ``iri-reference`` format checks
are not registered in this process; a process that imported jsonschema first (a Jupyter server,
jupyter_events) keeps all of them.
"""

from __future__ import annotations

import sys

__all__ = ["UNUSED_FORMAT_MODULES", "import_papermill"]

UNUSED_FORMAT_MODULES = ("rfc3987_syntax",)


def import_papermill() -> None:
    """Import papermill (and nbformat, jsonschema) with the unused costly format checkers skipped."""
    if "jsonschema" not in sys.modules:
        masked = [name for name in UNUSED_FORMAT_MODULES if name not in sys.modules]
        for name in masked:
            sys.modules[name] = None  # type: ignore[assignment]
        try:
            import jsonschema  # noqa: F401
        finally:
            for name in masked:
                if sys.modules.get(name, 0) is None:
                    del sys.modules[name]
    import papermill  # noqa: F401
