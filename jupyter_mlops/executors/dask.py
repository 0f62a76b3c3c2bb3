"""Run pipeline stages on a Dask distributed cluster (the only module that imports dask).

Give the scheduler's address as ``dask://HOST:PORT`` or ``tcp://HOST:PORT``. Workers must have
jupyter-mlops, the notebooks' kernel and access to the workspace folder (a shared filesystem),
because each stage opens the workspace and starts its kernel on the worker. The cluster is only
connected to, never shut down by us.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..errors import PipelineError

__all__ = ["DaskExecutor"]


class DaskExecutor:
    """A connection to a Dask scheduler that submits stages as tasks."""

    name = "dask"

    def __init__(self, address: str, max_workers: int = 2, *, connect_timeout: float = 10.0) -> None:
        self.address = address
        self.max_workers = max_workers
        self.connect_timeout = connect_timeout
        self._client: Any = None
        self._executor: Any = None

    @property
    def tcp_address(self) -> str:
        scheme, _, rest = self.address.partition("://")
        return f"tcp://{rest}" if scheme.lower() in ("dask", "tcp") else self.address

    @property
    def client(self) -> Any:
        if self._client is None:
            from distributed import Client

            try:
                self._client = Client(self.tcp_address, timeout=self.connect_timeout, set_as_default=False)  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError) as exc:
                raise PipelineError(
                    f"cannot reach the Dask scheduler at {self.address}: {exc}",
                    value=self.address,
                    hint="check the address (dask://HOST:PORT) and that the scheduler is running, or use --executor local",
                ) from None
            self._executor = self._client.get_executor(pure=False)
        return self._client

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` as a Dask task (a standard concurrent future is returned)."""
        _ = self.client
        future: Future[Any] = self._executor.submit(fn, *args)
        return future

    def warm(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once on every worker."""
        self.client.run(fn)

    def workers(self) -> int:
        """How many workers the cluster has now."""
        return len(self.client.scheduler_info().get("workers", {}))

    def close(self) -> None:
        """Disconnect (the cluster keeps running)."""
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None
                self._executor = None

    def __repr__(self) -> str:
        return f"DaskExecutor({self.address!r})"
