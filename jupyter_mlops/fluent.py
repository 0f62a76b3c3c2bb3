"""The fluent layer: module-level functions that act on the current workspace.

The current workspace lives in a :class:`contextvars.ContextVar`, never a module global: set it
with :func:`init` or :func:`use`; when none is set, the workspace is discovered from the working
directory (nearest ``.mlops/``, or ``JUPYTER_MLOPS_HOME``) and the opened object is reused.
Each function here only delegates to a :class:`~jupyter_mlops.workspace.Workspace` method, so the
Python API, the magics, the CLI and the REST server share one implementation.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import NotFound

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .core.entities import AuditEvent, AuditVerification
    from .data.entities import DataDiff, DataVersion, DataVersionList
    from .lineage.graph import LineageGraph
    from .quality.report import QualityReport
    from .tracking.runs import ActiveRun, RunTable
    from .workspace import Workspace

__all__ = [
    "active_run",
    "check_data",
    "diff_data",
    "list_data",
    "load_data",
    "version_data",
    "current_workspace",
    "init",
    "lineage",
    "list_runs",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "start_run",
    "use",
]

_current: contextvars.ContextVar[Workspace | None] = contextvars.ContextVar("jupyter_mlops_workspace", default=None)
_opened: dict[tuple[str, str | None], Workspace] = {}


def current_workspace() -> Workspace:
    """The workspace set by :func:`init`/:func:`use`, else the one found from the working directory."""
    ws = _current.get()
    if ws is not None:
        return ws
    from .config import find_root
    from .workspace import Workspace

    root = find_root()
    key = (str(root), os.environ.get("JUPYTER_MLOPS_USER"))
    ws = _opened.get(key)
    if ws is None:
        ws = Workspace.open(root)
        _opened[key] = ws
    return ws


def use(workspace: Workspace | str | Path, *, user: str | None = None) -> Workspace:
    """Make ``workspace`` (an object or a project folder) current in this context."""
    from .workspace import Workspace

    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace, user=user)
    _current.set(ws)
    return ws


def init(path: str | Path = ".", *, user: str | None = None) -> Workspace:
    """Create (or open) the workspace in ``path`` and make it current; see :func:`jupyter_mlops.workspace.init`."""
    from .workspace import init as _init

    ws = _init(path, user=user)
    _current.set(ws)
    return ws


# -- runs and metrics ------------------------------------------------------------------------
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


def active_run() -> ActiveRun | None:
    """The innermost tracked run open in this context, or ``None``."""
    from .tracking.runs import current_run

    return current_run()


def _require_run() -> ActiveRun:
    run = active_run()
    if run is None:
        raise NotFound("no tracked run is active", hint="log inside `%%track` or `with mlops.start_run(...)`")
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


# -- data (issue 3) --------------------------------------------------------------------------
def check_data(data: Any, rules: Any, *, fail_on: str | None = None, sensitive: tuple[str, ...] = ()) -> QualityReport:
    """Check a frame or a data version against quality rules and store the report.

    Parameters
    ----------
    data:
        A pandas DataFrame or a data version spec such as ``"arrests@2"`` (its sensitive
        columns are masked in the report).
    rules:
        A pandera ``DataFrameSchema`` or the path of a YAML rules file
        (format: :mod:`jupyter_mlops.quality.rules`).
    fail_on:
        ``"error"`` raises :class:`~jupyter_mlops.errors.QualityCheckFailed` after storing a
        failing report; ``None`` only reports.
    sensitive:
        More columns whose values must never appear in the report.

    Returns
    -------
    QualityReport
        Every failure (column, check, failing rows, up to five examples), shown as HTML.
    """
    return current_workspace().quality.check(data, rules, fail_on=fail_on, sensitive=sensitive)  # type: ignore[no-any-return]


def version_data(
    obj: Any,
    name: str,
    *,
    key: str | Sequence[str] | None = None,
    sensitive: str | Sequence[str] = (),
    description: str | None = None,
) -> DataVersion:
    """Version a DataFrame, Series, file or folder: full-content fingerprint, profile and snapshot.

    Parameters
    ----------
    obj:
        A pandas DataFrame or Series, or the path of a file or folder.
    name:
        The data set name, e.g. ``"arrests"``; versions are numbered 1, 2, ... per name.
    key:
        Column(s) identifying a row (unique, no missing values), used by row-level diffs.
    sensitive:
        Columns whose values are masked everywhere; reading the snapshot needs permission.
    description:
        Free text kept with the version.

    Returns
    -------
    DataVersion
        The new version, or the latest one if nothing changed (no new bytes written). Inside a
        tracked run the version is linked to the run.
    """
    return current_workspace().data.version(obj, name, key=key, sensitive=sensitive, description=description)  # type: ignore[no-any-return]


def load_data(spec: str) -> Any:
    """Load a version back exactly (``"arrests@3"``, ``"arrests@latest"``, ``"arrests@<fingerprint>"``).

    Returns
    -------
    pandas.DataFrame | pandas.Series | bytes | dict[str, bytes]
        The frame (dtypes included), a file's bytes or a folder's files, after re-checking hashes.
    """
    return current_workspace().data.load(spec)


def diff_data(a: str, b: str, *, key: str | Sequence[str] | None = None) -> DataDiff:
    """Schema, row-count and profile changes from version ``a`` to ``b`` (rows too, given a key).

    Returns
    -------
    DataDiff
        Rendered as HTML in notebooks; sensitive values are masked.
    """
    return current_workspace().data.diff(a, b, key=key)  # type: ignore[no-any-return]


def list_data(name: str | None = None) -> DataVersionList:
    """Data versions of the current workspace, newest first (of one data set if ``name`` is given)."""
    return current_workspace().data.list(name)  # type: ignore[no-any-return]


# -- models, evaluation, review, cards (issue 5) ----------------------------------------------

# -- notebooks and pipelines (issue 4) ------------------------------------------------------

# -- dashboards (issue 6) ---------------------------------------------------------------------
