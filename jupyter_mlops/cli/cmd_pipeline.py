"""Pipeline commands: ``run TARGET`` (a notebook or a pipeline.yaml) and ``rerun RUN_ID``.

Exit codes for schedulers: 0 every stage succeeded (or was reused), 1 a stage failed or a re-run
did not reproduce, 2 usage error. papermill and nbformat are imported only when a notebook
actually runs, so ``--help``, ``--dry-run`` and fully cached pipelines stay fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .commands import CommandUsageError, Context, Result

_NOTEBOOK_ONLY = ("output", "kernel", "timeout")
_PIPELINE_ONLY = ("stage", "force", "executor", "max_parallel", "dry_run")


def register(subs: Any) -> None:
    p = subs.add_parser(
        "run",
        help="run a notebook (.ipynb) or a pipeline (.yaml) as tracked, cached stages",
        description="Run a notebook with papermill inside a tracked run, or a pipeline.yaml of notebook stages.",
    )
    p.add_argument("target", help="a notebook (.ipynb) or a pipeline file (.yaml)")
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        default=[],
        help="notebook parameter (VALUE is read as YAML: 3, 0.5, true, text)",
    )
    p.add_argument("--output", help="where to write the executed notebook (.ipynb)")
    p.add_argument("--timeout", type=float, help="seconds any one cell may run")
    p.add_argument("--kernel", help="kernel name (default: the notebook's own)")
    p.add_argument("--stage", action="append", default=[], help="run only this stage and what it needs (repeatable)")
    p.add_argument("--force", action="store_true", help="re-run stages even when their cache key is unchanged")
    p.add_argument(
        "--executor",
        default=None,
        help="local or a Dask scheduler address dask://HOST:PORT (default: [executor] address in config.toml, else local)",
    )
    p.add_argument("--max-parallel", type=int, default=2, help="stages run at once on the local pool (default 2)")
    p.add_argument("--dry-run", action="store_true", help="validate and show what would run or be reused")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print a machine-readable summary")
    p.set_defaults(func=_run)

    p = subs.add_parser("rerun", help="re-execute a recorded stage run and check that its metrics reproduce")
    p.add_argument("run_id", help="the run id (or stage_run_id) of a recorded notebook or stage run")
    p.add_argument("--tolerance", type=float, default=1e-6, help="largest absolute metric difference that passes (default 1e-6)")
    p.add_argument("--timeout", type=float, help="seconds any one cell may run")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print a machine-readable summary")
    p.set_defaults(func=_rerun)


def _value(text: str) -> Any:
    """A ``-p`` value read as YAML data (``3``, ``0.5``, ``true``, text); dates stay text."""
    import yaml

    from ..pipelines.spec import data_loader

    try:
        return yaml.load(text, Loader=data_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return text


def _parameters(pairs: list[list[str]]) -> dict[str, Any]:
    """``-p NAME VALUE`` pairs as data; a name that is not an identifier is a usage error (exit 2)."""
    from ..core.paths import validate_parameters
    from ..errors import InvalidInput

    params = {name: _value(value) for name, value in pairs}
    try:
        return validate_parameters(params, where="-p")
    except InvalidInput as err:
        raise CommandUsageError(str(err)) from None


def _progress(ctx: Context, args: argparse.Namespace) -> Any:
    if ctx.interactive or getattr(args, "json", False):
        return None
    from ..pipelines.progress import TerminalProgress

    return TerminalProgress(sys.stderr)


def _run(ctx: Context, args: argparse.Namespace) -> Result:
    target = Path(args.target)
    suffix = target.suffix.lower()
    defaults: dict[str, Any] = {
        "output": None,
        "kernel": None,
        "timeout": None,
        "stage": [],
        "force": False,
        "executor": None,
        "max_parallel": 2,
        "dry_run": False,
    }
    if suffix == ".ipynb":
        bad = [n for n in _PIPELINE_ONLY if getattr(args, n) != defaults[n]]
        if bad:
            raise CommandUsageError(f"--{bad[0].replace('_', '-')} applies to a pipeline .yaml, not to a notebook")
    elif suffix in (".yaml", ".yml"):
        bad = [n for n in _NOTEBOOK_ONLY if getattr(args, n) != defaults[n]]
        if bad or args.parameter:
            raise CommandUsageError(
                f"{'--' + bad[0] if bad else '-p'} applies to a notebook; in a pipeline set 'params:' and per-stage"
                " 'timeout:' in the yaml"
            )
        if args.max_parallel < 1:
            raise CommandUsageError(f"--max-parallel must be at least 1, got {args.max_parallel}")
    else:
        raise CommandUsageError(f"cannot run {args.target!r}: give a notebook (.ipynb) or a pipeline (.yaml)")
    if args.timeout is not None and args.timeout <= 0:
        raise CommandUsageError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    params = _parameters(args.parameter)  # before the workspace opens and long before any kernel
    ws = ctx.workspace()
    progress = _progress(ctx, args)
    if suffix == ".ipynb":
        result: Any = ws.pipelines.run_notebook(
            target, params, output=args.output, timeout=args.timeout, kernel=args.kernel, progress=progress
        )
    else:
        result = ws.pipelines.run_pipeline(
            target,
            stages=args.stage,
            force=args.force,
            executor=args.executor,
            max_parallel=args.max_parallel,
            dry_run=args.dry_run,
            progress=progress,
        )
    return Result(result, str(result), exit_code=int(getattr(result, "exit_code", 0)))


def _rerun(ctx: Context, args: argparse.Namespace) -> Result:
    if args.tolerance < 0:
        raise CommandUsageError(f"--tolerance must be non-negative, got {args.tolerance}")
    check = ctx.workspace().pipelines.rerun(args.run_id, tolerance=args.tolerance, timeout=args.timeout)
    return Result(check, str(check), exit_code=check.exit_code)
