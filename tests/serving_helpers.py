"""Shared serving fixtures: approved models built through the public API, and a real gateway process.

:func:`build_serving_project` makes one workspace with the arrests data versioned (``colour``
and ``sex`` declared sensitive) inside a tracked training run, and four model versions:

- ``arrests-clf@1`` and ``@2``: logistic regressions, evaluated, carded, reviewed by ``alice``
  (author) and approved by ``bob`` (a reviewer in config.toml);
- ``arrests-clf@3``: approved, but its one-hot encoder was fitted on white defendants only and
  refuses other values (``handle_unknown="error"``): a real model that fails in production;
- ``arrests-clf@4``: logged and evaluated, never reviewed.

:class:`GatewayProcess` runs ``jupyter-mlops serve ...`` (or the packaged runtime) as a real
process on a free loopback port and waits for ``/ready``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jupyter_mlops as mlops

MODEL = "arrests-clf"
FEATURES = ["colour", "year", "age", "sex", "employed", "citizen", "checks"]


def arrests() -> Any:
    from sklego.datasets import load_arrests

    return load_arrests(as_frame=True)


def _pipeline(X: Any, y: Any, *, C: float = 1.0, strict: bool = False) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="error" if strict else "ignore"), ["colour", "sex", "employed", "citizen"]),
            ("num", StandardScaler(), ["year", "age", "checks"]),
        ]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500, C=C))]).fit(X, y)


def set_reviewers(root: Path, *names: str) -> None:
    cfg = root / ".mlops" / "config.toml"
    cfg.write_text(re.sub(r"(?m)^reviewers = .*$", "reviewers = " + json.dumps(list(names)), cfg.read_text(), count=1))


def _log(ws: mlops.Workspace, model: Any, X: Any, *, cell: str) -> str:
    with ws.start_run(
        "train", experiment="arrests", source={"notebook": "train.ipynb", "cell_id": cell, "cell_source": "model.fit(X, y)"}
    ):
        ws.data.load("arrests@1")
        return ws.models.log_model(model, MODEL, X_example=X.head()).ref


def build_serving_project(root: Path) -> dict[str, Any]:
    """The workspace described in the module docstring; returns refs and frames."""
    ws = mlops.init(root, user="alice")
    set_reviewers(root, "bob")
    ws = mlops.Workspace.open(root, user="alice")
    df = arrests()
    ws.data.version(df, "arrests", sensitive=("colour", "sex"))
    X, y = df[FEATURES], (df["released"] == "Yes").astype(int)
    cut = int(len(df) * 0.7)
    X_train, X_test, y_train, y_test = X.iloc[:cut], X.iloc[cut:], y.iloc[:cut], y.iloc[cut:]
    white = X_train["colour"] == "White"
    refs = [
        _log(ws, _pipeline(X_train, y_train), X_train, cell="cell-train"),
        _log(ws, _pipeline(X_train, y_train, C=0.5), X_train, cell="cell-train-2"),
        _log(ws, _pipeline(X_train[white], y_train[white], strict=True), X_train[white], cell="cell-white-only"),
        _log(ws, _pipeline(X_train, y_train, C=0.1), X_train, cell="cell-unreviewed"),
    ]
    bob = ws.as_user("bob")
    for i, ref in enumerate(refs):
        test_x, test_y = (
            (X_test, y_test) if i != 2 else (X_test[X_test["colour"] == "White"], y_test[X_test["colour"] == "White"])
        )
        ws.evaluation.evaluate(ref, test_x, test_y, sensitive_features=["sex"], n_bootstrap=10, plots=False)
        if i == 3:
            continue
        ws.cards.build_card(ref)
        ws.models.request_review(ref, note="ready")
        bob.models.approve(ref, comment="within policy")
    return {"root": root, "refs": refs, "X_test": X_test.reset_index(drop=True), "y_test": y_test.reset_index(drop=True)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(user: str = "alice") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    env["JUPYTER_MLOPS_USER"] = user
    # the child runs the same jupyter_mlops as this test process (the source tree or the installed copy)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(mlops.__file__).resolve().parent.parent), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return env


def jupyter_mlops(root: Path, *args: str, user: str = "alice", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process."""
    cmd = [sys.executable, "-m", "jupyter_mlops.cli.main", "-C", str(root), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=cli_env(user), timeout=timeout)


class GatewayProcess:
    """A gateway in its own process on 127.0.0.1; ``with GatewayProcess(cmd) as gw: gw.url``."""

    def __init__(self, cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.cmd = [*cmd, "--host", "127.0.0.1", "--port", str(self.port)]
        self.cwd = cwd
        self.env = env or cli_env()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(cwd) / f"gateway-{self.port}.log"

    def start(self, timeout: float = 90.0) -> GatewayProcess:
        log = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the process lifetime
        self.proc = subprocess.Popen(
            self.cmd, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gateway did not start in {timeout}s:\n{self.log_path.read_text()[-4000:]}")

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout=5)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def records(X: Any, n: int, start: int = 0) -> list[dict[str, Any]]:
    """``n`` rows of X as JSON records (plain Python values)."""
    rows = X.iloc[start : start + n]
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows.to_dict(orient="records")]
