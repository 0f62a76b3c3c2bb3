"""Which capability is built on which: the services a :class:`~jupyter_mlops.workspace.Workspace` offers.

Each capability is imported on first use and handed the workspace as its narrow
:class:`~jupyter_mlops.core.context.Context` plus the capabilities it builds on, here, in one
place: data, then quality, the registry, evaluation, cards, compliance and pipelines.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from .cards.service import CardService
    from .data.service import DataService
    from .evaluation.service import EvaluationService
    from .governance.compliance import ComplianceService
    from .pipelines.service import PipelineService
    from .quality.service import QualityService
    from .registry.service import ModelRegistry
    from .workspace import Workspace

__all__ = ["SCHEMA_MODULES", "CapabilityWiring"]

#: Modules whose ``SCHEMA`` component is migrated when a workspace opens.
SCHEMA_MODULES = (
    "jupyter_mlops.audit.chain",
    "jupyter_mlops.tracking.schema",
    "jupyter_mlops.lineage.schema",
    "jupyter_mlops.data.schema",
    "jupyter_mlops.registry.schema",
    "jupyter_mlops.quality.schema",
    "jupyter_mlops.evaluation.schema",
    "jupyter_mlops.cards.schema",
    "jupyter_mlops.pipelines.schema",
    "jupyter_mlops.serving.schema",
    "jupyter_mlops.governance.schema",
)


class CapabilityWiring:
    """The capability services of a workspace (mixed into :class:`~jupyter_mlops.workspace.Workspace`)."""

    @property
    def _ws(self) -> Workspace:
        return cast("Workspace", self)

    @cached_property
    def data(self) -> DataService:
        """Data versions, snapshots and diffs (:class:`~jupyter_mlops.data.service.DataService`)."""
        from .data.service import DataService

        return DataService(self._ws)

    @cached_property
    def quality(self) -> QualityService:
        """Quality checks (:class:`~jupyter_mlops.quality.service.QualityService`)."""
        from .quality.service import QualityService

        return QualityService(self._ws, self._ws.data)

    @cached_property
    def models(self) -> ModelRegistry:
        """Model logging, registry and review (:class:`~jupyter_mlops.registry.service.ModelRegistry`).

        The review asks the evaluations and cards (which build on the registry) for the evidence a
        request rests on, and a logged version takes over the evaluations made of it earlier.
        """
        from .registry.service import ModelRegistry

        return ModelRegistry(
            self._ws,
            self._ws.data,
            evaluation_of=self._ws._latest_evaluation,
            card_of=self._ws._latest_card,
            on_logged=self._ws._attach_evaluations,
            promotion_gate=self._ws._require_compliance,
        )

    # The registry is built before the capabilities above it, so it reaches them through these, late.
    def _latest_evaluation(self, ref: str) -> Any:
        return self._ws.evaluation.latest_for(ref)

    def _latest_card(self, ref: str) -> Any:
        return self._ws.cards.latest_for(ref)

    def _require_compliance(self, ref: str, action: str) -> None:
        from .governance.gate import require_passing_report

        require_passing_report(self._ws, ref, action=action)

    def _attach_evaluations(self, ref: str, model_sha256: str, run_id: str | None) -> list[str]:
        return self._ws.evaluation.attach(ref, model_sha256, run_id)

    @cached_property
    def evaluation(self) -> EvaluationService:
        """Model evaluation with fairness (:class:`~jupyter_mlops.evaluation.service.EvaluationService`)."""
        from .evaluation.service import EvaluationService

        return EvaluationService(self._ws, self._ws.data, self._ws.models)

    @cached_property
    def cards(self) -> CardService:
        """Model cards (:class:`~jupyter_mlops.cards.service.CardService`)."""
        from .cards.service import CardService

        return CardService(
            self._ws, data=self._ws.data, quality=self._ws.quality, evaluation=self._ws.evaluation, models=self._ws.models
        )

    @cached_property
    def compliance(self) -> ComplianceService:
        """Compliance checks against a written policy (:class:`~jupyter_mlops.governance.compliance.ComplianceService`)."""
        from .governance.compliance import ComplianceService

        return ComplianceService(
            self._ws,
            models=self._ws.models,
            evaluation=self._ws.evaluation,
            cards=self._ws.cards,
            data=self._ws.data,
            quality=self._ws.quality,
        )

    @cached_property
    def pipelines(self) -> PipelineService:
        """Notebook and pipeline runs (:class:`~jupyter_mlops.pipelines.service.PipelineService`)."""
        from .pipelines.service import PipelineService

        return PipelineService(self._ws)
