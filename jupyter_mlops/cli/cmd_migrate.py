"""``jupyter-mlops migrate --to CONFIG``: copy this workspace to team services (verified, resumable)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .commands import Context, Result


def register(subs: Any) -> None:
    p = subs.add_parser(
        "migrate",
        help="copy this workspace to team services (runs, artifacts, registry, metadata, audit chain, objects)",
        description="Copies everything, verifies every hash, and can be run again after an interruption: what was "
        "copied is skipped, what was half-copied is redone. Then points config.toml at the services.",
    )
    p.add_argument("--to", dest="config", required=True, help="a TOML file with [tracking], [metadata], [objects], [executor]")
    p.add_argument("--keep-config", action="store_true", help="copy, but leave config.toml pointing where it points")
    p.set_defaults(func=_migrate)


def _migrate(ctx: Context, args: argparse.Namespace) -> Result:
    from ..config import load_team_file
    from ..team.migrate import migrate

    services = load_team_file(args.config)
    ws = ctx.workspace()

    def progress(step: str) -> None:
        if not getattr(args, "json", False):
            sys.stderr.write(f"migrate: {step}\n")
            sys.stderr.flush()

    report = migrate(ws, services, switch=not args.keep_config, progress=progress)
    return Result(report, str(report))
