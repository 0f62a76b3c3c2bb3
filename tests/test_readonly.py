"""An evidence copy that its reader cannot write: every inspection works, nothing changes, writes are refused.

The copies are read by an unprivileged user (``nobody`` through ``setpriv`` when the suite runs as
root; the current user otherwise), because root ignores file modes. Two copies: one made after a
clean close (WAL database, no ``-wal``/``-shm`` files: plain ``mode=ro`` cannot open it, since
SQLite would need to create ``-shm``), and one taken while a writer was open (a ``-wal`` file
holding the newest transactions, no ``-shm``: ``immutable=1`` would silently miss them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.errors import WorkspaceReadOnly

DRIVER = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from jupyter_mlops.cli.main import main
    out = []
    for argv in json.loads(sys.argv[1]):
        o, e = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
            code = main(argv)
        out.append({"argv": argv, "code": code, "out": o.getvalue(), "err": e.getvalue()})
    print(json.dumps(out))
    """
)


def _reader_prefix() -> list[str]:
    """Run as a user who cannot write the copy: ``nobody`` when we are root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("LOUD SKIP: running as root without setpriv, so no unprivileged reader can be started")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def _tree(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _freeze(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        if p.is_symlink():
            continue
        mode = 0o555 if p.is_dir() else 0o444
        p.chmod(mode)


def _copy(src: Path, dst: Path, *, skip: tuple[str, ...] = ()) -> Path:
    shutil.copytree(src, dst, ignore=lambda d, names: [n for n in names if n in skip])
    return dst


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("ro") / "project"
    ws = mlops.init(root, user="alice")
    with ws.start_run("train", experiment="ro", params={"C": 1}) as run:
        run.log_metric("accuracy", 0.9)
    X, y = load_iris(return_X_y=True, as_frame=True)
    ws.data.version(pd.concat([X, y], axis=1), "iris")
    with ws.start_run("fit", experiment="ro"):
        mv = ws.models.log_model(LogisticRegression(max_iter=300).fit(X, y), "iris-clf", X_example=X)
    ws.evaluation.evaluate(mv.ref, X, y, n_bootstrap=10, plots=False)
    ws.cards.build_card(mv.ref)
    # A run whose process died: it stays RUNNING in the copy, and reading the copy must not reap it.
    victim = (
        "import os, jupyter_mlops as mlops\n"
        f"ws = mlops.Workspace.open({str(root)!r}, user='alice')\n"
        "r = ws.start_run('orphan', experiment='ro').start(); r._start_thread.join()\n"
        "os.kill(os.getpid(), 9)\n"
    )
    assert subprocess.run([sys.executable, "-c", victim], timeout=120).returncode == -9
    ws.db.dispose()  # the last connection closes: SQLite checkpoints and removes -wal and -shm
    home = root / ".mlops"
    assert not (home / "mlops.db-wal").exists()

    base = Path(tempfile.mkdtemp(prefix="mlops-evidence-"))
    base.chmod(0o755)
    clean = _copy(root, base / "clean")
    # A copy taken while a writer is open: its newest transaction lives only in the -wal file.
    writer = mlops.Workspace.open(root, user="alice")
    with writer.start_run("only-in-wal", experiment="ro"):
        pass
    assert (home / "mlops.db-wal").stat().st_size > 0
    walcopy = _copy(root, base / "wal", skip=("mlops.db-shm",))
    main_only = sqlite3.connect(f"file:{walcopy}/.mlops/mlops.db?mode=ro&immutable=1", uri=True)
    assert main_only.execute("SELECT count(*) FROM runs WHERE name = 'only-in-wal'").fetchone()[0] == 0
    main_only.close()
    writer.db.dispose()
    for folder in (clean, walcopy):
        _freeze(folder)
    run_ids = {r.name: r.run_id for r in writer.list_runs(limit=100, with_metrics=False)}
    yield {"clean": clean, "wal": walcopy, "model": mv.ref, "runs": run_ids}
    for p in [base, *base.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(base, ignore_errors=True)


def _read(folder: Path, commands: list[list[str]], **env: str) -> list[dict[str, Any]]:
    home = Path(tempfile.mkdtemp(prefix="mlops-reader-home-"))
    home.chmod(0o777)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    environ.update(HOME=str(home), JUPYTER_MLOPS_USER="auditor", MPLCONFIGDIR=str(home), **env)
    try:
        done = subprocess.run(
            [*_reader_prefix(), sys.executable, "-c", DRIVER, json.dumps(commands)],
            cwd=folder,
            env=environ,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_every_inspection_works_on_a_copy_the_reader_cannot_write(evidence: dict[str, Any]) -> None:
    folder: Path = evidence["clean"]
    before = _tree(folder)
    orphan, train = evidence["runs"]["orphan"], evidence["runs"]["train"]
    results = _read(
        folder,
        [
            ["--json", "runs", "list", "--limit", "50"],
            ["runs", "show", train],
            ["audit", "verify"],
            ["card", "show", evidence["model"]],
            ["data", "verify"],
            ["model", "list"],
            ["model", "promote", evidence["model"], "--alias", "staging"],
        ],
    )
    by = {tuple(r["argv"][:2]) if r["argv"][0] != "--json" else ("runs", "list"): r for r in results}
    for key in [("runs", "list"), ("runs", "show"), ("audit", "verify"), ("card", "show"), ("data", "verify"), ("model", "list")]:
        assert by[key]["code"] == 0, (key, by[key]["err"])
    listed = {r["run_id"]: r for r in json.loads(by[("runs", "list")]["out"])["runs"]}
    assert train in listed and orphan in listed
    assert listed[orphan]["status"] == "RUNNING"  # shown as recorded: a read-only copy is never reaped
    assert "metric accuracy = 0.9" in by[("runs", "show")]["out"]
    assert "audit chain intact" in by[("audit", "verify")]["out"]
    assert evidence["model"].split("@")[0] in by[("card", "show")]["out"]
    assert "iris-clf" in by[("model", "list")]["out"]
    promote = by[("model", "promote")]
    assert promote["code"] == 3, promote
    assert "read-only workspace" in promote["err"] and len(promote["err"].strip().splitlines()) == 1
    assert _tree(folder) == before, "reading the evidence copy changed or added files"


def test_a_copy_with_an_unmerged_wal_shows_its_newest_records(evidence: dict[str, Any]) -> None:
    folder: Path = evidence["wal"]
    before = _tree(folder)
    results = _read(folder, [["--json", "runs", "list", "--limit", "50"], ["audit", "verify"]])
    assert [r["code"] for r in results] == [0, 0], results
    names = {r["name"] for r in json.loads(results[0]["out"])["runs"]}
    assert "only-in-wal" in names
    assert "audit chain intact" in results[1]["out"]
    assert _tree(folder) == before


def test_read_only_setting_refuses_writes_before_anything_changes(ws: mlops.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    with ws.start_run("kept") as run:
        run.log_metric("m", 1.0)
    ws.db.dispose()
    before = _tree(ws.settings.home)
    monkeypatch.setenv("JUPYTER_MLOPS_READ_ONLY", "1")
    ro = mlops.Workspace.open(ws.settings.root, user="auditor")
    assert ro.read_only
    assert [r.name for r in ro.list_runs()] == ["kept"]
    assert ro.verify_audit().ok
    with pytest.raises(WorkspaceReadOnly, match="read-only workspace"):
        ro.start_run("refused").start()
    with pytest.raises(WorkspaceReadOnly, match="read-only workspace"):
        ro.data.version(pd.DataFrame({"a": [1]}), "refused")
    ro.db.dispose()
    after = _tree(ws.settings.home)
    # On a folder it could write, SQLite's read-only connection may create its shared-memory index
    # (-shm, and an empty -wal) to coordinate with writers; no database or object changed.
    assert {k: v for k, v in after.items() if not k.endswith(("-shm", "-wal"))} == before
    assert after.get("mlops.db-wal", hashlib.sha256(b"").hexdigest()) == hashlib.sha256(b"").hexdigest()
