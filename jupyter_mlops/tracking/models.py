"""MLflow model artifacts: log a scikit-learn model, register it, hash it, fetch it verified, load it.

This module and :mod:`~jupyter_mlops.tracking.mlflow_backend` are the only places that import
mlflow. The registry (:mod:`jupyter_mlops.registry`) decides *whether* something may happen; this
module only does it, and wraps every MLflow error as :class:`~jupyter_mlops.errors.TrackingError`.

Serialization: what we chose and why
------------------------------------
MLflow 3.17's ``mlflow.sklearn.log_model`` supports ``serialization_format="skops"`` (it is even
its default off Databricks), so models are **logged** through it: MLflow writes ``model.skops``
next to ``MLmodel``, the signature, the input example and the environment files, and the model
stays usable by every MLflow tool. Pickle (``cloudpickle``) is used only when the caller asks for
it because skops cannot represent the model.

Models are **not loaded** through ``mlflow.sklearn.load_model``, for three reasons:

1. it fetches the artifacts itself, so there is no way to hash exactly the bytes it deserializes;
2. its list of trusted skops types is read from the model's own ``MLmodel`` file, which whoever
   can write the artifact can also edit;
3. it unpickles pickle-format models guarded only by ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION``,
   which defaults to true.

Instead :func:`fetch_verified` copies every artifact file into a private temporary folder while
hashing it, compares the set of files and every SHA-256 with the manifest recorded when the model
was logged (a changed, missing or extra file is an :class:`~jupyter_mlops.errors.IntegrityError`
naming the file), and only then :func:`load_verified` deserializes from that private copy: a
skops file with ``skops.io.load`` after ``skops.io.get_untrusted_types`` returned nothing beyond
the allow-list recorded in the metadata database at logging time (empty by default).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, UnsupportedData
from .artifacts import fetch_verified, hash_artifacts, load_verified, model_sha256
from .mlflow_backend import as_mlflow
from .mlflow_store import _wrap
from .registered import LoggedModel, delete_alias, delete_version, get_alias, list_aliases, register_version, set_alias

if TYPE_CHECKING:
    from ..core.context import TrackingBackend
    from .mlflow_backend import MlflowBackend

__all__ = [
    "SERIALIZATIONS",
    "LoggedModel",
    "check_sklearn_model",
    "delete_alias",
    "delete_version",
    "fetch_verified",
    "get_alias",
    "list_aliases",
    "hash_artifacts",
    "load_verified",
    "log_sklearn",
    "model_sha256",
    "prepare_sklearn",
    "PreparedModel",
    "register_version",
    "set_alias",
]

#: Formats ``log_model`` accepts; ``skops`` executes no code on load.
SERIALIZATIONS = ("skops", "cloudpickle")
_EXAMPLE_ROWS = 5


def _quiet() -> contextlib.ExitStack:
    """Silence MLflow's advisory warnings and INFO logs while it logs a model (library code never prints)."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    logger = logging.getLogger("mlflow")
    old = logger.level
    logger.setLevel(logging.ERROR)
    stack.callback(logger.setLevel, old)
    return stack


def _example(x: Any) -> Any:
    head = getattr(x, "head", None)
    if callable(head):
        return head(_EXAMPLE_ROWS)
    try:
        return x[:_EXAMPLE_ROWS]
    except Exception as exc:
        raise InvalidInput(
            f"X_example of type {type(x).__name__} cannot be sliced into rows",
            value=type(x).__name__,
            hint="pass a pandas DataFrame or a 2-D numpy array with a few training rows",
            field="X_example",
        ) from exc


def check_sklearn_model(model: Any) -> str:
    """Refuse anything that is not a fitted scikit-learn estimator; return a readable model type."""
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(model, BaseEstimator):
        raise UnsupportedData(
            f"log_model takes a scikit-learn estimator or pipeline, got {type(model).__name__}",
            value=type(model).__name__,
            hint="wrap the model in a scikit-learn Pipeline or estimator",
            field="model",
        )
    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        raise UnsupportedData(
            f"the {type(model).__name__} is not fitted", value=type(model).__name__, hint="call .fit(X, y) first", field="model"
        ) from exc
    steps = getattr(model, "steps", None)
    if isinstance(steps, list):
        return f"{type(model).__name__}({', '.join(type(s[1]).__name__ for s in steps)})"
    return type(model).__name__


@dataclass(frozen=True)
class PreparedModel:
    """A model checked for logging: its readable type, input example and example predictions."""

    model: Any
    model_type: str
    example: Any
    prediction: Any
    serialization: str
    trusted_types: tuple[str, ...]
    content_sha256: str = ""


def prepare_sklearn(
    model: Any, X_example: Any, *, serialization: str = "skops", trusted_types: tuple[str, ...] = ()
) -> PreparedModel:
    """Every check that can refuse a model, done before any run is opened or anything is written."""
    if serialization not in SERIALIZATIONS:
        raise InvalidInput(
            f"unknown serialization {serialization!r}",
            value=serialization,
            hint=f"use one of {', '.join(SERIALIZATIONS)} ('skops' executes no code when loaded)",
            field="serialization",
        )
    model_type = check_sklearn_model(model)
    example = _example(X_example)
    if len(example) == 0:
        raise InvalidInput("X_example has no rows", value=0, hint="pass a few rows of the training features", field="X_example")
    try:
        prediction = model.predict(example)
    except Exception as exc:
        raise InvalidInput(
            f"the model cannot predict on X_example: {type(exc).__name__}: {exc}",
            value=type(X_example).__name__,
            hint="pass rows with the same columns as the training data",
            field="X_example",
        ) from exc
    if serialization == "skops":
        _check_skops(model, trusted_types)
    return PreparedModel(model, model_type, example, prediction, serialization, trusted_types, model_sha256(model))


@contextlib.contextmanager
def _in_experiment_of(mlflow: Any, backend: MlflowBackend, mlflow_run_id: str) -> Iterator[None]:
    """Make MLflow create the logged model in its run's experiment.

    With no active fluent run (a stage's kernel logs into the stage run by id), MLflow files a new
    logged model under the default experiment, not the run's: on a tracking server with
    workspaces that experiment is another workspace's, and the server refuses the write (403).
    ``MLFLOW_EXPERIMENT_ID`` is where MLflow looks next, so it is set for the call.
    """
    if mlflow.active_run() is not None and mlflow.active_run().info.run_id == mlflow_run_id:
        yield
        return
    experiment_id = backend.client.get_run(mlflow_run_id).info.experiment_id
    old = os.environ.get("MLFLOW_EXPERIMENT_ID")
    os.environ["MLFLOW_EXPERIMENT_ID"] = str(experiment_id)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = old


def _is_http(exc: Exception) -> bool:
    """An MLflow REST failure (``API request to endpoint ... failed with error code 4xx / 5xx``)."""
    return "API request to endpoint" in str(getattr(exc, "message", exc))


def log_sklearn(backend: TrackingBackend, prepared: PreparedModel, *, run_id: str) -> LoggedModel:
    """Log a prepared model into run ``run_id`` with a signature inferred from its input example."""
    model, example, prediction = prepared.model, prepared.example, prepared.prediction
    serialization, trusted_types = prepared.serialization, prepared.trusted_types
    refused: str | None = None
    adapter = as_mlflow(backend)
    with _wrap("log the model", adapter.tracking_uri), _quiet():
        import mlflow.sklearn
        from mlflow.exceptions import MlflowException
        from mlflow.models import infer_signature

        adapter._activate()
        signature = infer_signature(example, prediction)
        mlflow_run_id = adapter.mlflow_run_id(run_id)
        try:
            with _in_experiment_of(mlflow, adapter, mlflow_run_id):
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    run_id=mlflow_run_id,
                    signature=signature,
                    input_example=example,
                    serialization_format=serialization,
                    skops_trusted_types=list(trusted_types) or None,
                    pip_requirements=mlflow.sklearn.get_default_pip_requirements(
                        include_cloudpickle=serialization == "cloudpickle", include_skops=serialization == "skops"
                    ),
                )
        except MlflowException as exc:
            # Only skops's own refusal is about the model; a server's 401 / 403 or any other failure is not.
            if serialization != "skops" or exc.error_code in ("PERMISSION_DENIED", "UNAUTHENTICATED") or _is_http(exc):
                raise
            refused = exc.message[:300]
        if refused is None:
            model_id = str(info.model_id)
            location = str(adapter.client.get_logged_model(model_id).artifact_location)
    if refused is not None:
        raise UnsupportedData(
            f"skops cannot store this {type(model).__name__} safely: {refused}",
            value=type(model).__name__,
            hint="pass trusted_types=[...] naming the types you trust, or serialization='cloudpickle' "
            "(executes code on load; the bytes are still hash-checked)",
            field="model",
        )
    return LoggedModel(model_uri=str(info.model_uri), model_id=model_id, artifact_uri=location, signature=signature.to_dict())


def _check_skops(model: Any, trusted_types: tuple[str, ...]) -> None:
    """Refuse, before MLflow is touched, a model skops cannot store or would need untrusted types for."""
    import skops.io

    try:
        untrusted = set(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
    except Exception as exc:
        raise UnsupportedData(
            f"skops cannot store this {type(model).__name__}: {type(exc).__name__}: {str(exc)[:200]}",
            value=type(model).__name__,
            hint="skops needs top-level functions and classes; or pass serialization='cloudpickle' "
            "(executes code on load; the bytes are still hash-checked)",
            field="model",
        ) from exc
    extra = sorted(untrusted - set(trusted_types))
    if extra:
        raise UnsupportedData(
            f"loading this {type(model).__name__} with skops needs types skops does not trust by default: {', '.join(extra)}",
            value=extra,
            hint=f"if you trust them, pass trusted_types={extra!r} (recorded and audited with the version)",
            field="trusted_types",
        )


# -- artifact files -----------------------------------------------------------------------------
