"""The default executor: a pool of local worker processes.

Workers are started with ``spawn`` (not ``fork``): the parent holds SQLite connections, MLflow
clients and threads that must not be duplicated into a child. Each worker runs one stage at a time
and starts its own kernel, so ``max_workers`` bounds the kernels running at once.

:func:`shared_pool` keeps one pool per size for the life of the process, so a notebook or a
service that runs several pipelines pays for starting and warming its workers once. A pool whose
worker died is replaced on its next use.

Workers die with the process that started them: each sets ``PR_SET_PDEATHSIG`` (SIGKILL) on
Linux and watches its parent PID as a fallback, so a killed ``jupyter-mlops run`` leaves no worker
behind to finish a stage for nobody (their kernels die with them the same way). Linux sends that
signal when the *thread* that spawned the worker ends, so every worker is spawned by one
long-lived spawner thread, never by whichever short-lived thread happened to submit work.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from .spawn import ensure_spawnable_main

__all__ = ["LocalExecutor", "shared_pool"]


def _warm_call(fn: Callable[[], Any], hold: float) -> int:
    fn()
    time.sleep(hold)  # keep this worker busy so the next warm call lands on another one
    return os.getpid()


def _noop() -> int:
    return os.getpid()


def _worker_init(parent: int) -> None:
    """Runs first in every worker: die with the parent (and at once if it is already gone)."""
    from ..core.process import die_with_parent, watch_parent

    die_with_parent(parent)
    watch_parent(parent)


class _Spawner:
    """One long-lived thread that creates every worker process (see the module docstring)."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], queue.Queue[tuple[bool, Any]]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], Any]) -> Any:
        """Call ``fn`` on the spawner thread and return its result (or raise its error)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mlops-pool-spawner", daemon=True)
                self._thread.start()
        if threading.current_thread() is self._thread:
            return fn()
        reply: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
        self._jobs.put((fn, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return value

    def _loop(self) -> None:
        while True:
            fn, reply = self._jobs.get()
            try:
                reply.put((True, fn()))
            except BaseException as exc:
                reply.put((False, exc))


_spawner = _Spawner()


class LocalExecutor:
    """A process pool of ``max_workers`` spawned workers, created on first use."""

    name = "local"

    def __init__(self, max_workers: int = 2) -> None:
        self.max_workers = max_workers
        self._pool: ProcessPoolExecutor | None = None
        self._warmed: set[Hashable] = set()
        self._lock = threading.Lock()

    @property
    def pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is not None and getattr(self._pool, "_broken", False):
                self._pool.shutdown(wait=False, cancel_futures=True)  # a worker died: start afresh
                self._pool = None
            if self._pool is None:
                ensure_spawnable_main()
                self._pool = _spawner.run(self._start_pool)
                self._warmed = set()
            return self._pool

    def _start_pool(self) -> ProcessPoolExecutor:
        """Create the pool and all its workers now, on the spawner thread."""
        pool = ProcessPoolExecutor(
            max_workers=self.max_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        # Each submit starts one worker while none is idle: submitting max_workers calls at once
        # spawns them all here, so no later submit (from another thread) ever spawns one.
        for _ in range(self.max_workers):
            pool.submit(_noop)
        return pool

    @property
    def started(self) -> bool:
        """Whether worker processes exist (or are starting)."""
        return self._pool is not None

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` in a worker process."""
        return self.pool.submit(fn, *args)

    def warm(self, fn: Callable[[], Any]) -> None:
        """Start all workers and run ``fn`` in each."""
        futures = [self.pool.submit(_warm_call, fn, 0.3) for _ in range(self.max_workers)]
        for f in futures:
            f.result()

    def warm_async(self, fn: Callable[[], Any], key: Hashable = None) -> None:
        """Queue ``fn`` once per worker without waiting (skipped when ``key`` was warmed already)."""
        pool = self.pool
        if key is not None and key in self._warmed:
            return
        for _ in range(self.max_workers):
            pool.submit(_warm_call, fn, 0.0)
        if key is not None:
            self._warmed.add(key)

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"LocalExecutor(max_workers={self.max_workers})"


_shared: dict[int, LocalExecutor] = {}
_shared_lock = threading.Lock()


def shared_pool(max_workers: int) -> LocalExecutor:
    """The process-wide pool with ``max_workers`` workers (created lazily, closed at exit)."""
    with _shared_lock:
        ex = _shared.get(max_workers)
        if ex is None:
            if not _shared:
                atexit.register(_close_shared)
            ex = _shared[max_workers] = LocalExecutor(max_workers)
        return ex


def _close_shared() -> None:
    for ex in list(_shared.values()):
        ex.close()
    _shared.clear()
