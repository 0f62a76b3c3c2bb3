"""Nothing is left RUNNING: kill -9 at random moments, orphaned workers, reaped runs and pipelines.

Every victim here is a real process (a Python script with tracked runs, ``jupyter-mlops run`` of a
notebook, ``jupyter-mlops run`` of a pipeline on the local pool or on Dask) killed with SIGKILL.
Afterwards the stock MLflow client must see no RUNNING run, the audit chain must verify and both
SQLite databases must pass ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import write_notebook

import jupyter_mlops as mlops
from jupyter_mlops.core.process import ProcessIdentity, process_state
from jupyter_mlops.tracking import liveness

CLI = [sys.executable, "-m", "jupyter_mlops.cli.main"]

RUNS_VICTIM = textwrap.dedent(
    """
    import random, sys, time
    import jupyter_mlops as mlops
    ws = mlops.Workspace.open(sys.argv[1])
    ws.tracking.experiment_id("victims")
    print("ready", flush=True)
    rng = random.Random(int(sys.argv[2]))
    while True:
        with ws.start_run("loop", experiment="victims", params={"i": 1}) as run:
            run.log_metric("x", rng.random())
            time.sleep(rng.random() * 0.2)
        outer = ws.start_run("outer", experiment="victims").start()
        with ws.start_run("inner", experiment="victims"):
            time.sleep(rng.random() * 0.2)
        time.sleep(rng.random() * 0.2)
        outer.end()
    """
)

STAGE_CELLS = [
    "import time, jupyter_mlops as mlops\nopen('stage.flag', 'w').write('1')",
    "for i in range(4):\n    with mlops.start_run(f'child{i}') as r:\n        r.log_metric('v', i * C)\n        time.sleep(0.15)",
    "%load_ext jupyter_mlops",
    "%%track tracked --params C\ntime.sleep(0.3)\nmlops.log_metric('w', C)",
]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), children first found first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid: int) -> bool:
    """Running (a zombie is dead: it does no work and only waits to be collected)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def wait_for(cond: Callable[[], Any], timeout: float, step: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = cond()
        if value or time.monotonic() > end:
            return value
        time.sleep(step)


def kill_tree(proc: subprocess.Popen[Any], tree: list[int]) -> None:
    """Test cleanup only: make sure nothing a failed test started keeps running."""
    for pid in [proc.pid, *tree]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    proc.wait(timeout=10)


def stock_running(root: Path) -> list[str]:
    """Runs RUNNING as the stock MLflow client sees them (no jupyter-mlops code involved)."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=f"sqlite:///{root}/.mlops/mlflow.db")
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = client.search_runs(ids, filter_string="attributes.status = 'RUNNING'", run_view_type=ViewType.ALL, max_results=1000)
    return [r.info.run_id for r in runs]


def integrity(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    mlops.init(root, user="alice")
    write_notebook(root / "stage.ipynb", STAGE_CELLS, "C = 0.5")
    pipe = root / "pipe"
    write_notebook(pipe / "prep.ipynb", ["import time\ntime.sleep(0.5)\nopen('prep.txt', 'w').write(str(n))"], "n = 1")
    write_notebook(pipe / "train.ipynb", STAGE_CELLS, "C = 0.5")
    (pipe / "pipeline.yaml").write_text(
        "stages:\n"
        "  prep:\n    notebook: prep.ipynb\n    outputs: [{file: prep.txt}]\n"
        "  train:\n    notebook: train.ipynb\n    needs: [prep]\n    parameters: {C: 2.0}\n",
        encoding="utf-8",
    )
    return root


def env_for(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(JUPYTER_MLOPS_USER="alice", PYTHONUNBUFFERED="1")
    env.pop("JUPYTER_MLOPS_HOME", None)
    return env


def test_kill_nine_at_random_moments_leaves_nothing_running(project: Path) -> None:
    rng = random.Random(1234)
    env = env_for(project)
    lanes: dict[str, list[tuple[list[str], Path, float]]] = {
        # (command, folder, latest kill moment): each victim is killed at a uniform random moment
        # before it could finish: while it starts, opens runs, runs cells, records, ends runs.
        "runs": [([sys.executable, "-c", RUNS_VICTIM, str(project), str(i)], project, 1.5) for i in range(8)],
        "stage": [([*CLI, "run", "stage.ipynb", "-p", "C", str(i)], project, 5.0) for i in range(8)],
        "pipeline": [([*CLI, "run", "pipeline.yaml", "--force"], project / "pipe", 9.0) for _ in range(8)],
    }
    results: dict[str, list[str]] = {k: [] for k in lanes}
    problems: list[str] = []
    delays = {k: [rng.uniform(0.2, t) for _, _, t in v] for k, v in lanes.items()}

    def lane(kind: str) -> None:
        for (cmd, cwd, _), delay in zip(lanes[kind], delays[kind], strict=True):
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            if kind == "runs":  # kill during the run loop, not while Python imports
                assert proc.stdout is not None
                proc.stdout.readline()
            time.sleep(delay)
            tree = descendants(proc.pid)
            if proc.poll() is not None:
                results[kind].append("finished")
                continue
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            left = wait_for(lambda t=tree: [p for p in t if alive(p)] == [], 5.0)
            if not left:
                problems.append(f"{kind}: processes still alive 5 s after kill -9: {[p for p in tree if alive(p)]}")
                kill_tree(proc, tree)
            results[kind].append("killed")

    threads = [threading.Thread(target=lane, args=(k,)) for k in lanes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not problems, problems
    killed = sum(r.count("killed") for r in results.values())
    assert killed >= 20, results

    ws = mlops.Workspace.open(project, user="auditor")  # any later open reaps
    table = ws.list_runs(limit=10_000, with_metrics=False)
    reaped = ws.audit_events(action="run.reaped", limit=10_000)
    running = stock_running(project)
    print(
        json.dumps(
            {
                "killed": killed,
                "runs": len(table),
                "reaped_events": len(reaped),
                "reaped_runs": len({e.object_id for e in reaped if e.object_type == "run"}),
                "reaped_pipeline_runs": len({e.object_id for e in reaped if e.object_type == "pipeline_run"}),
                "left_running_mlflow": len(running),
                "left_running_table": sum(r.status == "RUNNING" for r in table),
                "by_kind": results,
            }
        )
    )
    assert running == [], running
    assert [r.run_id for r in table if r.status == "RUNNING"] == []
    reaped_ids = {e.object_id for e in reaped}
    for r in table:
        if r.run_id in reaped_ids:  # ended at its last sign of life: after its start, before the reaping
            event = next(e for e in reaped if e.object_id == r.run_id)
            assert r.started <= r.ended <= event.ts, (r, event.ts)
    assert reaped, "killing runs mid-flight must have left something to reap"
    assert all(e.payload["reason"] for e in reaped)
    assert len({e.object_id for e in reaped}) == len(reaped), "a run was reaped twice"
    verification = ws.verify_audit()
    assert verification.ok, verification
    assert integrity(project / ".mlops" / "mlops.db") == "ok"
    assert integrity(project / ".mlops" / "mlflow.db") == "ok"
    with ws.db.read() as conn:
        import sqlalchemy as sa

        from jupyter_mlops.pipelines.schema import pipeline_runs
        from jupyter_mlops.tracking.schema import run_owners

        assert conn.execute(sa.select(pipeline_runs).where(pipeline_runs.c.status == "RUNNING")).all() == []
        open_owners = conn.execute(sa.select(run_owners).where(run_owners.c.closed.is_(None))).all()
    assert [o for o in open_owners if process_state(liveness.owner_identity(o)) == "dead"] == []


def _start_and_wait(cmd: list[str], cwd: Path, env: dict[str, str], flag: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(flag.exists, 120), proc.communicate(timeout=30)
    return proc


@pytest.mark.parametrize("executor", ["local", "dask-in-parent"])
def test_killed_pipeline_leaves_no_worker_and_is_named_by_the_next_run(project: Path, executor: str) -> None:
    pipe = project / "pipe"
    write_notebook(
        pipe / "slow.ipynb",
        [
            "import time, jupyter_mlops as mlops\nrun = mlops.start_run('inner').start()\nopen('slow.flag', 'w').write('1')",
            "time.sleep(3)\nopen('late.txt', 'w').write('written for a dead pipeline')",
        ],
        "n = 1",
    )
    (pipe / "pipeline.yaml").write_text(
        "stages:\n"
        "  prep:\n    notebook: prep.ipynb\n    outputs: [{file: prep.txt}]\n"
        "  slow:\n    notebook: slow.ipynb\n    needs: [prep]\n",
        encoding="utf-8",
    )
    env = env_for(project)
    if executor == "local":
        cmd = [*CLI, "run", "pipeline.yaml"]
    else:
        script = (
            "import sys\nfrom distributed import LocalCluster\nimport jupyter_mlops as mlops\n"
            "if __name__ == '__main__':\n"
            "    with LocalCluster(n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None) as lc:\n"
            "        mlops.Workspace.open(sys.argv[1]).pipelines.run_pipeline('pipeline.yaml', executor=lc.scheduler_address)\n"
        )
        cmd = [sys.executable, "-c", script, str(project)]
    proc = _start_and_wait(cmd, pipe, env, pipe / "slow.flag")
    time.sleep(0.5)
    tree = descendants(proc.pid)
    assert len(tree) >= 2, tree  # at least a worker and its kernel
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    t0 = time.monotonic()
    gone = wait_for(lambda: not any(alive(p) for p in tree), 5.0)
    if not gone:
        kill_tree(proc, tree)
    assert gone, f"still alive 5 s after the parent died: {[p for p in tree if alive(p)]}"
    print(f"{executor}: {len(tree)} processes gone {time.monotonic() - t0:.2f}s after kill -9")
    time.sleep(3.5)
    assert not (pipe / "late.txt").exists(), "a worker finished the stage for a dead pipeline"

    (pipe / "slow.flag").unlink()
    (pipe / "pipeline.yaml").write_text(
        "stages:\n"
        "  prep:\n    notebook: prep.ipynb\n    outputs: [{file: prep.txt}]\n"
        "  slow:\n    notebook: prep.ipynb\n    needs: [prep]\n",
        encoding="utf-8",
    )
    again = subprocess.run(
        [*CLI, "run", "pipeline.yaml", "--max-parallel", "1", "--json"],
        cwd=pipe,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    notes = " ".join(result["notes"])
    ws = mlops.Workspace.open(project)
    killed = [e for e in ws.audit_events(action="run.reaped", object_type="pipeline_run")]
    assert len(killed) == 1
    stale = killed[0].object_id
    assert f"previous run {stale}" in notes and "marked KILLED" in notes, notes
    prep = [s for s in result["stages"] if s["stage"] == "prep"][0]
    assert prep["outcome"] == "CACHED"
    assert "died before it finished" in prep["message"] and "outputs verified" in prep["message"]
    assert stock_running(project) == []
    with ws.db.read() as conn:
        import sqlalchemy as sa

        from jupyter_mlops.pipelines.schema import pipeline_runs

        row = conn.execute(sa.select(pipeline_runs).where(pipeline_runs.c.pipeline_run_id == stale)).one()
    assert row.status == "KILLED" and json.loads(row.summary)["reaped"]["reason"]
    inner = [r for r in ws.list_runs(limit=1000) if r.name == "inner"]
    assert inner and all(r.status == "KILLED" for r in inner)
    assert ws.verify_audit().ok


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_dask_worker_we_did_not_start_stops_the_stage_of_a_dead_pipeline(project: Path) -> None:
    """The worker is not ours and lives on; the stage it runs for the dead pipeline is stopped."""
    pipe = project / "pipe"
    write_notebook(
        pipe / "slow.ipynb",
        [
            "import time, jupyter_mlops as mlops\nrun = mlops.start_run('inner').start()\nopen('slow.flag', 'w').write('1')",
            "time.sleep(4)\nopen('late.txt', 'w').write('written for a dead pipeline')",
        ],
        "n = 1",
    )
    (pipe / "pipeline.yaml").write_text("stages:\n  slow:\n    notebook: slow.ipynb\n", encoding="utf-8")
    env = env_for(project)
    port = _free_port()
    dask = str(Path(sys.executable).parent / "dask")
    sched = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [dask, "worker", f"tcp://127.0.0.1:{port}", "--nworkers", "1", "--nthreads", "1", "--dashboard-address", ":0"],
        cwd=pipe,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        proc = _start_and_wait(
            [*CLI, "run", "pipeline.yaml", "--executor", f"dask://127.0.0.1:{port}"], pipe, env, pipe / "slow.flag"
        )
        kernels = [p for p in descendants(worker.pid) if "ipykernel" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")]
        assert kernels, "the stage's kernel runs under the Dask worker"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert wait_for(lambda: not any(alive(k) for k in kernels), 5.0), "the kernel outlived its pipeline by 5 s"
        time.sleep(4)
        assert not (pipe / "late.txt").exists()
        assert alive(worker.pid), "a worker we did not start is not ours to stop"
        ws = mlops.Workspace.open(project)
        rows = wait_for(lambda: [r for r in ws.list_runs(limit=100) if r.name == "slow"], 10)
        assert rows and rows[0].status == "KILLED", rows
        import sqlalchemy as sa

        from jupyter_mlops.pipelines.schema import stage_runs

        with ws.db.read() as conn:
            stage = wait_for(lambda: conn.execute(sa.select(stage_runs).where(stage_runs.c.stage == "slow")).first(), 10)
        assert stage is not None and stage.outcome == "KILLED" and "is gone" in stage.message, stage
        assert stock_running(project) == []
    finally:
        for p in (worker, sched):
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def test_stage_closes_the_runs_of_a_kernel_that_died(ws: mlops.Workspace) -> None:
    nb = write_notebook(
        ws.settings.root / "dies.ipynb",
        [
            "import os, jupyter_mlops as mlops\nouter = mlops.start_run('left-open').start()",
            "%load_ext jupyter_mlops",
            "%%track tracked-dies\nos.kill(os.getpid(), 9)",
        ],
    )
    rec = ws.pipelines.run_notebook(nb)
    assert rec.outcome == "KILLED"
    children = {r.name: r for r in ws.list_runs(limit=100) if r.parent_run_id == rec.run_id}
    assert set(children) == {"left-open"}
    nested = [r for r in ws.list_runs(limit=100) if r.parent_run_id == children["left-open"].run_id]
    assert [r.name for r in nested] == ["tracked-dies"]
    for r in (children["left-open"], nested[0]):
        assert r.status == "KILLED"
        assert "kernel died" in (r.error or "")
    events = ws.audit_events(action="run.reaped", limit=10)
    assert {e.object_id for e in events} == {children["left-open"].run_id, nested[0].run_id}
    assert stock_running(ws.settings.root) == []


def test_stage_timeout_closes_the_kernel_runs(ws: mlops.Workspace) -> None:
    nb = write_notebook(
        ws.settings.root / "slow.ipynb",
        ["import time, jupyter_mlops as mlops\nrun = mlops.start_run('waits').start()", "time.sleep(300)"],
    )
    # The per-cell limit applies to each cell: the first (imports and the run) gets the same 20 s a
    # loaded 2-core machine needs, the second sleeps past it and is the one that times out.
    rec = ws.pipelines.run_notebook(nb, timeout=20)
    assert rec.outcome == "TIMED_OUT"
    child = [r for r in ws.list_runs(limit=100) if r.parent_run_id == rec.run_id]
    assert [(r.name, r.status) for r in child] == [("waits", "KILLED")]
    # The interrupted kernel shut down cleanly and closed its own run at exit; had it hung, the
    # stage runner would have closed it ("timed out").
    assert "exited while the run was open" in (child[0].error or "") or "timed out" in (child[0].error or "")
    assert stock_running(ws.settings.root) == []


def test_a_run_killed_before_its_row_was_written_is_found_by_its_owner_tag(ws: mlops.Workspace) -> None:
    # The window a kill can hit: the MLflow run exists, the start record never committed.
    script = textwrap.dedent(
        f"""
        import os, sys
        import jupyter_mlops as mlops
        from jupyter_mlops.tracking import runs
        ws = mlops.Workspace.open({str(ws.settings.root)!r}, user="alice")
        runs.ActiveRun._record_start = lambda self, notebook: os.kill(os.getpid(), 9)
        ws.start_run("window").start()
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    window = [r for r in ws.list_runs(limit=10) if r.name == "window"]
    assert len(window) == 1 and window[0].status == "KILLED"
    assert window[0].actor == "alice"
    assert stock_running(ws.settings.root) == []
    event = ws.audit_events(action="run.reaped", object_id=window[0].run_id)[0]
    assert "ended without closing it" in event.payload["reason"]


def test_a_normal_exit_closes_runs_left_open(ws: mlops.Workspace) -> None:
    script = (
        "import jupyter_mlops as mlops\n"
        f"ws = mlops.Workspace.open({str(ws.settings.root)!r}, user='alice')\n"
        "ws.start_run('forgotten').start()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    [run] = [r for r in ws.list_runs(limit=10) if r.name == "forgotten"]
    assert run.status == "KILLED" and "exited while the run was open" in (run.error or "")
    assert ws.audit_events(action="run.reaped") == []  # closed by its own process, not reaped
    assert stock_running(ws.settings.root) == []


def test_process_identity_tells_dead_from_alive() -> None:
    me = ProcessIdentity.current()
    assert process_state(me) == "alive"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with open(f"/proc/{child.pid}/stat") as fh:
            start = fh.read().rsplit(")", 1)[1].split()[19]
        ident = ProcessIdentity(me.host, child.pid, f"ticks:{start}", me.boot_id, me.pid_namespace)
        assert process_state(ident) == "alive"
        reused = ProcessIdentity(me.host, child.pid, f"ticks:{int(start) - 1}", me.boot_id, me.pid_namespace)
        assert process_state(reused) == "dead"  # same PID, another process
    finally:
        child.kill()
        child.wait()
    assert process_state(ident) == "dead"
    assert process_state(ProcessIdentity("another-host", 1, "ticks:1")) == "unknown"
    assert process_state(ProcessIdentity(me.host, me.pid, me.start, "an-earlier-boot", me.pid_namespace)) == "dead"


def test_listing_a_workspace_with_live_owners_does_not_import_mlflow(ws: mlops.Workspace) -> None:
    with ws.start_run("done") as run:
        run.log_metric("m", 1.0)
    code = (
        "import sys, jupyter_mlops as mlops\n"
        f"ws = mlops.Workspace.open({str(ws.settings.root)!r})\n"
        "ws.reap(); ws.list_runs(with_metrics=False)\n"
        "print('mlflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False", out.stderr
