"""One command table for two front-ends: the ``jupyter-mlops`` CLI and the ``%mlops`` line magic.

Each noun lives in a ``cmd_<noun>`` module with ``register(subparsers)``; every sub-command sets
``func(ctx, args) -> Result``. The CLI prints ``Result.text`` (or JSON with ``--json``) and exits
with ``Result.exit_code``; the magic displays ``Result.value`` (rich HTML) and returns it. Parsing
errors raise :class:`CommandUsageError` instead of exiting, so a kernel never dies on a typo.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import InvalidInput

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["COMMAND_MODULES", "CommandUsageError", "Context", "Result", "build_parser", "parse_kv", "split_list"]

#: Modules (under jupyter_mlops.cli) that register commands, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "cmd_core",
    "cmd_data",
    "cmd_card",
    "cmd_dashboard",
    "cmd_eval",
    "cmd_model",
    "cmd_pipeline",
    "cmd_serve",
    "cmd_compliance",
    "cmd_db",
    "cmd_migrate",
    "cmd_access",
)


class CommandUsageError(InvalidInput):
    """The command line could not be parsed; ``usage`` holds the usage text."""

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message, hint="see --help")
        self.usage = usage


@dataclasses.dataclass
class Result:
    """What a command returns: a value for notebooks/JSON and the text for a terminal."""

    value: Any
    text: str
    exit_code: int = 0

    def to_dict(self) -> Any:
        to_dict = getattr(self.value, "to_dict", None)
        if callable(to_dict):
            return to_dict()
        if isinstance(self.value, (list, tuple)):
            return [v.to_dict() if hasattr(v, "to_dict") else v for v in self.value]
        return self.value


@dataclasses.dataclass
class Context:
    """What a command may ask of its front-end."""

    open_workspace: Callable[[], Workspace]
    namespace: dict[str, Any] | None = None
    interactive: bool = False

    def workspace(self) -> Workspace:
        return self.open_workspace()

    def resolve_var(self, name: str) -> Any:
        """A variable of the notebook's namespace (only in the magic)."""
        if self.namespace is None:
            raise CommandUsageError(f"{name!r} names a notebook variable; this works only in `%mlops` inside a notebook")
        if not name.isidentifier() or name not in self.namespace:
            close = [k for k in self.namespace if not k.startswith("_") and k.lower() == name.lower()]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise CommandUsageError(f"no variable named {name!r} in the notebook{hint}")
        return self.namespace[name]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CommandUsageError(f"{self.prog}: {message}", self.format_usage())

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # --help inside a notebook must not exit the kernel; the CLI catches this as well.
        raise _HelpShown(self.format_help(), status)


class _HelpShown(Exception):
    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


def build_parser(prog: str = "jupyter-mlops") -> argparse.ArgumentParser:
    """The full parser: global options and every registered noun."""
    parser = _Parser(prog=prog, description="Jupyter-native MLOps: tracked runs, data versions, models, reviews, audit.")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("-C", "--root", help="project folder (default: nearest .mlops/ above the working directory)")
    parser.add_argument("--user", help="act as this identity (default: JUPYTER_MLOPS_USER or the OS user)")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    subs = parser.add_subparsers(dest="noun", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(subs)
    _accept_json_everywhere(parser)
    return parser


def _accept_json_everywhere(parser: argparse.ArgumentParser) -> None:
    """Let ``--json`` follow any sub-command (``runs list --json``), not only precede it.

    The sub-parsers' flag has no default (``SUPPRESS``), so it never overrides a ``--json`` given
    before the sub-command.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                if "--json" not in sub._option_string_actions:
                    sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON")
                _accept_json_everywhere(sub)


def split_list(value: str | None) -> list[str]:
    """``"a,b, c"`` -> ``["a", "b", "c"]``."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def parse_kv(items: Sequence[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}`` with a usage error for a missing ``=``."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandUsageError(f"expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain-text table for terminals."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
