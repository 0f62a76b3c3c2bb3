"""Model artifacts as evidence: the content hash of a logged model, and fetching and loading it verified.

A model is loaded only after every file MLflow holds for it hashes to what the registry recorded
at log time, so nothing is unpickled that this workspace did not produce and hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..errors import IntegrityError, TrackingError, UnsupportedData
from .mlflow_backend import as_mlflow
from .mlflow_store import _wrap

if TYPE_CHECKING:
    from ..core.context import TrackingBackend

__all__ = ["fetch_verified", "hash_artifacts", "load_verified", "model_sha256"]


_MODEL_FILES = {"skops": "model.skops", "cloudpickle": "model.pkl"}


_CHUNK = 1 << 20


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


def _local_dir(artifact_uri: str) -> Path | None:
    parts = urlsplit(artifact_uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme == "" and artifact_uri:
        return Path(artifact_uri)
    return None


@contextlib.contextmanager
def _source_dir(backend: TrackingBackend, artifact_uri: str) -> Iterator[Path]:
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
            mlflow.artifacts.download_artifacts(
                artifact_uri=artifact_uri, dst_path=tmp, tracking_uri=as_mlflow(backend).tracking_uri
            )
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


def hash_artifacts(backend: TrackingBackend, artifact_uri: str) -> dict[str, dict[str, Any]]:
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
def fetch_verified(
    backend: TrackingBackend, artifact_uri: str, manifest: dict[str, dict[str, Any]], *, ref: str
) -> Iterator[Path]:
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
