"""Run one notebook with papermill and classify how it ended from our own cell accounting.

papermill 2.7 reports a killed kernel, a timeout or an early ``sys.exit`` badly: a dead kernel
leaves ``exception: None`` and never-run cells marked ``completed``, and ``sys.exit(0)`` returns
normally. So this module registers its own papermill engine (a thin subclass of papermill's
nbclient engine) that passes the kernel its environment (``JUPYTER_MLOPS_*``: parent run,
notebook path, workspace home) and hangs nbclient's cell hooks on a :class:`CellLedger`. The
outcome is decided from the ledger and the exception, never from papermill's metadata.

The output notebook is always written, atomically (temporary file, fsync, rename), whatever the
outcome. Notebooks are read with the standard ``json`` module for hashing and validation, so the
cache path never pays for importing papermill or nbformat.

Kernels started here talk over IPC sockets in a private 0700 folder where the platform has them
(no TCP port open to every local user, and no "running over TCP without encryption" warning), are
not sent SIGINT before a clean shutdown when no cell runs (jupyter_client interrupts first, which
printed "KeyboardInterrupt caught in kernel" after successful runs), and die with the process
that started them (``PR_SET_PDEATHSIG`` on Linux). A ``stop_when`` check, polled while cells run,
kills the kernel when it returns a reason (a worker whose pipeline process is gone).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..core.entities import Entity, escape
from ..errors import PipelineError
from .engine import ENGINE_NAME, CellLedger, KernelHandle, KernelStartupError, ProgressCallback, _register_engine
from .notebook import (
    DefaultKernelWarning,
    _source,
    code_hash,
    declared_parameters,
    kernel_for,
    read_notebook,
    write_atomic,
)

__all__ = [
    "CellLedger",
    "DefaultKernelWarning",
    "Execution",
    "Outcome",
    "code_hash",
    "declared_parameters",
    "execute_notebook",
    "kernel_for",
    "read_notebook",
    "write_atomic",
]


class Outcome(StrEnum):
    """How a notebook run ended, decided by us."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    TIMED_OUT = "TIMED_OUT"
    EXITED_EARLY = "EXITED_EARLY"
    SKIPPED = "SKIPPED"
    CACHED = "CACHED"

    @property
    def ok(self) -> bool:
        return self in (Outcome.SUCCEEDED, Outcome.CACHED)


@dataclasses.dataclass(frozen=True)
class Execution(Entity):
    """The result of executing one notebook (before it is tracked)."""

    outcome: str
    output_path: str
    code_cells: int
    cells_ok: int
    seconds: float
    message: str = ""
    cell_index: int | None = None
    ename: str | None = None
    evalue: str | None = None
    traceback: str = ""

    def _repr_html_(self) -> str:
        return f"<b>{escape(self.outcome)}</b> {escape(self.output_path)} ({self.cells_ok}/{self.code_cells} code cells)"


# -- reading notebooks without nbformat ------------------------------------------------------


# -- cell accounting ---------------------------------------------------------------------------


def _classify(ledger: CellLedger, nb: Mapping[str, Any], exc: BaseException | None, timeout: float | None) -> dict[str, Any]:
    """The outcome from our cell accounting; cell indexes count the cells of the SOURCE notebook."""
    info = _classify_executed(ledger, nb, exc, timeout)
    executed_index = info.get("cell_index")
    index = None if executed_index is None else executed_index - sum(1 for j in ledger.injected if j < executed_index)
    if index != executed_index and info.get("message"):
        info["message"] = info["message"].replace(f"cell {executed_index}", f"cell {index}", 1)
    info["cell_index"] = index
    return info


def _classify_executed(
    ledger: CellLedger, nb: Mapping[str, Any], exc: BaseException | None, timeout: float | None
) -> dict[str, Any]:
    code_cells = ledger.code_cells
    if code_cells is None:
        code_cells = [i for i, c in enumerate(nb.get("cells", [])) if c.get("cell_type") == "code" and _source(c).strip()]
    info: dict[str, Any] = {"code_cells": len(code_cells), "cells_ok": len([i for i in code_cells if i in ledger.ok])}
    current = ledger.started[-1] if ledger.started else None
    if exc is not None:
        name = type(exc).__name__
        if name == "DeadKernelError":
            return {
                **info,
                "outcome": Outcome.KILLED,
                "cell_index": current,
                "ename": name,
                "message": f"the kernel died while running cell {current}",
            }
        if name == "CellTimeoutError" or isinstance(exc, TimeoutError):
            return {
                **info,
                "outcome": Outcome.TIMED_OUT,
                "cell_index": current,
                "ename": name,
                "message": f"cell {current} ran longer than the {timeout} s timeout",
            }
    if ledger.errors:
        index = min(ledger.errors)
        ename, evalue = ledger.errors[index]
        if ename == "SystemExit" and evalue in ("", "0", "None"):
            return {
                **info,
                "outcome": Outcome.EXITED_EARLY,
                "cell_index": index,
                "ename": ename,
                "evalue": evalue,
                "message": f"the notebook called sys.exit({evalue}) in cell {index}; later cells never ran",
            }
        return {
            **info,
            "outcome": Outcome.FAILED,
            "cell_index": index,
            "ename": ename,
            "evalue": evalue[:2000],
            "message": f"cell {index} raised {ename}: {evalue[:300]}",
        }
    if exc is not None:
        return {
            **info,
            "outcome": Outcome.FAILED,
            "cell_index": current,
            "ename": type(exc).__name__,
            "evalue": str(exc)[:2000],
            "message": f"the notebook could not run: {type(exc).__name__}: {str(exc)[:300]}",
        }
    missing = [i for i in code_cells if i not in ledger.ok]
    if missing:
        return {
            **info,
            "outcome": Outcome.EXITED_EARLY,
            "cell_index": missing[0],
            "message": f"the notebook stopped before cell {missing[0]}; {len(missing)} code cell(s) never ran",
        }
    return {**info, "outcome": Outcome.SUCCEEDED, "message": ""}


def execute_notebook(
    input_path: Path,
    output_path: Path | Callable[[], Path],
    *,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = None,
    timeout: float | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    on_event: ProgressCallback | None = None,
    start_timeout: float = 60,
    stop_when: Callable[[], str | None] | None = None,
    before_cells: Callable[[], Mapping[str, str]] | None = None,
) -> Execution:
    """Execute ``input_path`` with papermill and write the executed notebook to ``output_path``.

    Parameters
    ----------
    output_path:
        Where the executed notebook goes, or a function that says so once the cells have run.
    timeout:
        Per-cell limit in seconds (papermill's ``execution_timeout``); ``None`` for no limit.
    env:
        The kernel's full environment (see ``Workspace.child_env``).
    on_event:
        Called with ``{"event": "cell_start" | "cell_done", "cell_index": ...}`` dicts.
    stop_when:
        Polled every half second while the notebook runs; when it returns a reason, the kernel is
        killed and the outcome is KILLED with that reason.
    before_cells:
        Called in this thread once the kernel process is launched, while it starts up and before
        any cell runs; the variables it returns are set in the kernel's environment first. What
        it raises is raised from here unchanged (the kernel is shut down).

    Returns
    -------
    Execution
        The outcome we classified; the output notebook exists whatever the outcome.
    """
    _register_engine()
    import papermill
    from papermill.exceptions import PapermillExecutionError

    ledger = CellLedger(on_event)
    handle = KernelHandle()
    done = threading.Event()
    if stop_when is not None:
        threading.Thread(target=_watch, args=(stop_when, handle, done), name="mlops-stop-when", daemon=True).start()
    t0 = time.perf_counter()
    exc: BaseException | None = None
    nb: Any = None
    try:
        nb = papermill.execute_notebook(
            str(input_path),
            None,
            parameters=dict(parameters or {}),
            engine_name=ENGINE_NAME,
            kernel_name=kernel_name,
            progress_bar=False,
            request_save_on_cell_execute=False,
            start_timeout=int(start_timeout),
            mlops_ledger=ledger,
            mlops_handle=handle,
            mlops_env=env,
            mlops_cwd=str(cwd) if cwd else None,
            execution_timeout=timeout,
            mlops_before_cells=before_cells,
        )
    except PapermillExecutionError:
        nb = ledger.nb
    except KeyboardInterrupt:
        raise
    except KernelStartupError as err:
        raise err.error from None
    except Exception as err:  # DeadKernelError, CellTimeoutError, kernel start failures ...
        exc = err
        nb = ledger.nb
    finally:
        done.set()
    seconds = time.perf_counter() - t0
    if nb is None:  # the notebook never reached the engine (papermill refused it)
        assert exc is not None
        raise PipelineError(f"papermill could not run {input_path}: {exc}", value=str(input_path)) from exc
    info = _classify(ledger, nb, exc, timeout)
    if handle.stopped and info["outcome"] in (Outcome.KILLED, Outcome.FAILED):
        info.update(outcome=Outcome.KILLED, message=f"stopped: {handle.stopped}")
    trace = _user_traceback(nb, ledger) if info["outcome"] == Outcome.FAILED else ""
    nb.metadata.setdefault("jupyter_mlops", {})["outcome"] = {
        k: (v.value if isinstance(v, Outcome) else v) for k, v in info.items()
    }
    import nbformat

    text: str = nbformat.writes(nb)  # type: ignore[no-untyped-call]
    if callable(output_path):
        output_path = output_path()
    write_atomic(output_path, text.encode("utf-8"))
    return Execution(
        outcome=info["outcome"].value,
        output_path=str(output_path),
        code_cells=info["code_cells"],
        cells_ok=info["cells_ok"],
        seconds=round(seconds, 6),
        message=info.get("message", ""),
        cell_index=info.get("cell_index"),
        ename=info.get("ename"),
        evalue=info.get("evalue"),
        traceback=trace,
    )


def _watch(stop_when: Callable[[], str | None], handle: KernelHandle, done: threading.Event) -> None:
    while not done.wait(0.5):
        try:
            reason = stop_when()
        except Exception:  # noqa: S112 - a failing check must not stop the notebook
            continue
        if reason:
            handle.kill(reason)
            return


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _user_traceback(nb: Any, ledger: CellLedger) -> str:
    """The traceback the failing cell showed (ANSI colours removed), as the notebook's user saw it.

    Execution stops at the first failing cell, so it is the one code cell with an error output
    (papermill's own marker cells, inserted afterwards, have none).
    """
    if not ledger.errors:
        return ""
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error" and out.get("traceback"):
                text = "\n".join(_ANSI.sub("", str(line)) for line in out["traceback"])
                return "\n".join(line for line in text.splitlines() if line.strip() and set(line.strip()) != {"-"})[:8000]
    return ""
