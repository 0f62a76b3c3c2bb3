"""Test harness for the server extension and the lab extension.

- :class:`UserTokensIdentityProvider`: a jupyter_server identity provider that maps extra tokens
  to named users (``bob``, ``mallory`` ...) and names the default token's user, so tests can act as
  several authenticated Jupyter users without a hub.
- :class:`TestAuthorizer`: denies every ``jupyter_mlops:`` action to some users and allows only
  ``read`` to others, to check that each route is really authorized.
- :class:`LabServer`: a real ``jupyter lab`` on 127.0.0.1 with a random port and token, isolated
  config dirs, token and XSRF on (the browser tests and the schemathesis fuzz run against it).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Dict, List, Unicode

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """Debian's chromium (or ``CHROMIUM_BIN``); None when there is none."""
    return os.environ.get("CHROMIUM_BIN") or shutil.which("chromium")


class UserTokensIdentityProvider(IdentityProvider):
    """Token -> user name for extra tokens; the main token's user is ``default_username``."""

    user_tokens = Dict({}, help="extra token -> username").tag(config=True)
    default_username = Unicode("", help="username of the main token's user").tag(config=True)

    async def get_user_token(self, handler: Any) -> User | None:
        given = self.get_token(handler)
        if given and given in self.user_tokens:
            handler._token_authenticated = True
            return User(username=str(self.user_tokens[given]))
        return await super().get_user_token(handler)

    def generate_anonymous_user(self, handler: Any) -> User:
        if self.default_username:
            return User(username=self.default_username)
        return super().generate_anonymous_user(handler)


class TestAuthorizer(Authorizer):
    """``denied`` users may do nothing on jupyter_mlops resources; ``read_only`` users may only read."""

    denied = List([], help="usernames refused every jupyter_mlops action").tag(config=True)
    read_only = List([], help="usernames allowed only the read action").tag(config=True)

    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        if not resource.startswith("jupyter_mlops:"):
            return True
        if user.username in self.denied:
            return False
        return not (user.username in self.read_only and action != "read")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LabServer:
    """A real ``jupyter lab`` process for browser and HTTP tests."""

    def __init__(
        self,
        root_dir: Path,
        state_dir: Path,
        *,
        username: str = "bob",
        user_tokens: dict[str, str] | None = None,
        owner: str | None = None,
    ) -> None:
        """``owner``: run with jupyter_server's default identity provider (token login, anonymous
        users) as a single-user server whose owner is ``JUPYTER_MLOPS_USER=owner``."""
        self.root_dir = Path(root_dir)
        self.state_dir = Path(state_dir)
        self.owner = owner
        self.username = username
        self.user_tokens = dict(user_tokens or {})
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.state_dir / "lab.log"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
        for var, sub in (
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
            ("IPYTHONDIR", "ipython"),
        ):
            path = self.state_dir / sub
            path.mkdir(parents=True, exist_ok=True)
            env[var] = str(path)
        if self.owner:
            env["JUPYTER_MLOPS_USER"] = self.owner
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        return env

    def _write_settings(self) -> None:
        settings = self.state_dir / "lab-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    def start(self, timeout: float = 90.0) -> LabServer:
        env = self._env()
        self._write_settings()
        config = {
            "ServerApp": {
                "identity_provider_class": "harness.UserTokensIdentityProvider",
                "authorizer_class": "harness.TestAuthorizer",
                "allow_unauthenticated_access": False,
            },
            "UserTokensIdentityProvider": {
                "user_tokens": self.user_tokens,
                "default_username": self.username,
                "token": self.token,
            },
            "TestAuthorizer": {"denied": ["mallory"], "read_only": ["carol"]},
            "IdentityProvider": {"token": self.token},
            "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
        }
        if self.owner:  # jupyter_server's default provider: every token user is anonymous
            del config["ServerApp"]["identity_provider_class"], config["UserTokensIdentityProvider"]
        (Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.json").write_text(json.dumps(config))
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
        ]
        log = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the process lifetime
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.root_dir
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                req = urllib.request.Request(self.url + "/api/status", headers={"Authorization": f"token {self.token}"})
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"jupyter lab did not start in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def api(self, path: str, *, method: str = "GET", body: Any = None, token: str | None = None) -> tuple[int, Any]:
        """Call ``/jupyter-mlops/api/v1/<path>`` with a token; returns (status, JSON body)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if token != "":
            headers["Authorization"] = f"token {token or self.token}"
        req = urllib.request.Request(f"{self.url}/jupyter-mlops/api/v1/{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, raw.decode("utf-8", "replace")
