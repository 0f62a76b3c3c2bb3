"""The command line as a scheduler sees it: output, JSON and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_mlops as mlops


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_init_then_runs_list_json(tmp_path: Path) -> None:
    out = _cli("init", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "mlflow ui --backend-store-uri sqlite:///" in out.stdout
    ws = mlops.Workspace.open(tmp_path, user="carol")
    with ws.start_run("cli-run") as run:
        run.log_metric("loss", 0.25)
    out = _cli("--json", "runs", "list", cwd=tmp_path)
    assert out.returncode == 0
    listed = json.loads(out.stdout)["runs"]
    assert listed[0]["run_id"] == run.run_id and listed[0]["metrics"]["loss"] == 0.25
    out = _cli("runs", "show", run.run_id, cwd=tmp_path)
    assert "metric loss = 0.25" in out.stdout


def test_json_goes_after_any_sub_command(ws: mlops.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_mlops.cli.main import main

    with ws.start_run("r") as run:
        run.log_metric("loss", 0.5)
    root = str(ws.settings.root)
    for argv, check in (
        (["runs", "list", "--json"], lambda out: out["runs"][0]["run_id"] == run.run_id),
        (["runs", "show", run.run_id, "--json"], lambda out: out["metrics"]["loss"] == 0.5),
        (["audit", "log", "--json", "--limit", "2"], lambda out: [e["action"] for e in out] == ["run.end", "run.start"]),
        (["audit", "verify", "--json"], lambda out: out["ok"] is True),
        (["--json", "audit", "verify"], lambda out: out["ok"] is True),  # before it still works
        (["config", "show", "--json"], lambda out: out["root"] == root),
    ):
        assert main(["-C", root, *argv]) == 0, argv
        assert check(json.loads(capsys.readouterr().out)), argv


def test_exit_codes(tmp_path: Path) -> None:
    assert _cli("runs", "list", cwd=tmp_path).returncode == 3  # no workspace
    bad = _cli("runs", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    _cli("init", cwd=tmp_path)
    missing = _cli("--json", "runs", "show", "0123456789abcdef0123456789abcdef", cwd=tmp_path)
    assert missing.returncode == 4
    assert json.loads(missing.stdout)["error"] == "NotFound"
    unsafe = _cli("runs", "show", "../../etc/passwd", cwd=tmp_path)
    assert unsafe.returncode == 2 and "invalid run id" in unsafe.stderr


def test_help_is_fast_and_light(tmp_path: Path) -> None:
    code = "import sys; from jupyter_mlops.cli.main import main; main(['--help']); print(sorted(m for m in ('mlflow','pandas','sqlalchemy','papermill') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.strip().endswith("[]")
