"""The container build context: the same bytes twice, and a gateway started from the context alone.

There is no Docker engine here, so the test does what the Dockerfile does: a fresh venv, the
context's requirements installed with --no-deps --require-hashes, then the runtime started from
the context folder with nothing of the workspace (no database, no MLflow) on its path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from serving_helpers import FEATURES, GatewayProcess, build_serving_project, jupyter_mlops, records

import jupyter_mlops as mlops


@pytest.mark.slow
def test_package_is_deterministic_and_serves_from_a_fresh_venv(tmp_path: Path) -> None:
    project = build_serving_project(tmp_path / "project")
    root = project["root"]
    a, b = tmp_path / "ctx-a", tmp_path / "ctx-b"
    for out in (a, b):
        done = jupyter_mlops(root, "--json", "package", "arrests-clf@1", "--out", str(out), "--tar")
        assert done.returncode == 0, done.stderr
    built = json.loads(done.stdout)
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert Path(str(a) + ".tar.gz").read_bytes() == Path(str(b) + ".tar.gz").read_bytes()
    assert built["hashed_requirements"] is True
    for needed in (
        "Dockerfile",
        "requirements.txt",
        "serving.yaml",
        "card.html",
        "MANIFEST.sha256",
        "models/arrests-clf-v1/model.json",
        "k8s/deployment.yaml",
        "k8s/service.yaml",
        "k8s/inferenceservice.yaml",
        "jupyter_mlops/serving/runtime/app.py",
    ):
        assert needed in files, needed
    docker = (a / "Dockerfile").read_text()
    assert (
        "FROM python:3.11-slim" in docker and "USER 10001" in docker and "HEALTHCHECK" in docker and "--require-hashes" in docker
    )
    reqs = (a / "requirements.txt").read_text()
    pins = [line for line in reqs.splitlines() if line and not line.startswith((" ", "#"))]
    assert (
        all("==" in p for p in pins)
        and reqs.count("--hash=sha256:") == len(pins)
        and not any(p.startswith("mlflow") for p in pins)
    )
    isvc = yaml.safe_load((a / "k8s/inferenceservice.yaml").read_text())
    assert isvc["kind"] == "InferenceService" and isvc["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert str(tmp_path) not in "".join((a / f).read_text(errors="replace") for f in files if not f.endswith(".skops"))
    manifest = dict(reversed(line.split("  ", 1)) for line in (a / "MANIFEST.sha256").read_text().splitlines())
    assert set(manifest) == set(files) - {"MANIFEST.sha256"}

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--require-hashes", "-r", str(a / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_MLOPS_", "PYTHONPATH", "MLFLOW_"))}
    cmd = [
        str(py),
        "-m",
        "jupyter_mlops.serving.runtime",
        "--config",
        "serving.yaml",
        "--state-dir",
        str(tmp_path / "state"),
        "--log-dir",
        str(tmp_path / "log"),
    ]
    row = records(project["X_test"], 1)
    expected = (
        mlops.Workspace.open(root, user="alice").models.load_model("arrests-clf@1").predict(project["X_test"].iloc[:1]).tolist()
    )
    with GatewayProcess(cmd, cwd=a, env=env) as gw, httpx.Client(base_url=gw.url, timeout=10) as c:
        r = c.post("/invocations", json={"dataframe_split": {"columns": FEATURES, "data": [[row[0][f] for f in FEATURES]]}})
        assert r.status_code == 200 and r.json() == {"predictions": expected} and r.headers["X-Model-Version"] == "arrests-clf@1"
        token = (tmp_path / "state" / "admin-token").read_text().strip()
        assert (
            c.post("/admin/stop", json={"reason": "container drill"}, headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
        assert c.post("/invocations", json={"dataframe_records": row}).status_code == 503
        loaded = subprocess.run(
            [
                str(py),
                "-c",
                "import sys, jupyter_mlops.serving.runtime.app; print(sorted(m for m in ('mlflow', 'sqlalchemy', 'jupyter_mlops.workspace') if m in sys.modules))",
            ],
            cwd=a,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert loaded.stdout.strip() == "[]"
    events = [json.loads(line) for line in (tmp_path / "state" / "events.jsonl").read_text().splitlines()]
    assert [e["action"] for e in events] == ["deployment.create", "serving.stop"] and events[1]["prev_sha256"] == events[0][
        "sha256"
    ]
