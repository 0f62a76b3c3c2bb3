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
import hashlib
import logging
import os
import tempfile
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..errors import IntegrityError, InvalidInput, TrackingError, UnsupportedData
from .mlflow_backend import _wrap

if TYPE_CHECKING:
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
_MODEL_FILES = {"skops": "model.skops", "cloudpickle": "model.pkl"}
_CHUNK = 1 << 20
_EXAMPLE_ROWS = 5


def model_sha256(model: Any) -> str:
    """A content hash of a fitted model: the same for the same learned state, whatever the object.

    Two objects with equal class, parameters and fitted attributes (a model and its copy, or the
    model loaded back from a version) hash alike, so an evaluation of an object and the version
    logged from it can be matched without comparing identities. It walks the object's state
    (``__getstate__``, as pickle and skops do) in a canonical order: arrays by dtype, shape and
    bytes, containers in order (mappings sorted by key), objects by their class and state. The
    bytes skops writes are not used: its zip file is not reproducible.
    """
    h = hashlib.sha256(b"jupyter-mlops-model-v1")
    _feed(h, model, 0, set())
    return h.hexdigest()


def _feed(h: Any, obj: Any, depth: int, stack: set[int]) -> None:
    import numpy as np

    if depth > 200:
        raise UnsupportedData("the model is nested too deeply to hash", field="model")
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, np.generic)):
        h.update(f"s{type(obj).__name__}:{obj!r};".encode())
        return
    if isinstance(obj, np.ndarray):
        h.update(f"a{obj.dtype.str}{obj.shape};".encode())
        h.update(repr(obj.tolist()).encode() if obj.dtype.hasobject else np.ascontiguousarray(obj).tobytes())
        return
    if isinstance(obj, (np.dtype, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType, np.ufunc)):
        h.update(f"t{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))};".encode())
        return
    if id(obj) in stack:  # a reference cycle: its place is enough
        h.update(b"cycle;")
        return
    stack.add(id(obj))
    try:
        if isinstance(obj, dict):
            h.update(f"d{len(obj)};".encode())
            for key in sorted(obj, key=repr):
                _feed(h, key, depth + 1, stack)
                _feed(h, obj[key], depth + 1, stack)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
            h.update(f"l{type(obj).__name__}{len(obj)};".encode())
            for item in items:
                _feed(h, item, depth + 1, stack)
        else:
            cls = type(obj)
            h.update(f"o{cls.__module__}.{cls.__qualname__};".encode())
            getstate = getattr(obj, "__getstate__", None)
            state = getstate() if callable(getstate) else getattr(obj, "__dict__", repr(obj))
            _feed(h, state, depth + 1, stack)
    finally:
        stack.discard(id(obj))


@dataclass(frozen=True)
class LoggedModel:
    """Where MLflow put a logged model."""

    model_uri: str
    model_id: str
    artifact_uri: str
    signature: dict[str, Any] | None


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


def log_sklearn(backend: MlflowBackend, prepared: PreparedModel, *, run_id: str) -> LoggedModel:
    """Log a prepared model into run ``run_id`` with a signature inferred from its input example."""
    model, example, prediction = prepared.model, prepared.example, prepared.prediction
    serialization, trusted_types = prepared.serialization, prepared.trusted_types
    refused: str | None = None
    with _wrap("log the model", backend.tracking_uri), _quiet():
        import mlflow.sklearn
        from mlflow.exceptions import MlflowException
        from mlflow.models import infer_signature

        backend._activate()
        signature = infer_signature(example, prediction)
        mlflow_run_id = backend.mlflow_run_id(run_id)
        try:
            with _in_experiment_of(mlflow, backend, mlflow_run_id):
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
            location = str(backend.client.get_logged_model(model_id).artifact_location)
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


def register_version(backend: MlflowBackend, name: str, logged: LoggedModel, *, run_id: str) -> int:
    """Register ``logged`` as a new version of registered model ``name`` (created on first use)."""
    with _wrap(f"register a version of {name!r}", backend.tracking_uri):
        from mlflow.exceptions import MlflowException

        client = backend.client
        try:
            client.get_registered_model(name)
        except MlflowException:
            with contextlib.suppress(MlflowException):  # created concurrently
                client.create_registered_model(name)
        mv = client.create_model_version(name, logged.model_uri, run_id=backend.mlflow_run_id(run_id), model_id=logged.model_id)
        return int(mv.version)


def delete_version(backend: MlflowBackend, name: str, version: int) -> None:
    """Remove a model version from the MLflow registry (used to roll back a failed logging)."""
    with _wrap(f"delete version {version} of {name!r}", backend.tracking_uri):
        backend.client.delete_model_version(name, str(version))


def set_alias(backend: MlflowBackend, name: str, alias: str, version: int) -> None:
    """Point MLflow's alias ``alias`` of ``name`` at ``version``."""
    with _wrap(f"set alias {alias!r} of {name!r}", backend.tracking_uri):
        backend.client.set_registered_model_alias(name, alias, str(version))


def delete_alias(backend: MlflowBackend, name: str, alias: str) -> None:
    """Remove MLflow's alias ``alias`` of ``name`` (no error when it is absent)."""
    with _wrap(f"delete alias {alias!r} of {name!r}", backend.tracking_uri):
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):
            backend.client.delete_registered_model_alias(name, alias)


def get_alias(backend: MlflowBackend, name: str, alias: str) -> int | None:
    """The version MLflow's alias points at, or ``None``."""
    with _wrap(f"read alias {alias!r} of {name!r}", backend.tracking_uri):
        from mlflow.exceptions import MlflowException

        try:
            return int(backend.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None


# -- artifact files -----------------------------------------------------------------------------
def list_aliases(backend: MlflowBackend) -> list[tuple[str, str, int]]:
    """``(model, alias, version)`` for every alias of every registered model in MLflow."""
    with _wrap("list registered model aliases", backend.tracking_uri):
        out: list[tuple[str, str, int]] = []
        token = None
        while True:
            page = backend.client.search_registered_models(max_results=1000, page_token=token)
            for rm in page:
                aliases = rm.aliases or {}
                items = aliases.items() if isinstance(aliases, dict) else ((a.alias, a.version) for a in aliases)
                out.extend((str(rm.name), str(a), int(v)) for a, v in items)
            token = getattr(page, "token", None)
            if not token:
                return out


def _local_dir(artifact_uri: str) -> Path | None:
    parts = urlsplit(artifact_uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme == "" and artifact_uri:
        return Path(artifact_uri)
    return None


@contextlib.contextmanager
def _source_dir(backend: MlflowBackend, artifact_uri: str) -> Iterator[Path]:
    local = _local_dir(artifact_uri)
    if local is not None:
        if not local.is_dir():
            raise IntegrityError(
                f"the model's artifact folder is missing: {local.name}",
                value=artifact_uri,
                hint="the artifact store was moved or deleted; restore it from a backup",
            )
        yield local
        return
    with tempfile.TemporaryDirectory(prefix="mlops-dl-") as tmp, _wrap("download model artifacts"):
        import mlflow.artifacts

        yield Path(
            mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=tmp, tracking_uri=backend.tracking_uri)
        )


def _files(root: Path) -> list[tuple[str, Path]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            out.append((path.relative_to(root).as_posix(), path))
    return out


def _copy_hashing(src: Path, dst: Path | None) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    if src.is_symlink():
        raise IntegrityError(
            f"model artifact {src.name} is a symbolic link", value=src.name, hint="artifact files must be plain files"
        )
    with open(src, "rb") as fin, open(dst, "xb") if dst is not None else contextlib.nullcontext() as fout:
        while block := fin.read(_CHUNK):
            h.update(block)
            size += len(block)
            if fout is not None:
                fout.write(block)
    return h.hexdigest(), size


def hash_artifacts(backend: MlflowBackend, artifact_uri: str) -> dict[str, dict[str, Any]]:
    """``{relative path: {"sha256": ..., "size": ...}}`` for every file under ``artifact_uri``."""
    with _source_dir(backend, artifact_uri) as root:
        manifest = {}
        for rel, path in _files(root):
            digest, size = _copy_hashing(path, None)
            manifest[rel] = {"sha256": digest, "size": size}
    if not manifest:
        raise TrackingError(f"MLflow stored no files for the model at {artifact_uri}", value=artifact_uri)
    return manifest


@contextlib.contextmanager
def fetch_verified(backend: MlflowBackend, artifact_uri: str, manifest: dict[str, dict[str, Any]], *, ref: str) -> Iterator[Path]:
    """A private copy of the model's files, yielded only when every file matches ``manifest``.

    Each file is hashed while it is copied, and the copy (never the original) is what gets
    deserialized, so bytes cannot change between the check and the load.
    """
    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp, _source_dir(backend, artifact_uri) as root:
        dest = Path(tmp)
        os.chmod(dest, 0o700)
        seen: set[str] = set()
        for rel, path in _files(root):
            expected = manifest.get(rel)
            if expected is None:
                raise IntegrityError(
                    f"model {ref} has a file that was not there when it was logged: {rel}",
                    value=rel,
                    hint="someone added files to the model's artifact folder; remove them or log the model again",
                    file=rel,
                )
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            digest, size = _copy_hashing(path, target)
            if digest != expected["sha256"]:
                raise IntegrityError(
                    f"model {ref} was changed after it was logged: {rel} has sha256 {digest[:16]}..., "
                    f"recorded {str(expected['sha256'])[:16]}... ({size} bytes now, {expected.get('size')} then)",
                    value=rel,
                    hint="do not load it; restore the artifact from a backup or log the model again",
                    file=rel,
                )
            seen.add(rel)
        missing = sorted(set(manifest) - seen)
        if missing:
            raise IntegrityError(
                f"model {ref} is missing artifact file {missing[0]}"
                + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""),
                value=missing[0],
                hint="restore the artifact folder from a backup or log the model again",
                file=missing[0],
            )
        yield dest


def load_verified(folder: Path, *, serialization: str, trusted_types: tuple[str, ...], ref: str) -> Any:
    """Deserialize the model file of a folder that :func:`fetch_verified` produced."""
    if serialization not in _MODEL_FILES:
        raise IntegrityError(f"model {ref} records an unknown serialization {serialization!r}", value=serialization)
    path = folder / _MODEL_FILES[serialization]
    if not path.is_file():
        raise IntegrityError(f"model {ref} has no {path.name}", value=path.name, hint="log the model again")
    if serialization == "skops":
        import skops.io

        try:
            untrusted = set(skops.io.get_untrusted_types(file=path))
        except Exception as exc:
            raise IntegrityError(f"{path.name} of model {ref} is not a valid skops file: {exc}", value=path.name) from exc
        extra = sorted(untrusted - set(trusted_types))
        if extra:
            raise IntegrityError(
                f"{path.name} of model {ref} needs types that were not trusted when it was logged: {', '.join(extra[:5])}",
                value=extra,
                hint="log the model again with trusted_types naming them, if you trust them",
                file=path.name,
            )
        try:
            return skops.io.load(path, trusted=sorted(untrusted) or None)
        except Exception as exc:
            raise IntegrityError(f"cannot load {path.name} of model {ref}: {type(exc).__name__}: {exc}", value=path.name) from exc
    import pickle

    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - bytes verified against the manifest recorded at logging time
