"""The one choke point for names, version specs, paths and URIs that come from users.

Every data name, model name, version spec, object id, file path and URI a user can type passes
through a function here before it reaches a store, a filesystem call or a URL. Anything that could
climb out of a folder (``..``, absolute paths, backslashes, encoded dots, NUL bytes, symlinks that
leave the root) or that is too long is refused with :class:`~jupyter_mlops.errors.UnsafePath`.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import UnsafePath

__all__ = [
    "MAX_NAME_LENGTH",
    "VersionSpec",
    "parse_version_spec",
    "resolve_inside",
    "resolve_object_path",
    "validate_file",
    "validate_name",
    "validate_object_id",
    "validate_uri",
]

MAX_NAME_LENGTH = 128
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
_HEX_RE = re.compile(r"^[0-9a-f]{16,128}$")
_ALLOWED_SCHEMES = {
    "file",
    "sqlite",
    "postgresql",
    "postgresql+psycopg",
    "postgresql+psycopg2",
    "http",
    "https",
    "s3",
    "gs",
    "abfs",
    "dask",
    "tcp",
    "databricks",
}


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "...'"


def validate_name(name: object, *, kind: str = "name") -> str:
    """Check a user-given name (data set, model, experiment, stage) and return it.

    A name starts with a letter or digit and holds only letters, digits, ``_``, ``.`` and ``-``,
    at most 128 characters, and never contains ``..``.
    """
    if not isinstance(name, str):
        raise UnsafePath(f"{kind} must be a string, got {type(name).__name__}", value=_show(name), field=kind)
    if "\x00" in name:
        raise UnsafePath(f"{kind} contains a NUL byte", value=_show(name), field=kind)
    if len(name) > MAX_NAME_LENGTH:
        raise UnsafePath(
            f"{kind} is {len(name)} characters long",
            value=_show(name),
            hint=f"use at most {MAX_NAME_LENGTH} characters",
            field=kind,
        )
    decoded = unquote(unquote(name))
    if (
        not _NAME_RE.match(name)
        or ".." in name
        or ".." in decoded
        or decoded != name
        or unicodedata.normalize("NFKC", name) != name
    ):
        raise UnsafePath(
            f"invalid {kind} {_show(name)}",
            value=_show(name),
            hint="use letters, digits, '_', '.' and '-', starting with a letter or digit, e.g. 'arrests'",
            field=kind,
        )
    return name


def validate_object_id(object_id: object) -> str:
    """Check a content hash used as an object id (lower-case hex, 16 to 128 characters)."""
    if not isinstance(object_id, str) or not _HEX_RE.match(object_id):
        raise UnsafePath(
            f"invalid object id {_show(object_id)}",
            value=_show(object_id),
            hint="an object id is the lower-case hex hash shown by `jupyter-mlops data show`",
            field="object_id",
        )
    return object_id


@dataclass(frozen=True)
class VersionSpec:
    """A parsed ``name@version`` reference.

    Exactly one of ``version`` (a number), ``alias`` (``latest``, ``champion`` ...) or
    ``fingerprint`` (a hex hash) is set.
    """

    name: str
    version: int | None = None
    alias: str | None = None
    fingerprint: str | None = None

    def __str__(self) -> str:
        tail = self.version if self.version is not None else (self.alias or self.fingerprint)
        return f"{self.name}@{tail}"


def parse_version_spec(spec: object, *, default_alias: str = "latest", kind: str = "version spec") -> VersionSpec:
    """Parse ``name``, ``name@3``, ``name@latest``, ``name@champion`` or ``name@<hex hash>``."""
    if not isinstance(spec, str):
        raise UnsafePath(f"{kind} must be a string like 'arrests@3'", value=_show(spec), field=kind)
    name, sep, tail = spec.partition("@")
    validate_name(name, kind=kind)
    if not sep:
        return VersionSpec(name=name, alias=default_alias)
    if tail.isdigit() and tail.isascii():
        number = int(tail)
        if number < 1 or len(tail) > 9:
            raise UnsafePath(
                f"invalid version number in {_show(spec)}", value=_show(spec), hint="versions start at 1", field=kind
            )
        return VersionSpec(name=name, version=number)
    if _HEX_RE.match(tail) and len(tail) >= 16:
        return VersionSpec(name=name, fingerprint=tail)
    if _ALIAS_RE.match(tail):
        return VersionSpec(name=name, alias=tail)
    raise UnsafePath(
        f"invalid {kind} {_show(spec)}",
        value=_show(spec),
        hint="write NAME@NUMBER, NAME@latest, NAME@ALIAS or NAME@FINGERPRINT, e.g. 'arrests@2'",
        field=kind,
    )


def resolve_inside(root: str | Path, relative: str | os.PathLike[str]) -> Path:
    """Join ``relative`` to ``root`` and refuse anything that ends up outside ``root``.

    Symlinks are resolved before the check, so a link pointing out of the store is refused too.
    """
    rel = os.fspath(relative)
    if "\x00" in rel or "\\" in rel or os.path.isabs(rel) or rel.startswith("~"):
        raise UnsafePath(f"unsafe relative path {_show(rel)}", value=_show(rel), field="path")
    decoded = unquote(unquote(rel))
    if any(part == ".." for part in Path(decoded).parts) or decoded != rel:
        raise UnsafePath(f"path {_show(rel)} climbs out of its folder", value=_show(rel), field="path")
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise UnsafePath(f"path {_show(rel)} resolves outside {base.name}/", value=_show(rel), field="path")
    return target


def resolve_object_path(root: str | Path, object_id: object) -> Path:
    """The path of object ``object_id`` in the object store at ``root``, refusing links out of it.

    The id is checked first (lower-case hex only), then the path is resolved with symlinks
    followed, so an object file replaced by a link to somewhere outside the store is refused
    before anything reads it.
    """
    oid = validate_object_id(object_id)
    return resolve_inside(root, f"{oid[:2]}/{oid[2:]}")


def validate_file(path: object, *, must_exist: bool = True, allow_dir: bool = False) -> Path:
    """Check a file path a user gave us to read (a data file, a notebook, a rules file)."""
    if not isinstance(path, (str, os.PathLike)):
        raise UnsafePath(f"path must be a string or Path, got {type(path).__name__}", value=_show(path), field="path")
    text = os.fspath(path)
    if isinstance(text, bytes) or "\x00" in text:
        raise UnsafePath("path contains a NUL byte", value=_show(path), field="path")
    if len(text) > 4096:
        raise UnsafePath("path is longer than 4096 characters", value=_show(path), field="path")
    p = Path(text).expanduser()
    if must_exist and not p.exists():
        raise UnsafePath(
            f"no such file: {text}", value=_show(text), hint="check the path and the working directory", field="path"
        )
    if must_exist and p.is_dir() and not allow_dir:
        raise UnsafePath(f"{text} is a folder, not a file", value=_show(text), field="path")
    return p


def validate_uri(uri: object, *, kind: str = "URI") -> str:
    """Check a tracking URI, database URL, object store URL or executor address."""
    if not isinstance(uri, str) or not uri or "\x00" in uri or len(uri) > 2048:
        raise UnsafePath(f"invalid {kind} {_show(uri)}", value=_show(uri), field=kind)
    scheme = urlsplit(uri).scheme.lower()
    if scheme not in _ALLOWED_SCHEMES:
        raise UnsafePath(
            f"unsupported {kind} scheme {scheme or '(none)'!r} in {_show(uri)}",
            value=_show(uri),
            hint="use sqlite:///..., postgresql://..., http(s)://..., file://..., s3://... or dask://host:port",
            field=kind,
        )
    return uri
