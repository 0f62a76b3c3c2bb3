"""The fluent layer: module-level functions that act on the current workspace.

The current workspace lives in a :class:`contextvars.ContextVar`, never a module global
(:mod:`.context`): set it with :func:`init` or :func:`use`; when none is set, the workspace is
discovered from the working directory and the opened object is reused. Each other function
only resolves that workspace and delegates to one :class:`~jupyter_mlops.workspace.Workspace`
method, so the Python API, the magics, the CLI and the REST server share one implementation.
This module is the table of those names; they are defined by topic in its submodules.
"""

from __future__ import annotations

from .context import _current as _current
from .context import _opened as _opened
from .context import current_workspace, init, use
from .data import check_data, diff_data, list_data, load_data, version_data
from .models import (
    alias_history,
    approve,
    build_card,
    check_compliance,
    edit_card,
    evaluate,
    get_card,
    list_models,
    load_model,
    log_model,
    promote,
    reject,
    request_review,
)
from .pipelines import rerun, run_notebook, run_pipeline
from .runs import (
    active_run,
    audit_log,
    lineage,
    list_runs,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    start_run,
    verify_audit,
)

__all__ = [
    "active_run",
    "alias_history",
    "approve",
    "audit_log",
    "build_card",
    "check_compliance",
    "check_data",
    "current_workspace",
    "diff_data",
    "edit_card",
    "evaluate",
    "get_card",
    "init",
    "lineage",
    "list_data",
    "list_models",
    "list_runs",
    "load_data",
    "load_model",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "promote",
    "reject",
    "request_review",
    "rerun",
    "run_notebook",
    "run_pipeline",
    "start_run",
    "use",
    "verify_audit",
    "version_data",
]
