"""Our papermill engine and the kernels it starts, with the cell accounting hung on nbclient's hooks.

A thin subclass of papermill's nbclient engine passes the kernel its environment
(``JUPYTER_MLOPS_*``) and reports every cell to a :class:`CellLedger`. Kernels talk over IPC
sockets in a private 0700 folder where the platform has them, are not sent SIGINT before a clean
shutdown when no cell runs, and can be killed from another thread through a :class:`KernelHandle`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import PipelineError
from .notebook import (
    _source,
)

__all__ = ["CellLedger", "ENGINE_NAME", "KernelHandle", "KernelStartupError", "ProgressCallback"]


ENGINE_NAME = "jupyter_mlops"


ProgressCallback = Callable[[dict[str, Any]], None]


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
