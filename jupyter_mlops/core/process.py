"""Who owns a run: the identity of a process, whether it is still alive, and dying with a parent.

A run, a pipeline run or a worker records the process that owns it as a :class:`ProcessIdentity`:
host name, boot id, PID namespace, PID and the process's start time (``/proc/<pid>/stat`` field
22, in clock ticks since boot). A later process on the same machine can then tell exactly whether
that owner is gone, even after the PID was reused, by reading one small ``/proc`` file, without
any write while the run lives.

Why an owner record and not a heartbeat lease: a lease needs a writer thread in every kernel and
a write to the metadata database every few seconds per run (SQLite has one writer at a time), it
can only declare a run dead after the lease expires (so a run killed a second ago still looks
alive), and it declares a process that is merely stopped (a suspended laptop, ``SIGSTOP``, a long
GIL-holding call) dead while it is not. The owner record costs nothing while the run lives and is
exact at once. Its limit: a process on another host (or in another PID namespace) cannot be
judged from here, so :func:`process_state` says ``"unknown"`` and such runs are left as they are
until a process that can see the owner opens the workspace. Where ``/proc`` hides other users'
processes (``hidepid``), ``kill(pid, 0)`` still tells a live one (EPERM) from a gone one, and a
live one is taken to be the owner.

:func:`die_with_parent` and :func:`watch_parent` make a worker process exit when the process that
started it dies (``PR_SET_PDEATHSIG`` on Linux, a poll of the parent PID elsewhere), so a worker
never goes on working for a dead pipeline.

Standard library only (``ctypes`` for ``prctl``).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ProcessIdentity", "die_with_parent", "kill_pdeathsig_preexec", "process_state", "watch_parent"]

_PR_SET_PDEATHSIG = 1


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3 onwards), or ``None``."""
    text = _read(f"/proc/{pid}/stat")
    if not text or ")" not in text:
        return None
    return text.rsplit(")", 1)[1].split()


def _start_token(pid: int) -> str | None:
    """A value that differs between two processes that had the same PID."""
    fields = _stat_fields(pid)
    if fields is not None and len(fields) > 19:
        return f"ticks:{fields[19]}"  # field 22, starttime
    if sys.platform.startswith("linux"):
        return None
    try:
        import psutil  # shipped with ipykernel; only used where there is no /proc

        return f"ct:{psutil.Process(pid).create_time():.2f}"
    except Exception:
        return None


def _boot_id() -> str:
    return (_read("/proc/sys/kernel/random/boot_id") or "").strip()


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


@dataclasses.dataclass(frozen=True)
class ProcessIdentity:
    """A process, identified so that a reused PID is never mistaken for it."""

    host: str
    pid: int
    start: str
    boot_id: str = ""
    pid_namespace: str = ""

    @classmethod
    def current(cls) -> ProcessIdentity:
        """This process."""
        pid = os.getpid()
        cached = _current.get(pid)
        if cached is None:
            cached = _current[pid] = cls(
                host=socket.gethostname(),
                pid=pid,
                start=_start_token(pid) or "",
                boot_id=_boot_id(),
                pid_namespace=_pid_namespace(),
            )
        return cached

    @classmethod
    def of_parent(cls) -> ProcessIdentity:
        """The parent of this process (as seen now)."""
        me = cls.current()
        ppid = os.getppid()
        return dataclasses.replace(me, pid=ppid, start=_start_token(ppid) or "")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessIdentity:
        return cls(
            host=str(data.get("host", "")),
            pid=int(data.get("pid", 0)),
            start=str(data.get("start", "")),
            boot_id=str(data.get("boot_id", "")),
            pid_namespace=str(data.get("pid_namespace", "")),
        )

    def __str__(self) -> str:
        return f"process {self.pid} on {self.host}"


_current: dict[int, ProcessIdentity] = {}


def process_state(owner: ProcessIdentity) -> str:
    """``"alive"``, ``"dead"`` or ``"unknown"`` (another host or PID namespace: cannot be seen from here)."""
    me = ProcessIdentity.current()
    if owner.host != me.host:
        return "unknown"
    if owner.boot_id and me.boot_id and owner.boot_id != me.boot_id:
        return "dead"  # the machine was restarted since
    if owner.pid_namespace != me.pid_namespace:
        return "unknown"
    if owner.pid == me.pid:
        return "alive" if owner.start == me.start else "dead"
    fields = _stat_fields(owner.pid)
    if fields is not None:
        if fields[0] in ("Z", "X", "x"):
            return "dead"  # a zombie does no work; its parent has not collected it yet
        now = f"ticks:{fields[19]}" if len(fields) > 19 else None
        return "alive" if now == owner.start else "dead"
    try:
        os.kill(owner.pid, 0)  # no /proc entry: gone, or hidden from us (/proc mounted with hidepid)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        return "alive"  # exists, another user's, and its start time cannot be read: assume it is the owner
    token = _start_token(owner.pid)
    if token is None or not owner.start:
        return "alive"
    return "alive" if token == owner.start else "dead"


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
        prctl.restype = ctypes.c_int
        fn: Callable[..., int] = prctl
        return fn
    except (OSError, AttributeError):
        return None


def die_with_parent(expected_parent: int | None = None, sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux ``PR_SET_PDEATHSIG``).

    Returns whether the request took effect. When ``expected_parent`` is given and the parent is
    already another process (it died before the call), this process exits at once.

    Linux sends the signal when the *thread* that started this process ends, so the parent must
    start its workers from a thread that lives as long as it does (see ``executors/local.py``).
    """
    prctl = _libc_prctl()
    ok = prctl is not None and prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)  # the parent is gone already: do no work for it
    return ok


def kill_pdeathsig_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess`` that gives the child ``PR_SET_PDEATHSIG`` = ``SIGKILL``.

    The ``prctl`` function is looked up here, in the parent, so the child only makes one C call
    between fork and exec. ``None`` where the platform has no ``prctl``.
    """
    prctl = _libc_prctl()
    if prctl is None:
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return preexec


def watch_parent(expected_parent: int, *, interval: float = 0.5, on_gone: Callable[[], None] | None = None) -> threading.Thread:
    """A daemon thread that calls ``on_gone`` (default: exit at once) when the parent PID changes.

    The fallback where ``PR_SET_PDEATHSIG`` is not available, and a second line of defence where it
    is: an orphan is re-parented (to PID 1 or a sub-reaper), so its parent PID changes.
    """

    def gone() -> None:
        os._exit(1)

    action = on_gone or gone
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            if os.getppid() != expected_parent:
                action()
                return

    thread = threading.Thread(target=run, name="mlops-parent-watch", daemon=True)
    thread.start()
    return thread
