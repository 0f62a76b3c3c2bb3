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

import ast
import dataclasses
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..core.entities import Entity, escape
from ..core.hashing import canonical_json, sha256_text
from ..errors import InvalidInput, PipelineError

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

ENGINE_NAME = "jupyter_mlops"
DEFAULT_KERNEL = "python3"
ProgressCallback = Callable[[dict[str, Any]], None]


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
def read_notebook(path: str | Path) -> dict[str, Any]:
    """The notebook's JSON, with a clear error when the file is missing or not a notebook."""
    p = Path(path)
    if p.suffix != ".ipynb":
        raise InvalidInput(f"{p} is not a notebook (.ipynb)", value=str(p), hint="pass a .ipynb file or a pipeline .yaml")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"no such notebook: {p}", value=str(p), hint="check the path and the working directory") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read notebook {p}: {exc}", value=str(p), hint="is it a valid .ipynb file?") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise InvalidInput(f"{p} is not a Jupyter notebook (no cells)", value=str(p))
    return data


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def code_hash(nb: Mapping[str, Any]) -> str:
    """SHA-256 over the code cells' sources only (outputs, metadata and markdown excluded)."""
    sources = [_source(c) for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    return sha256_text(canonical_json(sources))


def parameters_cell(nb: Mapping[str, Any]) -> int | None:
    """Index of the cell tagged ``parameters``, if any."""
    for i, cell in enumerate(nb.get("cells", [])):
        if "parameters" in (cell.get("metadata", {}).get("tags") or []):
            return i
    return None


def declared_parameters(nb: Mapping[str, Any]) -> dict[str, str] | None:
    """Names assigned in the ``parameters`` cell (name -> source text of the default), or ``None``."""
    index = parameters_cell(nb)
    if index is None:
        return None
    text = _source(nb["cells"][index])
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    out: dict[str, str] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name):
                value = getattr(node, "value", None)
                out[t.id] = ast.get_source_segment(text, value) or "" if value is not None else ""
    return out


class DefaultKernelWarning(UserWarning):
    """A notebook names no kernel (no kernelspec, e.g. written by jupytext), so it runs on ``python3``."""


def kernel_for(nb: Mapping[str, Any], requested: str | None, notebook: Path) -> tuple[str | None, str | None]:
    """``(kernel name to pass papermill, note)``: the requested kernel, the notebook's own, or ``python3``.

    papermill refuses a notebook without a kernelspec unless it is given a kernel name; such a
    notebook (a jupytext conversion, a hand-written file) runs on the default Python kernel, with a
    warning and a note on the run saying so.
    """
    if requested:
        return requested, None
    spec = (nb.get("metadata") or {}).get("kernelspec") or {}
    if isinstance(spec, Mapping) and spec.get("name"):
        return None, None
    note = f"{notebook.name} names no kernel (no kernelspec in its metadata); it ran on the default {DEFAULT_KERNEL!r} kernel"
    import warnings

    warnings.warn(note, DefaultKernelWarning, stacklevel=3)
    return DEFAULT_KERNEL, note


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- cell accounting ---------------------------------------------------------------------------
class CellLedger:
    """What nbclient told us about each cell, through its hooks."""

    def __init__(self, on_event: ProgressCallback | None = None) -> None:
        self.started: list[int] = []
        self.ok: set[int] = set()
        self.errors: dict[int, tuple[str, str]] = {}
        self.nb: Any = None
        self.code_cells: list[int] | None = None
        self.injected: list[int] = []
        self._on_event = on_event

    def snapshot(self, nb: Any) -> None:
        """Remember the cell layout as executed (papermill later inserts error marker cells)."""
        self.nb = nb
        cells = nb.get("cells", [])
        self.code_cells = [i for i, c in enumerate(cells) if c.get("cell_type") == "code" and _source(c).strip()]
        self.injected = [i for i, c in enumerate(cells) if "injected-parameters" in (c.get("metadata", {}).get("tags") or [])]

    def on_cell_start(self, cell: Any, cell_index: int, **_: Any) -> None:
        self.started.append(cell_index)
        self._emit({"event": "cell_start", "cell_index": cell_index})

    def on_cell_executed(self, cell: Any, cell_index: int, execute_reply: Mapping[str, Any] | None = None, **_: Any) -> None:
        content = (execute_reply or {}).get("content", {})
        if content.get("status") == "ok":
            self.ok.add(cell_index)
        elif content.get("status") == "error":
            self.errors[cell_index] = (str(content.get("ename", "")), str(content.get("evalue", "")))
        self._emit({"event": "cell_done", "cell_index": cell_index, "status": content.get("status")})

    def on_cell_error(self, cell: Any, cell_index: int, execute_reply: Mapping[str, Any] | None = None, **_: Any) -> None:
        content = (execute_reply or {}).get("content", {})
        self.errors[cell_index] = (str(content.get("ename", "")), str(content.get("evalue", "")))

    def _emit(self, event: dict[str, Any]) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # noqa: S110 - a display problem must never fail the notebook
                pass


class KernelHandle:
    """The kernel of one execution, so another thread can stop it (``stop_when``)."""

    def __init__(self) -> None:
        self.km: Any = None
        self.stopped: str | None = None
        self.busy = False

    def kill(self, reason: str) -> None:
        """Kill the kernel's process group at once; the execution then ends KILLED with ``reason``."""
        self.stopped = reason
        prov = getattr(self.km, "provisioner", None)
        pid = getattr(prov, "pgid", None) or getattr(prov, "pid", None)
        if pid:
            try:
                os.killpg(int(pid), signal.SIGKILL) if hasattr(os, "killpg") else os.kill(int(pid), signal.SIGTERM)
            except OSError:
                pass


def _ipc_folder() -> str | None:
    """A private folder for a kernel's IPC sockets, or ``None`` where TCP must be used."""
    if sys.platform == "win32":
        return None
    folder = tempfile.mkdtemp(prefix="mlops-k-")
    if len(folder) + len("/k-65535") > 100:  # AF_UNIX paths are limited to about 104 bytes
        os.rmdir(folder)
        return None
    return folder


_registered = False
_kernel_manager: type | None = None


def _kernel_manager_class() -> type:
    """jupyter_client's async kernel manager with IPC transport and no interrupt before a clean shutdown."""
    global _kernel_manager
    if _kernel_manager is not None:
        return _kernel_manager
    from jupyter_client.manager import AsyncKernelManager

    class MlopsKernelManager(AsyncKernelManager):  # type: ignore[misc]
        """A local kernel over IPC sockets in a private folder (TCP where the platform has no IPC)."""

        mlops_handle: KernelHandle | None = None
        mlops_ipc_dir: str | None = None

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            folder = _ipc_folder()
            if folder is not None:
                self.transport = "ipc"
                self.ip = os.path.join(folder, "k")
                self.mlops_ipc_dir = folder

        async def _async_interrupt_kernel(self) -> None:
            handle = self.mlops_handle
            if self.shutting_down and handle is not None and not handle.busy:
                return  # no cell runs: the clean shutdown needs no SIGINT (it only printed noise)
            await super()._async_interrupt_kernel()

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart and self.mlops_ipc_dir:
                shutil.rmtree(self.mlops_ipc_dir, ignore_errors=True)

    _kernel_manager = MlopsKernelManager
    return MlopsKernelManager


class KernelStartupError(Exception):
    """Wraps what ``before_cells`` raised, so it is re-raised as itself and not taken for a notebook failure."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


_client_classes: dict[type, type] = {}


def _client_class(base: type) -> type:
    """papermill's notebook client, with a ``before_cells`` step while the kernel boots.

    nbclient launches the kernel process and then waits for it to answer; ``before_cells`` runs
    between the two, in the calling thread, so work the parent must do before any cell runs (open
    the stage run in MLflow) overlaps the kernel's own start-up on another core. What it returns
    is set in the kernel's ``os.environ`` by a silent request before the first cell, so the
    notebook sees exactly the environment it would have been started with.
    """
    if base in _client_classes:
        return _client_classes[base]

    class MlopsNotebookClient(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, mlops_before_cells: Callable[[], Mapping[str, str]] | None = None, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.mlops_before_cells = mlops_before_cells

        def start_new_kernel_client(self) -> Any:
            extra: Mapping[str, str] = {}
            if self.mlops_before_cells is not None:
                try:
                    extra = self.mlops_before_cells()
                except BaseException as exc:
                    self._stop_unused_kernel()
                    raise KernelStartupError(exc) from exc
            kc = super().start_new_kernel_client()
            if extra:
                code = f"__import__('os').environ.update({json.dumps(dict(extra))})"
                reply = self.wait_for_reply(kc.execute(code, silent=True, store_history=False))
                if (reply or {}).get("content", {}).get("status") != "ok":
                    self._stop_unused_kernel()
                    raise KernelStartupError(PipelineError("the kernel refused its environment before the first cell"))
            return kc

        def _stop_unused_kernel(self) -> None:
            """Kill the launched kernel at once: no cell ran, and a graceful stop would first
            interrupt it mid-import (a KeyboardInterrupt traceback on the terminal)."""
            self.shutdown_kernel = "immediate"
            self._cleanup_kernel()

    _client_classes[base] = MlopsNotebookClient
    return MlopsNotebookClient


def _register_engine() -> None:
    """Register our engine with papermill's engine registry (once per process)."""
    global _registered
    if _registered:
        return
    from .imports import import_papermill

    import_papermill()
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    from ..core.process import kill_pdeathsig_preexec

    manager_class = _kernel_manager_class()

    class MlopsEngine(NBClientEngine):  # type: ignore[misc]
        """papermill's nbclient engine with a kernel environment and our cell hooks."""

        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            ledger: CellLedger = kwargs.pop("mlops_ledger")
            handle: KernelHandle = kwargs.pop("mlops_handle", None) or KernelHandle()
            env: dict[str, str] | None = kwargs.pop("mlops_env", None)
            cwd: str | None = kwargs.pop("mlops_cwd", None)
            timeout = kwargs.pop("execution_timeout", None)
            kwargs.pop("input_path", None)
            ledger.snapshot(nb_man.nb)

            def cell_start(**kw: Any) -> None:
                handle.busy = True
                ledger.on_cell_start(**kw)

            def cell_executed(**kw: Any) -> None:
                ledger.on_cell_executed(**kw)
                handle.busy = False

            def notebook_start(**_: Any) -> None:
                handle.km = client.km
                client.km.mlops_handle = handle

            client = _client_class(PapermillNotebookClient)(
                nb_man,
                mlops_before_cells=kwargs.pop("mlops_before_cells", None),
                timeout=timeout,
                startup_timeout=kwargs.pop("start_timeout", 60),
                kernel_name=kernel_name,
                log_output=kwargs.pop("log_output", False),
                stdout_file=kwargs.pop("stdout_file", None),
                stderr_file=kwargs.pop("stderr_file", None),
                on_cell_start=cell_start,
                on_cell_executed=cell_executed,
                on_cell_error=ledger.on_cell_error,
                on_notebook_start=notebook_start,
                interrupt_on_timeout=False,
                kernel_manager_class=manager_class,
            )
            start_kwargs: dict[str, Any] = {}
            preexec = kill_pdeathsig_preexec()
            if preexec is not None:
                start_kwargs["preexec_fn"] = preexec  # the kernel dies with this process
            if env is not None:
                start_kwargs["env"] = env
            if cwd is not None:
                start_kwargs["cwd"] = cwd
            return client.execute(**start_kwargs)

    papermill_engines.register(ENGINE_NAME, MlopsEngine)
    _registered = True


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
