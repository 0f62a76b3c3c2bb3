"""``jupyter-mlops access sync [--check]``: the roles of config.toml onto the MLflow server's permissions."""

from __future__ import annotations

import argparse
from typing import Any

from .commands import Context, Result


def register(subs: Any) -> None:
    access = subs.add_parser("access", help="roles and permissions").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = access.add_parser(
        "sync",
        help="make the MLflow server's mlops-* roles match config.toml (run with MLflow admin credentials)",
        description="Roles are written down once, in config.toml ([roles], [review] reviewers); this gives the MLflow "
        "server the same: one MLflow role per role, with READ / EDIT / MANAGE on experiments and registered models.",
    )
    p.add_argument("--check", action="store_true", help="report the differences, change nothing (exit 5 when there are any)")
    p.set_defaults(func=_sync)


def _sync(ctx: Context, args: argparse.Namespace) -> Result:
    from ..governance.mlflow_roles import sync_mlflow_roles

    result = sync_mlflow_roles(ctx.workspace(), check=args.check)
    return Result(result, str(result), exit_code=5 if args.check and not result.in_sync else 0)
