"""The magics themselves; every verb calls the same API as the CLI and Python.

``%%track`` runs the cell's code inside a tracked run (exceptions reach the user unchanged and the
run still closes FAILED or KILLED); ``%mlops <noun> <verb>`` parses with the CLI's command table,
raising ``UsageError`` instead of exiting the kernel, and returns the rich result.
"""

from __future__ import annotations

import ast
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ..cli.commands import CommandUsageError, Context, _HelpShown, _Parser, build_parser, parse_kv, split_list
from ..errors import MlopsError

__all__ = ["MlopsMagics"]

_MISSING = object()


def track_summary(run: Any) -> str:
    """The one line a successful ``%%track`` prints: run, experiment and key metrics."""
    last: dict[str, float] = {}
    for key, value, _ts, _step in getattr(run, "metrics", ()):
        if not key.startswith("mlops."):
            last[key] = value
    shown = ", ".join(f"{k}={v:.4g}" for k, v in list(last.items())[:4])
    more = f" (+{len(last) - 4} more)" if len(last) > 4 else ""
    return f"\u2713 run {run.name!r} ({run.run_id[:8]}) in experiment {run.experiment!r}" + (
        f": {shown}{more}" if shown else ": no metrics logged"
    )


def _track_parser() -> _Parser:
    p = _Parser(prog="%%track", description="Run the cell inside a tracked MLflow run.", add_help=True)
    p.add_argument("name", nargs="?", default=None, help="run name (default: the cell's first line or 'cell')")
    p.add_argument("--experiment", "-e", help="experiment name")
    p.add_argument("--params", "-p", default="", help="comma-separated variables to record as parameters after the cell")
    p.add_argument("--tags", "-t", nargs="*", default=[], help="KEY=VALUE tags")
    p.add_argument("--autolog", action="store_true", help="turn on MLflow scikit-learn autologging for this cell")
    return p


@magics_class
class MlopsMagics(Magics):
    """``%%track`` and ``%mlops``."""

    shell: Any  # an InteractiveShell once registered

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.cell_id: str | None = None

    # -- hooks ----------------------------------------------------------------------------------
    def remember_cell(self, info: Any) -> None:
        """pre_run_cell hook: keep the id of the cell being run (about a microsecond)."""
        self.cell_id = getattr(info, "cell_id", None)

    def show_error(self, shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
        """One clear line for MlopsError; ``%tb`` still shows the full traceback."""
        text = f"{etype.__name__}: {value}"
        stb = [f"\x1b[0;31m{text}\x1b[0m", "(run %tb for the full traceback)"]
        shell._showtraceback(etype, value, stb)
        return stb

    # -- helpers --------------------------------------------------------------------------------
    def _workspace(self) -> Any:
        from ..fluent import current_workspace

        return current_workspace()

    def _notebook_path(self) -> str | None:
        ns = self.shell.user_ns
        for key in ("__session__", "__vsc_ipynb_file__"):
            value = ns.get(key)
            if isinstance(value, str) and value:
                return value
        from ..config import notebook_path_hint

        return notebook_path_hint()

    def _locate(self, line: str, cell: str) -> tuple[str | None, str | None, bool]:
        """``(notebook path, cell id, found by search)`` of the ``%%track`` cell being run.

        The path comes from the kernel (JupyterLab, VS Code, our stage runner); a relative one is
        read against the working folder, then the workspace root (a stage in a sub-folder). The cell
        id comes from the front-end, else from the notebook file by the cell's source. Under plain
        nbclient neither is sent: the one notebook of the working folder holding this cell is used.
        """
        from pathlib import Path

        from ..tracking.capture import find_notebook, track_cell_id

        notebook = self._notebook_path()
        if notebook is None:
            found = find_notebook(Path.cwd(), line, cell)
            if found is None:
                return None, self.cell_id, False
            return str(found[0]), self.cell_id or found[1], True
        if self.cell_id or not notebook.endswith(".ipynb"):
            return notebook, self.cell_id, False
        path = Path(notebook)
        if not path.is_absolute() and not path.is_file():
            try:
                path = self._workspace().settings.root / path
            except MlopsError:
                pass
        return notebook, track_cell_id(path, line, cell), False

    def _run_code(self, cell: str) -> Any:
        """Execute ``cell`` in the user namespace; return the value of a trailing expression."""
        __tracebackhide__ = True
        shell = self.shell
        code = shell.transform_cell(cell)
        tree = ast.parse(code)
        last: ast.Expression | None = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        filename = shell.compile.cache(code, shell.execution_count, raw_code=cell)
        exec(compile(tree, filename, "exec"), shell.user_ns)  # noqa: S102 - the user's own cell
        if last is not None:
            return eval(compile(last, filename, "eval"), shell.user_ns)  # noqa: S307 - the user's own cell
        return None

    # -- %%track ---------------------------------------------------------------------------------
    @cell_magic("track")  # type: ignore[arg-type]
    def track(self, line: str, cell: str) -> Any:
        """%%track [NAME] [--experiment E] [--params a,b] [--tags k=v ...] [--autolog]"""
        __tracebackhide__ = True
        try:
            args = _track_parser().parse_args(shlex.split(line))
            tags = parse_kv(args.tags)
        except _HelpShown as shown:
            raise UsageError(shown.text) from None
        except (CommandUsageError, ValueError) as err:
            raise UsageError(f"{err}\n{_track_parser().format_usage()}") from None
        params = split_list(args.params)
        bad = [p for p in params if not p.isidentifier()]
        if bad:
            raise UsageError(f"--params takes variable names, got {', '.join(map(repr, bad))}")
        notebook, cell_id, searched = self._locate(line, cell)
        source = {
            "cell_source": cell,
            "cell_id": cell_id,
            "notebook": notebook,
            "execution_count": self.shell.execution_count,
        }
        if searched:  # say how the notebook was known: the only one here that holds this cell
            tags = {"mlops.notebook_found_by": "cell source", **tags}
        run = self._workspace().start_run(
            args.name or "cell", experiment=args.experiment, tags=tags, source=source, autolog=args.autolog
        )
        run.start()
        error: BaseException | None = None
        try:
            return self._run_code(cell)
        except BaseException as exc:
            error = exc
            raise
        finally:
            ns = self.shell.user_ns
            for name in params:
                value = ns.get(name, _MISSING)
                if value is _MISSING:
                    run.note(f"parameter {name!r} was not defined after the cell")
                else:
                    run.log_param(name, value)
            try:
                run.end(error)
            except MlopsError:
                if error is None:
                    raise
            else:
                if error is None:
                    print(track_summary(run), flush=True)

    # -- %mlops ------------------------------------------------------------------------------
    @line_magic("mlops")  # type: ignore[arg-type]
    def mlops(self, line: str) -> Any:
        """%mlops <command> ... : the same commands as `jupyter-mlops` (try %mlops --help)."""
        try:
            argv = shlex.split(line)
        except ValueError as err:
            raise UsageError(f"cannot parse the line: {err}") from None
        parser = build_parser(prog="%mlops")
        try:
            args = parser.parse_args(argv)
        except _HelpShown as shown:
            from IPython.display import display

            display({"text/plain": shown.text}, raw=True)
            return None
        except CommandUsageError as err:
            raise UsageError(f"{err.message}\n{err.usage}") from None
        if not getattr(args, "func", None):
            raise UsageError(parser.format_usage())

        def open_workspace() -> Any:
            if args.root or args.user:
                from ..workspace import Workspace

                return Workspace.open(args.root, user=args.user)
            return self._workspace()

        ctx = Context(open_workspace=open_workspace, namespace=self.shell.user_ns, interactive=True)
        try:
            result = args.func(ctx, args)
        except CommandUsageError as err:
            raise UsageError(err.message) from None
        if args.noun == "init":
            from ..fluent import use

            use(args.path, user=args.user)
        value = result.value
        if hasattr(value, "_repr_html_") or hasattr(value, "_ipython_display_"):
            return value
        from IPython.display import display

        display({"text/plain": result.text}, raw=True)
        return None
