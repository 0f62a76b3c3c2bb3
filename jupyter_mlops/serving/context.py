"""What serving needs of the workspace: the capability context and the services it checks.

A deployment is gated on the registry's review (``models``), the version's evaluation and card
(``evaluation``, ``cards``, also packaged), and reads the training data (``data``) for drift.
:class:`~jupyter_mlops.workspace.Workspace` is a :class:`ServingContext`; this package never
imports the workspace (and :mod:`~jupyter_mlops.serving.runtime` imports none of this).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..core.context import Context

if TYPE_CHECKING:
    from ..cards.service import CardService
    from ..data.service import DataService
    from ..evaluation.service import EvaluationService
    from ..governance.compliance import ComplianceService
    from ..registry.service import ModelRegistry

__all__ = ["ServingContext"]


class ServingContext(Context, Protocol):
    """The context a deployment is served in."""

    @property
    def data(self) -> DataService: ...

    @property
    def models(self) -> ModelRegistry: ...

    @property
    def evaluation(self) -> EvaluationService: ...

    @property
    def cards(self) -> CardService: ...

    @property
    def compliance(self) -> ComplianceService: ...
