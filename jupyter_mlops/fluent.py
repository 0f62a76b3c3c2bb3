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
    from collections.abc import Callable, Sequence

    from .cards.card import ModelCard
    from .core.entities import AuditEvent, AuditVerification
    from .data.entities import DataDiff, DataVersion, DataVersionList
    from .evaluation.report import EvaluationReport
    from .lineage.graph import LineageGraph
    from .pipelines.results import PipelinePlan, PipelineResult, RerunCheck
    from .pipelines.tracked import NotebookRun
    from .quality.report import QualityReport
    from .registry.entities import AliasHistory, AliasMove, ModelTable, ModelVersion, Review
    from .tracking.runs import ActiveRun, RunTable, TrackedRun
    from .workspace import Workspace

__all__ = [
    "rerun",
    "run_notebook",
    "run_pipeline",
    "alias_history",
    "approve",
    "list_models",
    "load_model",
    "log_model",
    "promote",
    "reject",
    "request_review",
    "active_run",
    "build_card",
    "check_data",
    "diff_data",
    "list_data",
    "load_data",
    "version_data",
    "current_workspace",
    "dashboard",
    "edit_card",
    "evaluate",
    "get_card",
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


def active_run() -> TrackedRun | None:
    """The innermost tracked run open in this context, or ``None``.

    At the top level of a notebook run as a pipeline stage (or by ``jupyter-mlops run``), that is
    the stage run itself: what the notebook logs there lands on the stage.
    """
    from .config import process_env
    from .tracking.runs import current_run, stage_run

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
    return current_workspace().quality.check(data, rules, fail_on=fail_on, sensitive=sensitive)


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
    return current_workspace().data.version(obj, name, key=key, sensitive=sensitive, description=description)


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
    return current_workspace().data.diff(a, b, key=key)


def list_data(name: str | None = None) -> DataVersionList:
    """Data versions of the current workspace, newest first (of one data set if ``name`` is given)."""
    return current_workspace().data.list(name)


# -- models, evaluation, review, cards (issue 5) ----------------------------------------------
def evaluate(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    target: str | None = None,
    sensitive_features: Any = None,
    baseline: Any = None,
    thresholds: dict[str, Any] | None = None,
    model_version: str | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> EvaluationReport:
    """Evaluate a model with bootstrap intervals, group fairness, a baseline and thresholds.

    Parameters
    ----------
    model:
        A fitted estimator, or a registered version (``"name@3"``, ``"name@champion"``).
    X, y:
        Test features and labels (frames, arrays or data versions). A data version (or frame)
        that holds the labels too is given alone, with ``target``:
        ``mlops.evaluate(model, "arrests-test@1", target="released", sensitive_features=["colour", "sex"])``.
    target:
        The label column of ``X``, in place of ``y``.
    sensitive_features:
        Column names of ``X`` (``["colour", "sex"]``), a Series, a DataFrame or a dict; each
        feature and each pair gets per-group metrics and disparities (fairlearn ``MetricFrame``).
    baseline:
        A model or version to compare with; default: the serving alias (``champion``) version.
    thresholds:
        Pass/fail rules, e.g. ``{"accuracy": 0.7, "equalized_odds_difference": ("<=", 0.1)}``.
    model_version:
        The registered version ``model`` is, when ``model`` is an estimator object. Without it,
        a model loaded from the registry, or logged in the same run before or after this call,
        is matched to its version by content.
    n_bootstrap, seed:
        Bootstrap rounds for the 95% intervals and their random seed.

    Returns
    -------
    EvaluationReport
        Stored, audited (``model.evaluate``), linked to the model version and logged to the active
        run; the data versions the rows came from (or their fingerprint) are recorded.
    """
    return current_workspace().evaluation.evaluate(
        model,
        X,
        y,
        target=target,
        sensitive_features=sensitive_features,
        baseline=baseline,
        thresholds=thresholds,
        model_version=model_version,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )


def build_card(spec: str) -> ModelCard:
    """Build the model card of ``spec`` (``"name@3"``, ``"name@champion"``) from what was recorded.

    Parameters
    ----------
    spec:
        The model version, ``NAME@NUMBER`` or ``NAME@ALIAS``.

    Returns
    -------
    ModelCard
        The current card; sections with no recorded or written fact say ``"unknown"``.
    """
    return current_workspace().cards.build_card(spec)


def edit_card(spec: str, section: str, text: str) -> ModelCard:
    """Rewrite a human-written section of the card of ``spec``, as a new, audited card version.

    Parameters
    ----------
    spec:
        The model version, ``NAME@NUMBER`` or ``NAME@ALIAS``.
    section:
        ``intended_use``, ``out_of_scope_uses``, ``ethical_considerations``,
        ``caveats_and_recommendations``, ``risk_management``, ``standards_applied``,
        ``declaration_of_conformity`` or ``post_market_monitoring`` (or its heading).
    text:
        What the section says (shown as text, never as HTML).

    Returns
    -------
    ModelCard
        The new card version.
    """
    return current_workspace().cards.edit_card(spec, section, text)


def get_card(spec: str, version: int | None = None) -> ModelCard:
    """The card of ``spec``: its latest version, or card version ``version``.

    Parameters
    ----------
    spec:
        The model version, ``NAME@NUMBER`` or ``NAME@ALIAS``.
    version:
        A card version number (``None``: the latest).

    Returns
    -------
    ModelCard
        The stored card, after checking it against its recorded sha256.
    """
    return current_workspace().cards.get_card(spec, version)


def log_model(model: Any, name: str, *, X_example: Any, serialization: str = "skops") -> ModelVersion:
    """Log a fitted scikit-learn model (or pipeline) to MLflow and register a new version.

    Parameters
    ----------
    model:
        The fitted estimator or pipeline.
    name:
        The registered model name, e.g. ``"arrests-clf"``.
    X_example:
        A few training rows; the signature and input example come from them.
    serialization:
        ``"skops"`` (default; executes no code on load) or ``"cloudpickle"``.

    Returns
    -------
    ModelVersion
        The version with the sha256 of every artifact file, its run, data versions and code hash.
    """
    return current_workspace().models.log_model(model, name, X_example=X_example, serialization=serialization)


def load_model(spec: str) -> Any:
    """Load ``"name@3"`` or ``"name@champion"`` after re-checking the hash of every artifact file.

    Parameters
    ----------
    spec:
        ``NAME@NUMBER``, ``NAME@latest`` or ``NAME@ALIAS``.

    Returns
    -------
    Any
        The fitted model; :class:`~jupyter_mlops.errors.IntegrityError` (naming the file) if any byte changed.
    """
    return current_workspace().models.load_model(spec)


def list_models(name: str | None = None) -> ModelTable:
    """Registered versions with author, review status (none, pending, approved, rejected) and aliases.

    Parameters
    ----------
    name:
        Only this model (default: all).

    Returns
    -------
    ModelTable
        Shown as a table in notebooks.
    """
    return current_workspace().models.list_models(name)


def request_review(spec: str, note: str = "") -> Review:
    """Submit a version for review; it needs a completed evaluation and a model card.

    Parameters
    ----------
    spec:
        The model version, e.g. ``"arrests-clf@3"``.
    note:
        What the reviewers should know.

    Returns
    -------
    Review
        The audited request; the version's status becomes ``pending``.
    """
    return current_workspace().models.request_review(spec, note)


def approve(spec: str, comment: str = "") -> Review:
    """Approve a pending version: the reviewer must hold the reviewer role and not be its author.

    Parameters
    ----------
    spec:
        The model version, e.g. ``"arrests-clf@3"``.
    comment:
        The reason, kept in the audit trail.

    Returns
    -------
    Review
        The audited approval.
    """
    return current_workspace().models.approve(spec, comment)


def reject(spec: str, comment: str = "") -> Review:
    """Reject a pending version: the reviewer must hold the reviewer role and not be its author.

    Parameters
    ----------
    spec:
        The model version, e.g. ``"arrests-clf@3"``.
    comment:
        The reason, kept in the audit trail.

    Returns
    -------
    Review
        The audited rejection.
    """
    return current_workspace().models.reject(spec, comment)


def promote(spec: str, alias: str | None = None) -> AliasMove:
    """Point an alias at a version; the serving alias (``champion``) only at an approved one.

    Parameters
    ----------
    spec:
        The model version, e.g. ``"arrests-clf@3"``.
    alias:
        Default: ``[review] serving_alias`` of ``config.toml``.

    Returns
    -------
    AliasMove
        The audited move (from version, to version, who, when, approved by).
    """
    return current_workspace().models.promote(spec, alias)


def alias_history(name: str, alias: str | None = None) -> AliasHistory:
    """Every move of a model's aliases: who put which version there, when, approved by whom.

    Parameters
    ----------
    name:
        The registered model name.
    alias:
        Only this alias (default: all).

    Returns
    -------
    AliasHistory
        Oldest move first; shown as a table in notebooks.
    """
    return current_workspace().models.alias_history(name, alias)


# -- notebooks and pipelines (issue 4) ------------------------------------------------------
def run_notebook(
    notebook: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    output: str | Path | None = None,
    timeout: float | None = None,
    kernel: str | None = None,
    progress: Callable[[dict[str, Any]], None] | str | None = None,
) -> NotebookRun:
    """Execute a notebook with papermill inside a tracked stage run; see :meth:`PipelineService.run_notebook`.

    Parameters
    ----------
    notebook:
        The ``.ipynb`` file; ``parameters`` go into its cell tagged ``parameters``.
    output:
        Where the executed notebook is written (kept whatever the outcome).
    timeout:
        Seconds any one cell may run.
    kernel:
        Kernel name (default: the notebook's own).
    progress:
        ``"widget"`` shows a live progress widget (in a notebook); or a callable taking event dicts.

    Returns
    -------
    NotebookRun
        The classified outcome (SUCCEEDED, FAILED, KILLED, TIMED_OUT, EXITED_EARLY) and the run id.
    """
    return current_workspace().pipelines.run_notebook(
        notebook, parameters, output=output, timeout=timeout, kernel=kernel, progress=_progress(progress)
    )


def _progress(progress: Callable[[dict[str, Any]], None] | str | None) -> Callable[[dict[str, Any]], None] | None:
    """Resolve ``progress="widget"`` to a displayed progress widget (widgets are imported only then)."""
    if progress is None or callable(progress):
        return progress
    if progress == "widget":
        from .widgets.progress import show_progress

        return show_progress()
    from .errors import InvalidInput

    raise InvalidInput(
        f"progress must be 'widget', a callable or None, got {progress!r}", value=repr(progress)[:80], field="progress"
    )


def run_pipeline(
    pipeline: str | Path,
    *,
    stages: Sequence[str] = (),
    force: bool = False,
    executor: str | None = None,
    max_parallel: int = 2,
    dry_run: bool = False,
    progress: Callable[[dict[str, Any]], None] | str | None = None,
) -> PipelineResult | PipelinePlan:
    """Run a ``pipeline.yaml``: cached, swept, in parallel; see :meth:`PipelineService.run_pipeline`.

    Parameters
    ----------
    pipeline:
        The pipeline file.
    stages:
        Run only these stages and what they need.
    force:
        Re-run stages whose cache key is unchanged.
    executor:
        ``"local"`` or a Dask scheduler address ``dask://HOST:PORT``; default: the workspace's
        ``[executor] address``, else local.
    max_parallel:
        Local workers.
    dry_run:
        Show what would run, execute nothing.
    progress:
        ``"widget"`` shows a live progress widget (stages, sweep runs, elapsed time, outcome) in a
        notebook; or a callable taking event dicts.

    Returns
    -------
    PipelineResult or PipelinePlan
        What ran, was reused, failed or was skipped (a plan for ``dry_run``).
    """
    return current_workspace().pipelines.run_pipeline(
        pipeline,
        stages=stages,
        force=force,
        executor=executor,
        max_parallel=max_parallel,
        dry_run=dry_run,
        progress=None if dry_run else _progress(progress),
    )


def rerun(run_id: str, *, tolerance: float = 1e-6) -> RerunCheck:
    """Re-execute a recorded stage run and check its metrics reproduce within ``tolerance``.

    Parameters
    ----------
    run_id:
        The run id of a recorded notebook or stage run, or its ``stage_run_id``.
    tolerance:
        Largest absolute metric difference that passes.

    Returns
    -------
    RerunCheck
        Pass or fail, per-metric comparison; also recorded as an audit event.
    """
    return current_workspace().pipelines.rerun(run_id, tolerance=tolerance)


# -- dashboards (issue 6) ---------------------------------------------------------------------
def dashboard(name: str, **options: Any) -> Any:
    """A reviewer dashboard over the current workspace: ``"experiments"``, ``"data"``, ``"models"`` or ``"audit"``.

    Parameters
    ----------
    name
        Which dashboard to build.
    **options
        Dashboard options, e.g. ``experiment="arrests"``, ``page_size=100``, ``refresh_seconds=30``.

    Returns
    -------
    jupyter_mlops.widgets.common.Dashboard
        An ipywidgets box (ipywidgets is imported only here, on first use).
    """
    from .widgets import dashboard as _dashboard

    return _dashboard(name, current_workspace(), **options)
