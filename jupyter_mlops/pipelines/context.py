"""What the pipeline layer needs of the workspace: the capability context and a few services.

:class:`PipelineContext` is the :class:`~jupyter_mlops.core.context.Context` plus the data service
(declared inputs, fingerprints of outputs), the model registry (``model:`` outputs), the
environment of a kernel (``child_env``, which only the configuration layer knows how to build) and
a picklable way to open the same workspace in a worker process (``opener``).
:class:`~jupyter_mlops.workspace.Workspace` is one; this package never imports the workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..core.context import Context

if TYPE_CHECKING:
    from ..data.service import DataService
    from ..registry.service import ModelRegistry

__all__ = ["PipelineContext"]


class PipelineContext(Context, Protocol):
    """The context a pipeline runs in."""

    @property
    def data(self) -> DataService: ...

    @property
    def models(self) -> ModelRegistry: ...

    def child_env(self, **values: str) -> dict[str, str]:
        """The environment of a kernel with ``JUPYTER_MLOPS_*`` ``values`` set."""
        ...

    def opener(self) -> Callable[[], PipelineContext]:
        """A picklable callable that opens this workspace again (in a worker) as the same actor."""
        ...

    def for_stage(self, parent_run_id: str | None) -> PipelineContext:
        """The same workspace with settings of its own, runs opened in it children of ``parent_run_id``."""
        ...
