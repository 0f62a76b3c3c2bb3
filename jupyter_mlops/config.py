"""Settings, resolved once: argument, then context, then ``JUPYTER_MLOPS_*``, then config.toml, then defaults.

This is the only module that reads ``os.environ``. Everything else receives a :class:`Settings`.
A workspace is found like git finds a repository: the nearest ``.mlops/`` above the working
directory, or ``JUPYTER_MLOPS_HOME``. Paths inside ``config.toml`` are relative to the project
root, so a workspace can be moved or cloned; URLs (an MLflow server, PostgreSQL, S3) are used as
they are, so team mode changes configuration, not code.

``config.toml`` never holds a credential: a URL with a password in it, or an ``[objects] options``
key that names a secret, is refused with the place to put it instead (the engines' own credential
files and variables, see :mod:`jupyter_mlops.core.urls`). A password that arrives in a
``JUPYTER_MLOPS_*`` URL is used, masked wherever settings are shown, and never written back.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import getpass
import os
import tomllib
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .core.paths import validate_uri
from .core.settings import (
    _URL_FIELDS,
    DEFAULT_SERVING_ALIASES,
    IDENTITY_SOURCES,
    WORKSPACE_DIR,
    Settings,
    _refuse_credentials,
)
from .core.urls import strip_password
from .errors import InvalidInput, WorkspaceCorrupt, WorkspaceNotFound

__all__ = [
    "ENV_PREFIX",
    "WORKSPACE_DIR",
    "Settings",
    "TEAM_KEYS",
    "find_root",
    "load_team_file",
    "resolve_settings",
    "IDENTITY_SOURCES",
    "refresh_access",
    "service_overrides",
    "settings_context",
    "write_team_settings",
]

ENV_PREFIX = "JUPYTER_MLOPS_"
CONFIG_FILE = "config.toml"
FORMAT_MARKER = "jupyter-mlops"

_overrides: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "jupyter_mlops_overrides", default=types.MappingProxyType({})
)


def _env(name: str) -> str | None:
    value = os.environ.get(ENV_PREFIX + name)
    return value if value else None


def find_root(start: str | Path | None = None) -> Path:
    """Find the project root: ``JUPYTER_MLOPS_HOME``, else the nearest ``.mlops/`` above ``start``.

    Raises
    ------
    WorkspaceNotFound
        When neither exists; the message names the folders searched and ``init`` as the fix.
    """
    home = _env("HOME")
    if home:
        path = Path(home).expanduser().resolve()
        if path.name == WORKSPACE_DIR:
            path = path.parent
        if not (path / WORKSPACE_DIR).is_dir():
            raise WorkspaceNotFound(
                f"JUPYTER_MLOPS_HOME points to {path}, which has no {WORKSPACE_DIR}/ folder",
                value=str(path),
                hint=f"run `jupyter-mlops init {path}` or fix JUPYTER_MLOPS_HOME",
            )
        return path
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / WORKSPACE_DIR).is_dir():
            return folder
    raise WorkspaceNotFound(
        f"no {WORKSPACE_DIR}/ folder in {here} or any folder above it",
        value=str(here),
        hint="run `jupyter-mlops init` (or `%mlops init`, or `mlops.init()`) in your project folder",
    )


def read_config_file(root: Path) -> dict[str, Any]:
    """Read and sanity-check ``.mlops/config.toml``; a foreign or damaged file is an error."""
    path = root / WORKSPACE_DIR / CONFIG_FILE
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise WorkspaceCorrupt(
            f"{path} is missing: this {WORKSPACE_DIR}/ folder was not made by jupyter-mlops or is damaged",
            value=str(path),
            hint="move the folder away and run `jupyter-mlops init` again",
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WorkspaceCorrupt(
            f"{path} is not valid TOML: {exc}", value=str(path), hint="fix the file or restore it from version control"
        ) from None
    ws = data.get("workspace")
    if not isinstance(ws, dict) or ws.get("format") != FORMAT_MARKER:
        raise WorkspaceCorrupt(
            f'{path} is not a jupyter-mlops configuration (no [workspace] format = "{FORMAT_MARKER}")',
            value=str(path),
            hint="this folder belongs to another tool; use another project folder or set JUPYTER_MLOPS_HOME",
        )
    return data


def _config_stamp(root: Path) -> tuple[int, int]:
    try:
        st = (root / WORKSPACE_DIR / CONFIG_FILE).stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def _reviewers(ctx: Mapping[str, Any], review: Mapping[str, Any]) -> tuple[str, ...]:
    """``[review] reviewers`` after the context and ``JUPYTER_MLOPS_REVIEWERS``, as a tuple of names."""
    reviewers: Any = ()
    for candidate in (ctx.get("reviewers"), _env("REVIEWERS"), review.get("reviewers")):
        if candidate not in (None, ""):
            reviewers = candidate
            break
    if isinstance(reviewers, str):
        reviewers = [r.strip() for r in reviewers.split(",") if r.strip()]
    if not isinstance(reviewers, (list, tuple)) or not all(isinstance(r, str) for r in reviewers):
        raise InvalidInput(
            "[review] reviewers in config.toml must be a list of names",
            value=repr(reviewers)[:80],
            hint='e.g. reviewers = ["alice", "bob"]',
        )
    return tuple(reviewers)


#: The tables of ``config.toml`` that :func:`refresh_access` re-reads while a workspace is open.
ACCESS_TABLES = ("roles", "access")


def refresh_access(settings: Settings) -> Settings:
    """``settings`` with ``[review] reviewers``, ``[roles]`` and ``[access]`` re-read if ``config.toml`` changed.

    A reviewer added to ``config.toml`` takes effect in a running Jupyter server or kernel on its
    next request, without a restart. The check is one ``stat`` (the file's modification time and
    size); an unchanged file returns ``settings`` itself. A file made invalid while the workspace is
    open raises :class:`~jupyter_mlops.errors.WorkspaceCorrupt`, naming the file, instead of
    quietly keeping the old reviewers.
    """
    stamp = _config_stamp(settings.root)
    if stamp == settings.config_stamp:
        return settings
    file = read_config_file(settings.root)
    review = file.get("review", {})
    extra = {k: v for k, v in settings.extra.items() if k not in ACCESS_TABLES}
    extra.update({k: file[k] for k in ACCESS_TABLES if k in file})
    return dataclasses.replace(settings, reviewers=_reviewers(dict(_overrides.get()), review), extra=extra, config_stamp=stamp)


def _as_location(value: str, root: Path) -> str:
    """A path relative to the project root, or a URL left as it is."""
    if "://" in value:
        return validate_uri(value, kind="location")
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (root / path))


def _sqlite_url(value: str, root: Path, *, kind: str) -> str:
    if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        rel = value[len("sqlite:///") :]
        return "sqlite:///" + str((root / rel).resolve()) if rel else value
    return validate_uri(value, kind=kind)


def resolve_settings(
    root: str | Path | None = None,
    *,
    user: str | None = None,
    tracking_uri: str | None = None,
    metadata_url: str | None = None,
    object_store: str | None = None,
    start: str | Path | None = None,
    identity_source: str | None = None,
) -> Settings:
    """Resolve every setting once, in the order argument, context, environment, file, default."""
    ctx = dict(_overrides.get())
    if root is not None:
        root_path = Path(root).expanduser().resolve()
        if root_path.name == WORKSPACE_DIR:
            root_path = root_path.parent
        if not (root_path / WORKSPACE_DIR).is_dir():
            raise WorkspaceNotFound(
                f"{root_path} has no {WORKSPACE_DIR}/ folder",
                value=str(root_path),
                hint=f"run `jupyter-mlops init {root_path}`",
            )
    elif "root" in ctx:
        root_path = Path(ctx["root"]).resolve()
    else:
        root_path = find_root(start)
    stamp = _config_stamp(root_path)
    file = read_config_file(root_path)
    tracking = file.get("tracking", {})
    meta = file.get("metadata", {})
    objects = file.get("objects", {})
    review = file.get("review", {})

    def pick(arg: Any, key: str, env: str, from_file: Any, default: Any) -> Any:
        for candidate in (arg, ctx.get(key), _env(env), from_file):
            if candidate not in (None, ""):
                return candidate
        return default

    home = root_path / WORKSPACE_DIR
    t_uri = _sqlite_url(
        pick(tracking_uri, "tracking_uri", "TRACKING_URI", tracking.get("uri"), f"sqlite:///{home}/mlflow.db"),
        root_path,
        kind="tracking URI",
    )
    r_uri = _sqlite_url(
        pick(None, "registry_uri", "REGISTRY_URI", tracking.get("registry_uri"), t_uri), root_path, kind="registry URI"
    )
    m_url = _sqlite_url(
        pick(metadata_url, "metadata_url", "METADATA_URL", meta.get("url"), f"sqlite:///{home}/mlops.db"),
        root_path,
        kind="metadata URL",
    )
    _refuse_credentials(file, root_path / WORKSPACE_DIR / CONFIG_FILE)
    obj = _as_location(pick(object_store, "object_store", "OBJECT_STORE", objects.get("url"), str(home / "objects")), root_path)
    # A tracking server keeps artifacts where it was told to (--artifacts-destination): no local default.
    local_tracking = t_uri.startswith(("sqlite:", "file:"))
    default_art = str(home / "artifacts") if local_tracking else ""
    art_value = pick(None, "artifact_location", "ARTIFACT_LOCATION", tracking.get("artifact_location"), default_art)
    art = _as_location(art_value, root_path) if art_value else ""
    executor_section = file.get("executor", {})
    executor = str(pick(None, "executor", "EXECUTOR", executor_section.get("address"), "local")).strip() or "local"
    if "://" in executor:
        validate_uri(executor, kind="executor address")
    passfile = pick(None, "metadata_passfile", "METADATA_PASSFILE", meta.get("passfile"), None)
    options = pick(None, "object_store_options", "OBJECT_STORE_OPTIONS", objects.get("options"), {})
    if isinstance(options, str):
        import json

        try:
            options = json.loads(options)
        except ValueError:
            options = None
    if not isinstance(options, Mapping):
        raise InvalidInput(
            "[objects] options must be a table of fsspec storage options",
            value=repr(options)[:80],
            hint='e.g. options = {endpoint_url = "https://s3.internal:9000"}; JUPYTER_MLOPS_OBJECT_STORE_OPTIONS takes JSON',
        )
    who = pick(user, "user", "USER", None, None) or _os_user()
    reviewers = _reviewers(ctx, review)
    source = str(pick(identity_source, "identity_source", "IDENTITY_SOURCE", None, "local"))
    if source not in IDENTITY_SOURCES:
        raise InvalidInput(f"unknown identity source {source!r}", value=source, hint="one of " + ", ".join(IDENTITY_SOURCES))
    serving = str(pick(None, "serving_alias", "SERVING_ALIAS", review.get("serving_alias"), "champion")).lower()
    guarded = pick(None, "serving_aliases", "SERVING_ALIASES", review.get("serving_aliases"), DEFAULT_SERVING_ALIASES)
    if isinstance(guarded, str):
        guarded = [a.strip() for a in guarded.split(",") if a.strip()]
    if not isinstance(guarded, (list, tuple)) or not all(isinstance(a, str) and a for a in guarded):
        raise InvalidInput(
            "[review] serving_aliases in config.toml must be a list of alias names",
            value=repr(guarded)[:80],
            hint='e.g. serving_aliases = ["champion", "production"]',
        )
    serving_aliases = tuple(dict.fromkeys([*(a.lower() for a in guarded), serving]))
    read_only = str(pick(None, "read_only", "READ_ONLY", None, "")).strip().lower() in ("1", "true", "yes", "on")
    known = {"workspace", "tracking", "metadata", "objects", "executor"}  # [review] stays in extra too (require_compliance ...)
    return Settings(
        root=root_path,
        tracking_uri=t_uri,
        registry_uri=r_uri,
        artifact_location=art,
        metadata_url=m_url,
        object_store=obj,
        user=str(who),
        default_experiment=str(pick(None, "default_experiment", "EXPERIMENT", tracking.get("default_experiment"), "Default")),
        serving_alias=serving,
        serving_aliases=serving_aliases,
        reviewers=reviewers,
        parent_run_id=pick(None, "parent_run_id", "PARENT_RUN_ID", None, None),
        notebook_path=pick(None, "notebook_path", "NOTEBOOK_PATH", None, None),
        workspace_id=str(file["workspace"].get("id", "")),
        read_only=read_only,
        extra={k: v for k, v in file.items() if k not in known},
        identity_source=source,
        config_stamp=stamp,
        executor=executor,
        tracking_workspace=pick(None, "tracking_workspace", "TRACKING_WORKSPACE", tracking.get("workspace"), None),
        metadata_passfile=str(_as_location(str(passfile), root_path)) if passfile else None,
        object_store_options=dict(options),
    )


#: What a team configuration file (``init --config``, ``migrate --to``) may set: setting -> (table, key).
TEAM_KEYS: dict[str, tuple[str, str]] = {
    "tracking_uri": ("tracking", "uri"),
    "registry_uri": ("tracking", "registry_uri"),
    "tracking_workspace": ("tracking", "workspace"),
    "artifact_location": ("tracking", "artifact_location"),
    "metadata_url": ("metadata", "url"),
    "metadata_passfile": ("metadata", "passfile"),
    "object_store": ("objects", "url"),
    "object_store_options": ("objects", "options"),
    "executor": ("executor", "address"),
}


def service_overrides() -> dict[str, Any]:
    """The service settings given by ``JUPYTER_MLOPS_*`` variables (``TRACKING_URI``, ``METADATA_URL`` ...)."""
    out: dict[str, Any] = {}
    for name in TEAM_KEYS:
        value = _env(name.upper())
        if value is not None:
            if name == "object_store_options":
                import json

                try:
                    out[name] = json.loads(value)
                except ValueError:
                    continue
            else:
                out[name] = value
    return out


def load_team_file(path: str | Path) -> dict[str, Any]:
    """The service settings of a team configuration file: ``[tracking]``, ``[metadata]``, ``[objects]``, ``[executor]``.

    The file has the tables of ``config.toml`` (any others are ignored) and, like it, no
    credentials. Returns setting name -> value, for :func:`settings_context` or
    :func:`write_team_settings`.
    """
    file = Path(path).expanduser()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"no team configuration file {file}", value=str(file), hint="give the path of a TOML file") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{file} is not valid TOML: {exc}", value=str(file), hint="fix the file") from None
    _refuse_credentials(data, file)
    out: dict[str, Any] = {}
    for name, (table, key) in TEAM_KEYS.items():
        value = dict(data.get(table, {})).get(key)
        if value not in (None, ""):
            if name in _URL_FIELDS and "://" in str(value):
                validate_uri(str(value), kind=f"[{table}] {key}")
            out[name] = value
    if not out:
        raise InvalidInput(
            f"{file} sets none of [tracking] uri, [metadata] url, [objects] url, [executor] address",
            value=str(file),
            hint="see the README's team deployment guide for an example",
        )
    return out


def write_team_settings(root: Path, values: Mapping[str, Any]) -> None:
    """Record service settings in ``.mlops/config.toml`` (comments kept; passwords stripped, never written).

    Uses tomlkit, which edits a TOML document in place with its comments and layout, where a
    hand-written rewrite of a file users edit would lose them.
    """
    import tomlkit

    path = root / WORKSPACE_DIR / CONFIG_FILE
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    for name, value in values.items():
        if name not in TEAM_KEYS or value in (None, ""):
            continue
        table, key = TEAM_KEYS[name]
        if table not in doc:
            doc[table] = tomlkit.table()
        section: Any = doc[table]
        if isinstance(value, str):
            value = strip_password(value)
        section[key] = dict(value) if isinstance(value, Mapping) else value
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return f"uid{os.getuid()}"


@contextlib.contextmanager
def settings_context(**overrides: Any) -> Iterator[None]:
    """Override settings for the code inside the ``with`` block (context-local, thread-safe)."""
    merged = {**_overrides.get(), **overrides}
    token = _overrides.set(merged)
    try:
        yield
    finally:
        _overrides.reset(token)


def process_env(name: str) -> str | None:
    """Read one ``JUPYTER_MLOPS_*`` variable (for front-ends that need a raw value, e.g. the CLI)."""
    return _env(name)


def notebook_path_hint() -> str | None:
    """The notebook a kernel runs: set by our pipeline runner, else by jupyter_server (JPY_SESSION_NAME)."""
    return _env("NOTEBOOK_PATH") or os.environ.get("JPY_SESSION_NAME") or None


def child_env(**values: str) -> dict[str, str]:
    """The environment for a child process (a papermill kernel) with ``JUPYTER_MLOPS_*`` values set."""
    env = dict(os.environ)
    for key, value in values.items():
        env[ENV_PREFIX + key.upper()] = value
    return env
