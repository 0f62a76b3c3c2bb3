"""Audit commands beyond ``verify`` and ``log``: ``checkpoint``, ``rotate-key``, ``export``, ``verify DIR``."""

from __future__ import annotations

import argparse
from typing import Any

from .commands import Context, Result


def register_verbs(audit: Any) -> None:
    """Add the checkpoint, key and export verbs to the ``audit`` noun (made in :mod:`.cmd_core`)."""
    p = audit.add_parser("checkpoint", help="sign a checkpoint of the chain's head now")
    p.set_defaults(func=_checkpoint)
    p = audit.add_parser("rotate-key", help="replace the signing key, announced by a checkpoint signed with the old one")
    p.set_defaults(func=_rotate)
    p = audit.add_parser("export", help="write events, checkpoints, public key and a standalone verifier for an auditor")
    p.add_argument("--out", required=True, help="a new or empty folder")
    p.set_defaults(func=_export)


def add_verify_arguments(p: argparse.ArgumentParser) -> None:
    """``audit verify [DIR] [--key FILE]``: a folder checks an export, with no workspace."""
    p.add_argument("folder", nargs="?", help="an audit export folder (default: this workspace)")
    p.add_argument("--key", help="the trusted verifier key file for an export (default: its public.vkey)")


def verify_export(args: argparse.Namespace) -> Result:
    from ..audit.export import verify_export as check

    result = check(args.folder, args.key)
    if result.ok:
        return Result(result, f"audit export intact: {result.checked} events")
    return Result(result, f"audit export BROKEN: {result.reason}", exit_code=7)


def _checkpoint(ctx: Context, args: argparse.Namespace) -> Result:
    from ..audit.checkpoints import checkpoint_now

    note = checkpoint_now(ctx.workspace())
    if note is None:
        return Result(None, "the audit log is empty: nothing to checkpoint")
    return Result({"note": note}, note.rstrip())


def _rotate(ctx: Context, args: argparse.Namespace) -> Result:
    from ..audit.checkpoints import rotate_key

    vkey = rotate_key(ctx.workspace())
    return Result({"key": vkey}, f"new audit signing key {vkey}")


def _export(ctx: Context, args: argparse.Namespace) -> Result:
    from ..audit.export import export

    done = export(ctx.workspace(), args.out)
    return Result(done, f"exported {done.events} events and {done.checkpoints} checkpoints to {done.folder}")
