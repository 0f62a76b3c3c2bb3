"""``dashboard NAME``: open a reviewer dashboard (only in a notebook, through ``%mlops``)."""

from __future__ import annotations

import argparse
from typing import Any

from .commands import CommandUsageError, Context, Result

NAMES = ("experiments", "data", "models", "audit")


def register(subs: Any) -> None:
    p = subs.add_parser("dashboard", help="open a reviewer dashboard in the notebook (experiments, data, models, audit)")
    p.add_argument("name", choices=NAMES, help="which dashboard")
    p.add_argument("--experiment", help="experiments: the experiment to show first")
    p.add_argument("--page-size", type=int, default=None, help="rows per page")
    p.add_argument("--refresh", type=float, default=None, metavar="SECONDS", help="refresh periodically")
    p.set_defaults(func=_dashboard)


class _Shown:
    """Displays the dashboard widget when the magic returns it."""

    def __init__(self, board: Any, name: str) -> None:
        self.board = board
        self.name = name

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.board)  # type: ignore[no-untyped-call]

    def to_dict(self) -> dict[str, Any]:
        return {"dashboard": self.name}


def _dashboard(ctx: Context, args: argparse.Namespace) -> Result:
    if not ctx.interactive:
        raise CommandUsageError(
            f"`dashboard {args.name}` needs a notebook: run `%mlops dashboard {args.name}` "
            f"or `mlops.dashboard({args.name!r})` in a Jupyter cell (the CLI has `runs list`, `audit log` and `audit verify`)"
        )
    from ..widgets import dashboard

    options: dict[str, Any] = {}
    if args.experiment and args.name == "experiments":
        options["experiment"] = args.experiment
    if args.page_size:
        options["page_size"] = args.page_size
    if args.refresh:
        options["refresh_seconds"] = args.refresh
    board = dashboard(args.name, ctx.workspace(), **options)
    return Result(_Shown(board, args.name), f"{args.name} dashboard")
