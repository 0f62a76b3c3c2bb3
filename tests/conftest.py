"""Shared fixtures: every test gets its own workspace in tmp_path, made current, and no global leaks."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops import fluent


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keep each test away from the developer's environment and from other tests' workspaces."""
    for key in list(os.environ):
        if key.startswith("JUPYTER_MLOPS_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///" + str(tmp_path / "should-not-be-used.db"))
    token = fluent._current.set(None)
    yield
    fluent._current.reset(token)
    fluent._opened.clear()
    try:
        import mlflow

        while mlflow.active_run() is not None:
            mlflow.end_run()
    except ImportError:
        pass


@pytest.fixture
def ws(tmp_path: Path) -> mlops.Workspace:
    """A fresh workspace acting as ``alice``, made current."""
    return mlops.init(tmp_path / "project", user="alice")


@dataclasses.dataclass(frozen=True)
class DemoRun:
    """One ``make demo`` (``example_notebooks/run_demo.py``) into a temporary folder."""

    root: Path
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo, run once per session as ``make demo`` runs it (shared by test_demo and the README test)."""
    repo = Path(__file__).resolve().parent.parent
    root = tmp_path_factory.mktemp("demo") / "demo-workspace"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run(
        [sys.executable, str(repo / "example_notebooks" / "run_demo.py"), str(root)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return DemoRun(root, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def team_services() -> Iterator[object]:
    """PostgreSQL and a real ``mlflow server`` (basic-auth, workspaces), started once per session (tests/team_services.py)."""
    import shutil
    import tempfile

    from team_services import pg_bindir, start_team_services

    if pg_bindir() is None:
        message = "PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)"
        if os.environ.get("MLOPS_REQUIRE_TEAM") == "1":
            pytest.fail(message)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="mlops-team-"))  # under /tmp: the postgres user must reach it
    base.chmod(0o755)
    services = start_team_services(base)
    try:
        yield services
    finally:
        services.stop()
        shutil.rmtree(base, ignore_errors=True)
