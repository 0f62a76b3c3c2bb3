"""``jupyter-mlops`` (and ``jupyter mlops``): the command line entry point.

Exit codes for schedulers: 0 success, 1 a run or stage failed, 2 usage error, 3 workspace
problem, 4 not found, 5 conflict, 6 permission denied, 7 integrity (audit chain or stored bytes).
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Sequence

from ..errors import MlopsError
from .commands import CommandUsageError, Context, _HelpShown, build_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(args_list)
    except _HelpShown as shown:
        try:
            sys.stdout.write(shown.text)
            sys.stdout.flush()
        except BrokenPipeError:  # `jupyter-mlops --help | head`
            pass
        return shown.status
    except CommandUsageError as err:
        sys.stderr.write(f"{err.usage}error: {err.message}\n")
        return 2
    if not getattr(args, "func", None):
        sys.stdout.write(parser.format_help())
        return 2

    def open_workspace():  # type: ignore[no-untyped-def]
        from ..workspace import Workspace

        return Workspace.open(args.root, user=args.user)

    ctx = Context(open_workspace=open_workspace)
    try:
        result = args.func(ctx, args)
    except CommandUsageError as err:
        sys.stderr.write(f"error: {err.message}\n")
        return 2
    except MlopsError as err:
        if args.json:
            sys.stdout.write(json.dumps(err.to_dict()) + "\n")
        sys.stderr.write(f"error: {err}\n")
        if args.traceback:
            traceback.print_exc()
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), default=str, indent=2) + "\n")
    elif result.text:
        sys.stdout.write(result.text.rstrip("\n") + "\n")
    return int(result.exit_code)


if __name__ == "__main__":
    sys.exit(main())
