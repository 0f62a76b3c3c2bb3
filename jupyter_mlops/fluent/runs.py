"""Fluent shortcuts for runs, metrics, lineage and the audit trail, on the current workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from .context import current_workspace

if TYPE_CHECKING:
    from ..core.entities import AuditEvent, AuditVerification
    from ..lineage.graph import LineageGraph
    from ..tracking.entities import RunTable
    from ..tracking.runs import ActiveRun, TrackedRun

__all__ = [
    "active_run",
    "audit_log",
    "lineage",
    "list_runs",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "start_run",
    "verify_audit",
]


def start_run(
    name: str,
    *,
    experiment: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    autolog: bool = False,
) -> ActiveRun:
    """Open a tracked run: ``with mlops.start_run("train", params={"C": 1.0}) as run: ...``.

    The run records parameters, metrics, git state, environment and who ran it, and always ends
    FINISHED, FAILED (with the error) or KILLED.
    """
    return current_workspace().start_run(name, experiment=experiment, params=params, tags=tags, autolog=autolog)


def active_run() -> TrackedRun | None:
    """The innermost tracked run open in this context, or ``None``.

    At the top level of a notebook run as a pipeline stage (or by ``jupyter-mlops run``), that is
    the stage run itself: what the notebook logs there lands on the stage.
    """
    from ..config import process_env
    from ..tracking.runs import current_run, stage_run

    run = current_run()
    if run is None and process_env("PARENT_RUN_ID"):
        return stage_run(current_workspace())
    return run


def _require_run() -> TrackedRun:
    run = active_run()
    if run is None:
        raise NotFound(
            "no tracked run is active",
            hint="log inside `%%track` or `with mlops.start_run(...)`, or run the notebook as a stage (`jupyter-mlops run`)",
        )
    return run


def log_metric(key: str, value: float, step: int = 0) -> None:
    """Log a metric to the active tracked run."""
    _require_run().log_metric(key, value, step)


def log_metrics(metrics: dict[str, float], step: int = 0) -> None:
    """Log several metrics to the active tracked run."""
    _require_run().log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    """Log a parameter to the active tracked run."""
    _require_run().log_param(key, value)


def log_params(params: dict[str, Any]) -> None:
    """Log several parameters to the active tracked run."""
    _require_run().log_params(params)


def list_runs(*, experiment: str | None = None, status: str | None = None, limit: int = 50) -> RunTable:
    """Recent runs of the current workspace (newest first)."""
    return current_workspace().list_runs(experiment=experiment, status=status, limit=limit)


def lineage(node_type: str, node_id: str) -> LineageGraph:
    """Everything linked to a node, e.g. ``mlops.lineage("model_version", "arrests-clf@3")``."""
    return current_workspace().lineage(node_type, node_id)


def verify_audit() -> AuditVerification:
    """Recompute the audit chain of the current workspace."""
    return current_workspace().verify_audit()


def audit_log(**filters: Any) -> list[AuditEvent]:
    """Audit events of the current workspace, newest first (see :meth:`Workspace.audit_events`)."""
    return current_workspace().audit_events(**filters)
