"""jupyter-mlops: a notebook cell, its data, its model, its review and its endpoint as one verifiable chain.

``import jupyter_mlops as mlops`` is cheap: every public name is imported on first use (PEP 562),
so ``%load_ext jupyter_mlops`` and ``jupyter-mlops --help`` do not pay for MLflow or pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # workspace and runs
    "Workspace": "jupyter_mlops.workspace",
    "Settings": "jupyter_mlops.config",
    "settings_context": "jupyter_mlops.config",
    "init": "jupyter_mlops.fluent",
    "use": "jupyter_mlops.fluent",
    "current_workspace": "jupyter_mlops.fluent",
    "start_run": "jupyter_mlops.fluent",
    "active_run": "jupyter_mlops.fluent",
    "log_metric": "jupyter_mlops.fluent",
    "log_metrics": "jupyter_mlops.fluent",
    "log_param": "jupyter_mlops.fluent",
    "log_params": "jupyter_mlops.fluent",
    "list_runs": "jupyter_mlops.fluent",
    "lineage": "jupyter_mlops.fluent",
    "run_notebook": "jupyter_mlops.fluent",
    "run_pipeline": "jupyter_mlops.fluent",
    "rerun": "jupyter_mlops.fluent",
    "NotebookRun": "jupyter_mlops.pipelines.tracked",
    "PipelineResult": "jupyter_mlops.pipelines.results",
    "dashboard": "jupyter_mlops.widgets",
    "ActiveRun": "jupyter_mlops.tracking.runs",
    "AuditEvent": "jupyter_mlops.core.entities",
    "AuditVerification": "jupyter_mlops.core.entities",
    "RunInfo": "jupyter_mlops.core.entities",
    "LineageGraph": "jupyter_mlops.lineage.graph",
    # model cards (issue 5)
    "build_card": "jupyter_mlops.fluent",
    "edit_card": "jupyter_mlops.fluent",
    "get_card": "jupyter_mlops.fluent",
    "ModelCard": "jupyter_mlops.cards.card",
    # model registry and review (issue 5)
    "log_model": "jupyter_mlops.fluent",
    "load_model": "jupyter_mlops.fluent",
    "list_models": "jupyter_mlops.fluent",
    "request_review": "jupyter_mlops.fluent",
    "approve": "jupyter_mlops.fluent",
    "reject": "jupyter_mlops.fluent",
    "promote": "jupyter_mlops.fluent",
    "alias_history": "jupyter_mlops.fluent",
    "ModelVersion": "jupyter_mlops.registry.entities",
    "ModelTable": "jupyter_mlops.registry.entities",
    "Review": "jupyter_mlops.registry.entities",
    "AliasMove": "jupyter_mlops.registry.entities",
    "AliasHistory": "jupyter_mlops.registry.entities",
    # evaluation (issue 5)
    "evaluate": "jupyter_mlops.fluent",
    "EvaluationReport": "jupyter_mlops.evaluation.report",
    "audit": "jupyter_mlops.audit",
    "errors": "jupyter_mlops.errors",
    # errors
    "MlopsError": "jupyter_mlops.errors",
    "InvalidInput": "jupyter_mlops.errors",
    "UnsafePath": "jupyter_mlops.errors",
    "NotFound": "jupyter_mlops.errors",
    "Conflict": "jupyter_mlops.errors",
    "PermissionDenied": "jupyter_mlops.errors",
    "IntegrityError": "jupyter_mlops.errors",
    "WorkspaceNotFound": "jupyter_mlops.errors",
    "QualityCheckFailed": "jupyter_mlops.errors",
    # data versions (issue 3)
    "version_data": "jupyter_mlops.fluent",
    "load_data": "jupyter_mlops.fluent",
    "diff_data": "jupyter_mlops.fluent",
    "list_data": "jupyter_mlops.fluent",
    "DataVersion": "jupyter_mlops.data.entities",
    "DataDiff": "jupyter_mlops.data.entities",
    "DataVersionList": "jupyter_mlops.data.entities",
    "DataVerification": "jupyter_mlops.data.entities",
    # quality checks (issue 3)
    "check_data": "jupyter_mlops.fluent",
    "QualityReport": "jupyter_mlops.quality.report",
    "ReviewRuleViolation": "jupyter_mlops.errors",
    # governance (issue 13)
    "check_compliance": "jupyter_mlops.fluent",
    "ComplianceReport": "jupyter_mlops.governance.compliance",
}

__all__ = sorted([*_EXPORTS, "__version__", "load_ipython_extension", "unload_ipython_extension"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_mlops' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mlops``: register ``%%track`` and ``%mlops`` (nothing heavy is imported)."""
    from .magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_mlops``: remove the cell hook."""
    from .magics import unload

    unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlops"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_mlops"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from .server import load_server_extension

    load_server_extension(server_app)


if TYPE_CHECKING:
    from . import audit, errors
    from .config import Settings, settings_context
    from .core.entities import AuditEvent, AuditVerification, RunInfo
    from .errors import (
        Conflict,
        IntegrityError,
        InvalidInput,
        MlopsError,
        NotFound,
        PermissionDenied,
        QualityCheckFailed,
        ReviewRuleViolation,
        UnsafePath,
        WorkspaceNotFound,
    )
    from .fluent import (
        active_run,
        current_workspace,
        init,
        lineage,
        list_runs,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        start_run,
        use,
    )
    from .cards.card import ModelCard
    from .fluent import build_card, edit_card, get_card
    from .widgets import dashboard
    from .fluent import check_data
    from .data.entities import DataDiff, DataVerification, DataVersion, DataVersionList
    from .fluent import diff_data, list_data, load_data, version_data
    from .evaluation.report import EvaluationReport
    from .fluent import evaluate
    from .fluent import alias_history, approve, list_models, load_model, log_model, promote, reject, request_review
    from .registry.entities import AliasHistory, AliasMove, ModelTable, ModelVersion, Review
    from .lineage.graph import LineageGraph
    from .fluent import rerun, run_notebook, run_pipeline
    from .pipelines.results import PipelineResult
    from .pipelines.tracked import NotebookRun
    from .quality.report import QualityReport
    from .tracking.runs import ActiveRun
    from .workspace import Workspace
