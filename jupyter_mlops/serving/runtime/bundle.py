"""A model bundle: the verified files of one approved model version, loadable without MLflow.

The workspace writes a bundle from the registry (after checking the approval and re-hashing
every artifact file against the manifest recorded at logging time); the gateway and a packaged
container load only bundles. A bundle is a folder::

    model.json     ref, serialization, trusted types, signature, sensitive columns, files + sha256
    model.skops    the model file (the same bytes as in the MLflow artifact)

:func:`load_bundle` re-hashes every file named in ``model.json`` before anything is
deserialized, refuses extra files, and loads skops files only with the types that were trusted
when the model was logged. Nothing here imports MLflow or the workspace.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ...errors import IntegrityError

__all__ = ["BUNDLE_FORMAT", "ServedModel", "bundle_dir", "file_sha256", "load_bundle", "read_bundle_meta"]

BUNDLE_FORMAT = "jupyter-mlops-model-bundle/1"
_MODEL_FILES = {"skops": "model.skops", "cloudpickle": "model.pkl"}


def file_sha256(path: Path) -> tuple[str, int]:
    """The SHA-256 and size of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """A loaded model version with what serving needs to know about it."""

    ref: str
    model: Any
    columns: tuple[tuple[str, str], ...]
    sensitive: tuple[str, ...]
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.ref.partition("@")[0]

    def predict(self, frame: Any) -> list[Any]:
        """Predictions for a validated frame, as JSON-ready Python values."""
        out = self.model.predict(frame)
        tolist = getattr(out, "tolist", None)
        return list(tolist() if callable(tolist) else out)


def read_bundle_meta(folder: Path) -> dict[str, Any]:
    """``model.json`` of a bundle folder."""
    path = Path(folder) / "model.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IntegrityError(
            f"{Path(folder).name} is not a model bundle: cannot read model.json",
            value=str(Path(folder).name),
            hint="package or serve the model again from the workspace",
        ) from exc
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
        raise IntegrityError(f"{Path(folder).name}/model.json is not a {BUNDLE_FORMAT} file", value=str(Path(folder).name))
    return meta


def _columns(signature: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if not signature:
        return ()
    inputs = signature.get("inputs")
    if isinstance(inputs, str):
        inputs = json.loads(inputs)
    cols = []
    for item in inputs or []:
        if isinstance(item, dict) and "name" in item:
            cols.append((str(item["name"]), str(item.get("type", "string"))))
    return tuple(cols)


def load_bundle(folder: str | Path, *, expect_ref: str | None = None) -> ServedModel:
    """Verify every file of a bundle against ``model.json`` and load the model.

    Raises
    ------
    IntegrityError
        A file changed, is missing, was added, or needs types that were not trusted.
    """
    root = Path(folder)
    meta = read_bundle_meta(root)
    ref = str(meta.get("ref"))
    if expect_ref is not None and ref != expect_ref:
        raise IntegrityError(f"bundle {root.name} holds {ref}, expected {expect_ref}", value=ref)
    files: dict[str, dict[str, Any]] = meta.get("files") or {}
    present = {p.name for p in root.iterdir() if p.name != "model.json"}
    extra = sorted(present - set(files))
    if extra:
        raise IntegrityError(
            f"bundle of {ref} has a file that was not there when it was written: {extra[0]}",
            value=extra[0],
            hint="remove it, or write the bundle again from the workspace",
        )
    for rel, expected in sorted(files.items()):
        path = root / rel
        if os.path.islink(path) or not path.is_file():
            raise IntegrityError(f"bundle of {ref} is missing {rel}", value=rel, hint="write the bundle again")
        digest, size = file_sha256(path)
        if digest != expected.get("sha256"):
            raise IntegrityError(
                f"model {ref} was changed after it was approved: {rel} has sha256 {digest[:16]}..., "
                f"recorded {str(expected.get('sha256'))[:16]}... ({size} bytes now, {expected.get('size')} then)",
                value=rel,
                hint="do not serve it; write the bundle again from the registry",
            )
    serialization = str(meta.get("serialization"))
    model_file = _MODEL_FILES.get(serialization)
    if model_file is None or model_file not in files:
        raise IntegrityError(f"bundle of {ref} records an unknown serialization {serialization!r}", value=serialization)
    model = _deserialize(root / model_file, serialization, tuple(meta.get("trusted_types") or ()), ref)
    return ServedModel(
        ref=ref,
        model=model,
        columns=_columns(meta.get("signature")),
        sensitive=tuple(meta.get("sensitive") or ()),
        meta=meta,
    )


def _deserialize(path: Path, serialization: str, trusted_types: tuple[str, ...], ref: str) -> Any:
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
            )
        try:
            return skops.io.load(path, trusted=sorted(untrusted) or None)
        except Exception as exc:
            raise IntegrityError(f"cannot load {path.name} of model {ref}: {type(exc).__name__}: {exc}", value=path.name) from exc
    import pickle

    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - bytes verified against the manifest written from the registry


def bundle_dir(ref: str) -> str:
    """The folder name of a version's bundle: ``arrests-clf@3`` -> ``models/arrests-clf-v3``."""
    name, _, version = ref.partition("@")
    return f"models/{name}-v{version}"
