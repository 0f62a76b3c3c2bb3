"""``jupyter-mlops db status | upgrade``: the metadata schema's Alembic revision, and upgrading it.

An embedded workspace upgrades itself when it opens; a shared (PostgreSQL) database is upgraded
here, once, by whoever administers it (like ``mlflow db upgrade`` for MLflow's own store).
"""

from __future__ import annotations

import argparse
from typing import Any

from .commands import Context, Result


def register(subs: Any) -> None:
    db = subs.add_parser("db", help="the metadata database's schema (Alembic revisions)").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    p = db.add_parser("status", help="the schema revision, the newest this release knows, and what an upgrade would do")
    p.set_defaults(func=_status)
    p = db.add_parser("upgrade", help="apply the pending revisions (an older revision than the database's is refused)")
    p.add_argument("--to", dest="target", default="head", help="revision to upgrade to (default: head)")
    p.set_defaults(func=_upgrade)


def _settings_workspace(ctx: Context, args: argparse.Namespace) -> Any:
    """The workspace with its settings resolved but its schema untouched (these commands decide about it)."""
    from ..config import resolve_settings
    from ..workspace import Workspace

    return Workspace(resolve_settings(args.root, user=args.user))


def _describe(ws: Any, state: Any) -> str:
    from ..team.schema import describe_status

    return describe_status(ws.settings.metadata_url, state)


def _status(ctx: Context, args: argparse.Namespace) -> Result:
    ws = _settings_workspace(ctx, args)
    state = ws.db.status()
    return Result(state, _describe(ws, state))


def _upgrade(ctx: Context, args: argparse.Namespace) -> Result:
    ws = _settings_workspace(ctx, args)
    before = ws.db.status()
    after = ws.upgrade_schema(target=args.target)
    applied = [r for r in before.pending if r not in after.pending]
    text = f"applied {', '.join(applied)}\n" if applied else "nothing to apply\n"
    return Result(after, text + _describe(ws, after))
