"""Fluent shortcuts for evaluation, the model registry, reviews and model cards, on the current workspace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .context import current_workspace

if TYPE_CHECKING:
    from ..cards.card import ModelCard
    from ..evaluation.report import EvaluationReport
    from ..governance.compliance import ComplianceReport
    from ..governance.policy import Policy
    from ..registry.entities import AliasHistory, AliasMove, ModelTable, ModelVersion, Review

__all__ = [
    "alias_history",
    "approve",
    "build_card",
    "check_compliance",
    "edit_card",
    "evaluate",
    "get_card",
    "list_models",
    "load_model",
    "log_model",
    "promote",
    "reject",
    "request_review",
]


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


def check_compliance(spec: str, policy: Policy | str | Path) -> ComplianceReport:
    """Check model version ``spec`` against ``policy`` (a file or a parsed :class:`~jupyter_mlops.governance.policy.Policy`).

    See :meth:`jupyter_mlops.governance.compliance.ComplianceService.check`; the report is stored
    and audited, and ``report.passed`` is true when every rule passed.
    """
    return current_workspace().compliance.check(spec, policy)
