"""The executor role: where pipeline stages run (a local process pool, a Dask cluster, plug-ins).

An executor hands out :class:`concurrent.futures.Future` objects, so the pipeline scheduler waits
on one kind of future whatever runs the work. Executors are found by name in a
:class:`~jupyter_mlops.core.registry.Registry` (``jupyter_mlops.executor`` entry points add more);
``dask://HOST:PORT`` and ``tcp://HOST:PORT`` addresses select the Dask executor.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from ..core.paths import validate_uri
from ..core.registry import Registry
from .spawn import ensure_spawnable_main

__all__ = ["EXECUTORS", "Executor", "ensure_spawnable_main", "get_executor"]


class Executor(Protocol):
    """Runs picklable callables somewhere and returns futures."""

    name: str
    max_workers: int

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on a worker."""
        ...

    def warm(self, fn: Callable[[], Any]) -> None:
        """Start every worker and run ``fn`` on it once (imports, caches)."""
        ...

    def close(self) -> None:
        """Release workers or the connection (never shuts down a cluster we did not start)."""
        ...


ExecutorFactory = Callable[[str, int], Executor]

#: name -> factory(address, max_workers)
EXECUTORS: Registry[ExecutorFactory] = Registry("executor")


def _local(address: str, max_workers: int) -> Executor:
    from .local import LocalExecutor

    return LocalExecutor(max_workers)


def _dask(address: str, max_workers: int) -> Executor:
    from .dask import DaskExecutor

    return DaskExecutor(address, max_workers)


EXECUTORS.register("local", _local)
EXECUTORS.register("dask", _dask)


def get_executor(spec: str, max_workers: int) -> Executor:
    """``"local"``, ``"dask://HOST:PORT"`` / ``"tcp://HOST:PORT"``, or a registered executor name."""
    spec = (spec or "local").strip()
    if "://" in spec:
        validate_uri(spec, kind="executor address")
        scheme = spec.split("://", 1)[0].lower()
        name = "dask" if scheme in ("dask", "tcp") else scheme
        address = spec
    else:
        name, address = spec, spec
    impl: Any = EXECUTORS.get(name)
    make: ExecutorFactory = impl() if _is_thunk(impl) else impl  # entry points register a loader
    return make(address, max(1, int(max_workers)))


def _is_thunk(obj: Any) -> bool:
    import inspect

    try:
        return len(inspect.signature(obj).parameters) == 0
    except (TypeError, ValueError):
        return False
