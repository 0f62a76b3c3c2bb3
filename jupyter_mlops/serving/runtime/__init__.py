"""The serving runtime: what a gateway needs at run time, and nothing more.

This package is copied as it is into a container build context by ``jupyter-mlops package``
(with ``jupyter_mlops/__init__.py``, ``errors.py`` and ``core/paths.py``), so it imports only the
standard library, those three modules, and the slim serving stack: Starlette, uvicorn,
prometheus_client, pandas, scikit-learn, skops and PyYAML. Never MLflow, never the workspace
(an import-linter contract checks it). ``python -m jupyter_mlops.serving.runtime --config
serving.yaml`` starts a gateway from a build context alone.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

__all__ = ["RUNTIME_MODULES", "check_address", "read_or_create_token", "run"]

#: What a build context holds of jupyter_mlops: enough to start ``python -m jupyter_mlops.serving.runtime``.
RUNTIME_MODULES = (
    "__init__.py",
    "_version.py",
    "errors.py",
    "core/__init__.py",
    "core/paths.py",
    "serving/__init__.py",
    "serving/runtime/__init__.py",
    "serving/runtime/__main__.py",
    "serving/runtime/analysis.py",
    "serving/runtime/app.py",
    "serving/runtime/batcher.py",
    "serving/runtime/bundle.py",
    "serving/runtime/canary.py",
    "serving/runtime/changes.py",
    "serving/runtime/control.py",
    "serving/runtime/http.py",
    "serving/runtime/metrics.py",
    "serving/runtime/predlog.py",
    "serving/runtime/protocol.py",
    "serving/runtime/router.py",
    "serving/runtime/spec.py",
)


def read_or_create_token(path: Path) -> str:
    """The bearer token in ``path``; a new random one (written with mode 0600) when there is none."""
    import os

    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 16:
            return token
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    os.replace(tmp, path)
    return token


def check_address(host: str, port: int) -> None:
    """Refuse, before anything is recorded, an address the gateway could not listen on.

    Raises
    ------
    InvalidInput
        ``port`` is not a whole number from 1 to 65535, or ``host`` is not an address of this machine.
    Conflict
        Something listens on ``host:port`` already.
    """
    import errno
    import socket

    from ...errors import Conflict, InvalidInput

    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidInput(f"--port must be a whole number from 1 to 65535, got {port!r}", value=port, field="port")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(
            f"--host {str(host)[:80]!r} is not an address of this machine",
            value=str(host)[:80],
            hint="e.g. 127.0.0.1",
            field="host",
        ) from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Conflict(
                    f"port {port} on {host} is in use", value=port, hint="stop what listens there, or choose another --port"
                ) from exc
            raise InvalidInput(
                f"cannot listen on {host}:{port}: {exc.strerror}", value=f"{host}:{port}", hint="choose another --host or --port"
            ) from exc


def run(app: Any, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn until SIGINT/SIGTERM (no access log: the prediction log is the record)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_keep_alive=30, lifespan="on")
