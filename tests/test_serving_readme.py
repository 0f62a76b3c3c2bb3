"""The README's Serving blocks, run as a user types them: bash in a terminal, Python in a notebook.

Every block of README.md marked ``<!-- readme-test: fixture=served-model -->`` runs here, in
README order, in one project folder prepared by :func:`served_model`:

- a workspace acting as ``alice``, ``bob`` a reviewer; the arrests data versioned (``colour``
  and ``sex`` sensitive); ``arrests-clf@1`` and ``@2`` approved by bob, ``@1`` promoted to
  ``champion``; ``@3`` approved (its encoder knows white defendants only, so it fails on other
  rows: the shadow); ``@4`` never reviewed (see ``serving_helpers.build_serving_project``);
- a ```bash block runs as a ``bash -e`` script in that folder, with this interpreter's ``bin``
  folder first on ``PATH`` (``jupyter-mlops``), ``JUPYTER_MLOPS_USER=alice``, and its
  ``PORT=8080`` line given a free port; every command must succeed, and a background job it left
  running is killed and fails the test;
- a ```python block runs in this process with the folder as working folder and the workspace
  current; a final expression is evaluated (a notebook would display it).
"""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import build_serving_project, cli_env, free_port

import jupyter_mlops as mlops

README = Path(__file__).resolve().parent.parent / "README.md"
MARK = "<!-- readme-test: fixture=served-model -->"


def serving_blocks() -> list[tuple[int, str, str]]:
    """``(line, language, code)`` of every block marked for the served-model fixture."""
    return marked_blocks(MARK)


readme_blocks = serving_blocks  # what test_readme checks a delegated fixture's module runs


def marked_blocks(mark: str) -> list[tuple[int, str, str]]:
    """``(line, language, code)`` of every README block right below the HTML comment ``mark``."""
    lines = README.read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.strip() != mark:
            continue
        j = i + 1
        while not lines[j].strip():
            j += 1
        m = re.match(r"^```(\w+)\s*$", lines[j])
        assert m, f"README.md:{j + 1}: the marker must be followed by a fenced block with its language"
        end = next(k for k in range(j + 1, len(lines)) if lines[k].startswith("```"))
        out.append((j + 1, m.group(1), "\n".join(lines[j + 1 : end])))
    return out


def served_model(folder: Path) -> None:
    build_serving_project(folder)
    mlops.Workspace.open(folder, user="alice").models.promote("arrests-clf@1")  # champion


# when the block fails half-way, the gateway it started in the background ends with it
_ON_EXIT = """trap 'left=$(jobs -p); [ -z "$left" ] || kill $left' EXIT
"""
# after the block: a job still running 20 s later (a gateway the block did not end) fails it
_EPILOGUE = """
for _ in $(seq 1 100); do [ -z "$(jobs -rp)" ] && break; sleep 0.2; done
if [ -n "$(jobs -rp)" ]; then echo "LEFT RUNNING: $(jobs -rp)"; kill $(jobs -rp); exit 97; fi
"""


def run_bash(line: int, code: str, folder: Path, env: dict[str, str] | None = None) -> str:
    port = free_port()
    assert "PORT=8080" in code or "$PORT" not in code, f"README.md:{line}: a block using $PORT sets PORT=8080"
    script = code.replace("PORT=8080", f"PORT={port}")
    # a job the block left behind would outlive the test: report it, then end it
    script = "set -e\n" + _ON_EXIT + script + _EPILOGUE
    env = dict(cli_env() if env is None else env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.Popen(
        ["bash", "-c", script], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"README.md:{line}: the block did not finish in 240 s:\n{out.decode()[-4000:]}")
    text = out.decode()
    assert proc.returncode == 0, f"README.md:{line}: the block failed (exit {proc.returncode}):\n{text[-4000:]}"
    return text


def run_python(line: int, code: str, namespace: dict[str, Any]) -> Any:
    tree = ast.parse(code, f"README.md:{line}")
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, f"README.md:{line}", "exec"), namespace)  # noqa: S102 - our own README
    if last is not None:
        return eval(compile(ast.Expression(last.value), f"README.md:{line}", "eval"), namespace)  # noqa: S307
    return None


@pytest.mark.slow
def test_the_serving_section_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = serving_blocks()
    assert [lang for _, lang, _ in blocks] == ["bash", "bash", "python"]
    folder = tmp_path / "project"
    served_model(folder)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("JUPYTER_MLOPS_USER", "alice")
    outputs = []
    shown = None
    for line, lang, code in blocks:
        if lang == "bash":
            outputs.append(run_bash(line, code, folder))
        else:
            mlops.use(folder, user="alice")
            shown = run_python(line, code, {})
    first, second = outputs
    # what the first block printed: ready, two predictions, the canary, the 503, the trace, status, report
    assert '"ready":true' in first and first.count('{"predictions":[') == 2
    assert "canary arrests-clf@2 gets 10% of arrests" in first and "\n503\n" in first
    assert "trace of request" in first and "cell_id=cell-train" in first and "arrests@1" in first
    assert "deployment.canary_start" in first and "serving.resume" in first
    assert "deployment arrests:" in first and "rejected inputs" in first
    # the second: a sticky request with its headers, the new weights on /metrics, the build context
    assert "x-model-version: arrests-clf@" in second.lower() and "x-request-id:" in second.lower()
    assert 'model_version="arrests-clf@1",variant="stable"} 80.0' in second
    assert 'model_version="arrests-clf@2",variant="canary"} 20.0' in second
    assert (folder / "build" / "arrests" / "Dockerfile").is_file() and (folder / "build" / "arrests.tar.gz").is_file()
    # the notebook block: the live dashboard over what the gateways logged
    assert shown is not None and shown.last_error is None and "arrests-clf@1" in shown.summary.value + shown.tables.value
    shown.auto_refresh.value = False
    ws = mlops.Workspace.open(folder, user="alice")
    actions = {e.action for e in ws.audit_events(object_type="deployment", object_id="arrests")}
    assert {"serving.stop", "serving.resume", "deployment.canary_start", "deployment.weights", "serving.start"} <= actions
    assert ws.verify_audit().ok
