"""The one choke point for names, version specs, paths and URIs that come from users.

Every data name, model name, version spec, object id, file path, URI and notebook parameter name a
user can type passes through a function here before it reaches a store, a filesystem call, a URL or
a kernel. Anything that could climb out of a folder (``..``, absolute paths, backslashes, encoded
dots, NUL bytes, symlinks that leave the root), that points into a workspace's own internals
(``.mlops/``: databases, signing keys, object store), or that is too long (a path component over
255 bytes) is refused with :class:`~jupyter_mlops.errors.UnsafePath`, naming the value and the fix.
A parameter name must be a Python identifier and not a keyword, because papermill writes it into
the notebook as code (``name = value``); values are written as literals and stay data.
"""

from __future__ import annotations

import keyword
import math
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import InvalidInput, UnsafePath

__all__ = [
    "INTERNAL_DIR",
    "MAX_COMPONENT_BYTES",
    "MAX_NAME_LENGTH",
    "VersionSpec",
    "check_not_internal",
    "parse_version_spec",
    "refuse_internal_entry",
    "resolve_inside",
    "resolve_object_path",
    "validate_file",
    "validate_name",
    "validate_object_id",
    "validate_parameter_name",
    "validate_parameters",
    "validate_uri",
]

MAX_NAME_LENGTH = 128
#: The longest file or folder name most filesystems allow (NAME_MAX), in bytes.
MAX_COMPONENT_BYTES = 255
#: The workspace folder; nothing inside it is user data.
INTERNAL_DIR = ".mlops"
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

    Exactly one of ``version`` (a number), ``alias`` (``latest``, ``champion`` ..., always lower
    case) or ``fingerprint`` (a hex hash) is set.
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
        return VersionSpec(name=name, alias=tail.lower())  # aliases are case-insensitive: CHAMPION is champion
    raise UnsafePath(
        f"invalid {kind} {_show(spec)}",
        value=_show(spec),
        hint="write NAME@NUMBER, NAME@latest, NAME@ALIAS or NAME@FINGERPRINT, e.g. 'arrests@2'",
        field=kind,
    )


def _check_components(text: str) -> None:
    """Refuse a path with a component longer than the filesystem allows (before any ``stat`` fails on it)."""
    for part in text.replace("\\", "/").split("/"):
        size = len(os.fsencode(part)) if part else 0
        if size > MAX_COMPONENT_BYTES:
            raise UnsafePath(
                f"the file name {_show(part)} is {size} bytes long; file names are limited to {MAX_COMPONENT_BYTES} bytes",
                value=_show(part),
                hint="use a shorter file or folder name",
                field="path",
            )


def _refuse_internal(parts: tuple[str, ...], shown: str) -> None:
    if INTERNAL_DIR in parts:
        raise UnsafePath(
            f"{shown} is inside the workspace's own {INTERNAL_DIR}/ folder, which holds its databases, "
            "signing key and object store, not data",
            value=shown,
            hint=f"use a file outside {INTERNAL_DIR}/ (versioned data is read back with mlops.load_data)",
            field="path",
        )


def check_not_internal(path: str | os.PathLike[str]) -> Path:
    """Refuse ``path`` (after following symlinks) when it is inside, or is, a ``.mlops/`` folder."""
    resolved = Path(path).expanduser().resolve()
    _refuse_internal(resolved.parts, _show(os.fspath(path)))
    return resolved


def resolve_inside(root: str | Path, relative: str | os.PathLike[str]) -> Path:
    """Join ``relative`` to ``root`` and refuse anything that ends up outside ``root``.

    Symlinks are resolved before the check, so a link pointing out of the store is refused too, and
    so is anything below ``root`` that lies in a workspace's ``.mlops/`` folder.
    """
    rel = os.fspath(relative)
    if "\x00" in rel or "\\" in rel or os.path.isabs(rel) or rel.startswith("~"):
        raise UnsafePath(f"unsafe relative path {_show(rel)}", value=_show(rel), field="path")
    _check_components(rel)
    decoded = unquote(unquote(rel))
    if any(part == ".." for part in Path(decoded).parts) or decoded != rel:
        raise UnsafePath(f"path {_show(rel)} climbs out of its folder", value=_show(rel), field="path")
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise UnsafePath(f"path {_show(rel)} resolves outside {base.name}/", value=_show(rel), field="path")
    _refuse_internal(target.relative_to(base).parts, _show(rel))
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
    _check_components(text)
    p = Path(text).expanduser()
    check_not_internal(p)
    if must_exist and not p.exists():
        raise UnsafePath(
            f"no such file: {text}", value=_show(text), hint="check the path and the working directory", field="path"
        )
    if must_exist and p.is_dir() and not allow_dir:
        raise UnsafePath(f"{text} is a folder, not a file", value=_show(text), field="path")
    if allow_dir and p.is_dir() and (p / INTERNAL_DIR).exists():
        refuse_internal_entry(text)
    return p


def refuse_internal_entry(folder: str) -> None:
    """Refuse to read a folder that holds a workspace's ``.mlops/`` (it would copy the keys and databases)."""
    raise UnsafePath(
        f"{_show(folder)} holds a workspace's {INTERNAL_DIR}/ folder (databases, signing key, object store)",
        value=_show(folder),
        hint=f"version a sub-folder with the data in it, not a folder that contains {INTERNAL_DIR}/",
        field="path",
    )


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


#: What a parameter value may be: data that papermill writes as a literal and JSON can hold.
_PARAM_SCALARS = (str, int, float, bool, type(None))
_MAX_PARAM_DEPTH = 20


def validate_parameter_name(name: object, *, where: str = "parameter") -> str:
    """Check a notebook parameter name: a Python identifier that is not a keyword.

    papermill injects parameters as code (``name = value``), so a name is the one part of a
    parameter that reaches the kernel as source text; anything but a plain identifier is refused
    before a kernel starts.
    """
    if not isinstance(name, str):
        raise InvalidInput(
            f"{where} name must be text, got {type(name).__name__} {_show(name)}",
            value=_show(name),
            hint="use a Python variable name such as C or max_iter",
            field="parameters",
        )
    if not name.isidentifier() or keyword.iskeyword(name) or name == "__debug__" or len(name) > 256:
        why = "is a Python keyword" if keyword.iskeyword(name) else "is not a Python identifier"
        if name == "__debug__":
            why = "cannot be assigned in Python"
        elif len(name) > 256 and name.isidentifier():
            why = "is longer than 256 characters"
        raise InvalidInput(
            f"invalid {where} name {_show(name)}: it {why}",
            value=_show(name),
            hint="a parameter name is a Python variable name: a letter or '_' followed by letters, digits or '_', "
            "e.g. C, max_iter, test_size",
            field="parameters",
        )
    if unicodedata.normalize("NFKC", name) != name:
        raise InvalidInput(
            f"invalid {where} name {_show(name)}: Python would read it as {unicodedata.normalize('NFKC', name)!r}",
            value=_show(name),
            hint="write the name in plain (NFKC-normalised) characters",
            field="parameters",
        )
    return name


def _check_value(value: object, path: str, depth: int = 0) -> None:
    if depth > _MAX_PARAM_DEPTH:
        raise InvalidInput(f"parameter {path} is nested more than {_MAX_PARAM_DEPTH} levels deep", field="parameters")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(
                f"parameter {path} is not valid text (it holds a lone surrogate)",
                value=_show(value),
                hint="pass UTF-8 text",
                field="parameters",
            ) from None
        return
    if isinstance(value, float) and not math.isfinite(value):
        return  # papermill writes float('nan') / float('inf')
    if isinstance(value, _PARAM_SCALARS):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, f"{path}[{i}]", depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)):
                raise InvalidInput(f"parameter {path} has a key of type {type(key).__name__}", field="parameters")
            _check_value(str(key), f"{path} key", depth + 1)
            _check_value(item, f"{path}[{key!r}]", depth + 1)
        return
    raise InvalidInput(
        f"parameter {path} is a {type(value).__name__}, which cannot be passed to a notebook as data",
        value=_show(value),
        hint="pass text, numbers, booleans, None, lists or mappings of those",
        field="parameters",
    )


def validate_parameters(params: Mapping[str, object] | None, *, where: str = "parameter") -> dict[str, object]:
    """Check every name (:func:`validate_parameter_name`) and value (JSON-like data) of ``params``."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidInput(
            f"parameters must be a mapping of names to values, got {type(params).__name__}",
            value=_show(params),
            field="parameters",
        )
    out: dict[str, object] = {}
    for name, value in params.items():
        validate_parameter_name(name, where=where)
        _check_value(value, str(name))
        out[str(name)] = value
    return out
