"""The gateway as its users meet it: a real ``jupyter-mlops serve`` process on loopback.

One project (four model versions built through the public API) is shared by the module; each
test starts its own gateway process on a free port.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from serving_helpers import FEATURES, GatewayProcess, arrests, build_serving_project, jupyter_mlops, records
from serving_load import json_request, run_load

import jupyter_mlops as mlops
from jupyter_mlops.serving.runtime.predlog import input_sha256
from jupyter_mlops.serving.service import ServingService


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_serving_project(tmp_path_factory.mktemp("serving") / "project")


def _serve(project: dict[str, Any], *args: str) -> GatewayProcess:
    import sys

    root = project["root"]
    return GatewayProcess([sys.executable, "-m", "jupyter_mlops.cli.main", "-C", str(root), "serve", *args], cwd=root.parent)


def _ws(project: dict[str, Any], user: str = "alice") -> mlops.Workspace:
    return mlops.Workspace.open(project["root"], user=user)


def _token(project: dict[str, Any], name: str) -> str:
    return (project["root"] / ".mlops" / "serving" / name / "admin-token").read_text().strip()


def test_unapproved_versions_are_refused_with_the_missing_step(project: dict[str, Any]) -> None:
    ws = _ws(project)
    head = ws.verify_audit().head_seq
    for verb in (
        ["serve", "arrests-clf@4", "--name", "refused"],
        ["package", "arrests-clf@4", "--out", str(project["root"].parent / "nope")],
    ):
        done = jupyter_mlops(project["root"], *verb)
        assert done.returncode == 5, done.stderr
        assert "arrests-clf@4 has no approval: build its model card (mlops.build_card), request review" in done.stderr
    assert not (project["root"].parent / "nope").exists()
    assert ServingService(ws).control("refused").exists() is False and ws.verify_audit().head_seq == head


def test_scoring_protocol_headers_validation_health_metrics_and_the_log(project: dict[str, Any]) -> None:
    X = project["X_test"]
    rows = records(X, 5)
    model = _ws(project).models.load_model("arrests-clf@1")
    expected = [int(v) for v in model.predict(X.iloc[:5])]
    with _serve(project, "arrests-clf@1", "--name", "proto") as gw, httpx.Client(base_url=gw.url, timeout=10) as c:
        split = {"columns": FEATURES, "data": [[r[f] for f in FEATURES] for r in rows]}
        csv = ",".join(FEATURES) + "\n" + "\n".join(",".join(str(r[f]) for f in FEATURES) for r in rows) + "\n"
        answers = [
            c.post("/invocations", json={"dataframe_split": split}),
            c.post("/invocations", json={"dataframe_records": rows}),
            c.post("/invocations", json={"instances": split["data"]}),
            c.post("/invocations", json={"inputs": {f: [r[f] for r in rows] for f in FEATURES}}),
            c.post("/invocations", content=csv, headers={"Content-Type": "text/csv"}),
        ]
        for r in answers:
            assert r.status_code == 200, r.text
            assert r.json() == {"predictions": expected}
            assert r.headers["X-Model-Version"] == "arrests-clf@1" and len(r.headers["X-Request-Id"]) == 32
        bad = c.post("/invocations", json={"dataframe_records": [{**rows[0], "age": "Black-SECRET"}]})
        assert bad.status_code == 400 and bad.json()["field"] == "age" and "Black-SECRET" not in bad.text
        missing = c.post("/invocations", json={"dataframe_records": [{k: v for k, v in rows[0].items() if k != "checks"}]})
        assert missing.status_code == 400 and missing.json()["message"].startswith("missing field 'checks'")
        assert c.post("/invocations", content=b"<xml/>", headers={"Content-Type": "application/xml"}).status_code == 415
        assert c.get("/health").json()["status"] == "ok"
        assert c.get("/ready").json() == {"ready": True, "deployment": "proto", "live": ["arrests-clf@1"], "stopped": False}
        metrics = c.get("/metrics").text
        assert (
            'mlops_requests_total{deployment="proto",model_version="arrests-clf@1",status="200",variant="stable"} 5.0' in metrics
        )
        assert 'status="400"' in metrics and "mlops_request_latency_seconds_bucket" in metrics
        assert c.get("/admin/status").status_code == 401 and c.post("/admin/stop").status_code == 401
        one = c.post("/invocations", json={"dataframe_records": rows[:1]})
        rid = one.headers["X-Request-Id"]
        fb = c.post(
            "/feedback",
            json={"request_id": rid, "label": expected[0]},
            headers={"Authorization": f"Bearer {_token(project, 'proto')}"},
        )
        assert fb.status_code == 202 and fb.json() == {"accepted": 1, "matched": 1}
    # the log: sensitive columns masked, input hash of the full rows, label joined to its prediction
    logs = sorted((project["root"] / ".mlops" / "serving" / "proto" / "log").glob("*.jsonl"))
    recs = [json.loads(line) for p in logs for line in p.read_text().splitlines()]
    mine = next(r for r in recs if r.get("request_id") == rid and r["kind"] == "prediction")
    assert mine["masked"] == ["colour", "sex"] and {r["colour"] for r in mine["inputs"]} == {"***"}
    assert mine["input_sha256"] == input_sha256(rows[:1]) and mine["model_version"] == "arrests-clf@1"
    text = "\n".join(p.read_text() for p in logs)
    assert '"colour":"White"' not in text and '"sex":"Male"' not in text and "Black-SECRET" not in text
    assert any(r["kind"] == "feedback" and r["correct"] is True for r in recs)
    # trace: prediction -> model -> review -> deployment -> run -> cell -> data
    done = jupyter_mlops(project["root"], "--json", "trace", rid)
    assert done.returncode == 0, done.stderr
    steps = {s["step"]: s for s in json.loads(done.stdout)["steps"]}
    assert list(steps) == ["prediction", "model", "review", "deployment", "run", "cell", "data"]
    assert [h["actor"] for h in steps["review"]["history"]] == ["alice", "bob"]
    assert steps["cell"]["notebook"] == "train.ipynb" and steps["cell"]["cell_id"] == "cell-train"
    assert steps["data"]["versions"][0]["data_version"] == "arrests@1" and len(steps["data"]["versions"][0]["fingerprint"]) == 64
    assert steps["prediction"]["labels"] == [expected[0]]
    assert jupyter_mlops(project["root"], "trace", "0" * 32).returncode == 4
    report = ServingService(_ws(project)).monitor("proto")
    assert report.totals["requests"] == 9 and report.totals["client_errors"] == 3 and report.variants[0]["accuracy"] == 1.0
    assert {d["feature"]: d.get("note") for d in report.drift}["colour"] == "sensitive: values are not stored"
    assert report.drift_reference == "arrests@1"
    from jupyter_mlops.widgets import dashboard

    board = dashboard("monitor", _ws(project), deployment="proto")
    assert board.last_error is None and "rejected inputs" in board.summary.value and "arrests@1" in board.summary.value
    assert board.split_chart.spec["categories"] == ["arrests-clf@1"] and board.split_chart.spec["series"][0]["values"] == [100.0]
    assert "sensitive: values are not stored" in board.tables.value and "year" in board.drift_chart.spec["categories"]


def test_stop_switch_from_the_cli_and_from_rest_within_five_seconds_and_audited(project: dict[str, Any]) -> None:
    row = records(project["X_test"], 1)
    with _serve(project, "arrests-clf@1", "--name", "stopper") as gw, httpx.Client(base_url=gw.url, timeout=10) as c:
        assert c.post("/invocations", json={"dataframe_records": row}).status_code == 200
        t0 = time.monotonic()
        done = jupyter_mlops(project["root"], "serve", "stop", "stopper", "--reason", "complaint #12")
        assert done.returncode == 0, done.stderr
        while c.post("/invocations", json={"dataframe_records": row}).status_code != 503:
            assert time.monotonic() - t0 < 5, "the stop switch did not take effect within 5 s"
            time.sleep(0.05)
        cli_seconds = time.monotonic() - t0
        stopped = c.post("/invocations", json={"dataframe_records": row})
        assert stopped.json()["error_code"] == "SERVING_STOPPED" and "complaint #12" in stopped.json()["message"]
        assert "by alice" in stopped.json()["message"] and c.get("/ready").status_code == 503
        auth = {"Authorization": f"Bearer {_token(project, 'stopper')}"}
        assert c.post("/admin/resume", headers=auth).json()["stopped"] is False
        assert c.post("/invocations", json={"dataframe_records": row}).status_code == 200
        t1 = time.monotonic()
        assert c.post("/admin/stop", json={"reason": "drill"}, headers=auth).status_code == 200
        assert c.post("/invocations", json={"dataframe_records": row}).status_code == 503
        rest_seconds = time.monotonic() - t1
    assert cli_seconds < 5 and rest_seconds < 1
    ws = _ws(project)
    events = [
        e
        for e in ws.audit_events(object_type="deployment", object_id="stopper")
        if e.action in ("serving.stop", "serving.resume")
    ]
    assert [e.action for e in events] == ["serving.stop", "serving.resume", "serving.stop"]
    # newest first: the REST stop, the REST resume, the CLI stop
    assert (
        events[0].payload["via"] == "rest"
        and events[0].payload["before"]["stopped"] is False
        and events[0].payload["after"]["stopped"] is True
    )
    assert events[-1].payload["via"] == "cli"
    assert events[0].payload["reason"] == "drill" and events[-1].payload["reason"] == "complaint #12"
    # a restarted gateway stays stopped
    with _serve(project, "arrests-clf@1", "--name", "stopper") as gw, httpx.Client(base_url=gw.url, timeout=10) as c:
        assert c.post("/invocations", json={"dataframe_records": row}).status_code == 503
    assert ws.verify_audit().ok


def test_ab_shadow_sticky_and_a_canary_rolled_back_on_its_own(project: dict[str, Any]) -> None:
    root = project["root"]
    config = root.parent / "ab.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "ab",
                "variants": [{"model": "arrests-clf@1", "weight": 50}, {"model": "arrests-clf@2", "weight": 50}],
                "shadow": ["arrests-clf@3"],
                "sticky": {"header": "X-Client-Id"},
                "analysis": {"interval": "1s", "failure_limit": 2, "step_weight": 20, "max_weight": 60, "min_requests": 10},
            }
        )
    )
    X = project["X_test"]
    black = X[X["colour"] == "Black"]
    rows = records(black, 40)
    with _serve(project, "--config", str(config)) as gw, httpx.Client(base_url=gw.url, timeout=10) as c:
        seen = {
            c.post("/invocations", json={"dataframe_records": rows[:1]}, headers={"X-Client-Id": "client-7"}).headers[
                "X-Model-Version"
            ]
            for _ in range(30)
        }
        assert len(seen) == 1
        for i in range(20):  # the shadow (white-only encoder) fails on these rows; callers never see it
            assert c.post("/invocations", json={"dataframe_records": rows[i : i + 1]}).status_code == 200
        # a canary that fails in production: the white-only encoder raises on other values
        done = jupyter_mlops(root, "deploy", "arrests-clf@3", "--canary", "20", "--name", "ab")
        assert done.returncode == 5 and "already serves" in done.stderr  # it is the shadow
        ws = _ws(project)
        ServingService(ws).admin("ab", "weights", {"weights": {"arrests-clf@2": 0}})
        ws_state = ServingService(ws).control("ab")
        ws_state.update("deployment.update", lambda s: {**s, "spec": {**s["spec"], "shadow": []}})
        done = jupyter_mlops(root, "deploy", "arrests-clf@3", "--canary", "20", "--name", "ab")
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 30
        reqs = [(json_request("/invocations", {"dataframe_records": rows[i % 40 : i % 40 + 1]}), "valid") for i in range(150)]
        while time.monotonic() < deadline:
            result = run_load(gw.port, reqs, rate=150)
            assert result.statuses() == {200: 150}, result.statuses()  # canary failures fail over to stable
            variants = {v["model"]: v["role"] for v in ServingService(ws).control("ab").load()["spec"]["variants"]}
            if "arrests-clf@3" not in variants:
                break
        else:
            pytest.fail("the failing canary was not rolled back within 30 s")
    events = [e for e in ws.audit_events(object_type="deployment", object_id="ab") if e.action.startswith("deployment.")]
    rollback = next(e for e in events if e.action == "deployment.rollback")
    assert rollback.payload["verdict"]["canary"]["error_rate"] > 0.5 and rollback.payload["failed_windows"] == 2
    assert any("circuit breaker" in r or "error rate" in r for r in rollback.payload["verdict"]["reasons"])
    assert rollback.payload["before"]["variants"][-1]["model"] == "arrests-clf@3"
    assert any(e.action == "deployment.canary_failed_window" for e in events)
    log = root / ".mlops" / "serving" / "ab" / "log"
    recs = [json.loads(line) for p in log.glob("*.jsonl") for line in p.read_text().splitlines()]
    assert sum(1 for r in recs if r["kind"] == "shadow" and r["status"] == 500) >= 20
    edges = ws.lineage("deployment", "ab").edges
    assert {e.src_id for e in edges if e.relation == "deployed_to"} >= {"arrests-clf@1", "arrests-clf@2", "arrests-clf@3"}


def test_a_healthy_canary_steps_up_is_promoted_and_the_serving_alias_follows(project: dict[str, Any]) -> None:
    root = project["root"]
    _ws(project).models.promote("arrests-clf@1")  # champion -> 1
    config = root.parent / "promote.yaml"
    config.write_text(yaml.safe_dump({"name": "promo", "variants": ["arrests-clf@champion"],
                                      "analysis": {"interval": "1s", "step_weight": 20, "max_weight": 40, "min_requests": 5}}))  # fmt: skip
    rows = records(project["X_test"], 100)
    with _serve(project, "--config", str(config)) as gw:
        assert jupyter_mlops(root, "deploy", "arrests-clf@2", "--canary", "20", "--name", "promo").returncode == 0
        ws = _ws(project)
        deadline = time.monotonic() + 30
        reqs = [(json_request("/invocations", {"dataframe_records": rows[i % 100 : i % 100 + 1]}), "valid") for i in range(100)]
        while time.monotonic() < deadline:
            assert run_load(gw.port, reqs, rate=100).statuses() == {200: 100}
            if [v["model"] for v in ServingService(ws).control("promo").load()["spec"]["variants"]] == ["arrests-clf@2"]:
                break
        else:
            pytest.fail("the healthy canary was not promoted within 30 s")
    actions = [e.action for e in reversed(ws.audit_events(object_type="deployment", object_id="promo"))]
    assert (
        actions.index("deployment.canary_start") < actions.index("deployment.canary_step") < actions.index("deployment.promote")
    )
    step = next(e for e in ws.audit_events(action="deployment.canary_step") if e.object_id == "promo")
    assert (step.payload["weight_before"], step.payload["weight_after"]) == (20, 40) and step.payload["verdict"][
        "outcome"
    ] == "pass"
    # the deployment was declared with arrests-clf@champion: the alias moved to the promoted canary,
    # through the registry (its approval gate, its audit event), so a restart serves what was promoted
    promote = next(e for e in ws.audit_events(action="deployment.promote") if e.object_id == "promo")
    assert promote.payload["aliases"] == {"moved": ["champion"], "not_moved": []}
    assert ws.models.get("arrests-clf@champion").ref == "arrests-clf@2"
    move = ws.audit_events(action="model.promote")[0]
    assert move.object_id == "arrests-clf@2" and move.payload["before"] == {"version": 1} and move.seq < promote.seq
    head = ws.verify_audit().head_seq
    ServingService(ws).prepare(config=config)
    assert ws.verify_audit().head_seq == head  # nothing to change: champion is what the deployment serves
    assert ServingService(ws).control("promo").load()["spec"]["variants"][0]["alias"] == "champion"


def test_load_invalid_payloads_and_a_variant_killed_mid_test(project: dict[str, Any]) -> None:
    """Bounded versions of the issue's load and fault tests (the 60 s run is benchmarks/bench_serve.py)."""
    root = project["root"]
    config = root.parent / "load.yaml"
    config.write_text(
        yaml.safe_dump(
            {"name": "load", "variants": [{"model": "arrests-clf@1", "weight": 90}, {"model": "arrests-clf@2", "weight": 10}]}
        )
    )
    rows = records(project["X_test"], 200)
    valid = [(json_request("/invocations", {"dataframe_records": [rows[i % 200]]}), "valid") for i in range(2000)]
    mixed = [
        (json_request("/invocations", {"dataframe_records": [{**rows[i % 200], "age": "x"}]}), "invalid")
        if i % 10 == 0
        else valid[i]
        for i in range(2000)
    ]
    # the latency goal (p99 <= 100 ms over 60 s) is benchmarks/bench_serve.py's: on a shared 2-core
    # machine a test can only catch a stall (a second), not measure a percentile
    with _serve(project, "--config", str(config)) as gw:
        steady = run_load(gw.port, valid, rate=200)
        assert steady.statuses() == {200: 2000} and steady.summary()["p99_ms"] <= 1000, steady.summary()
        share = sum(o.headers["x-model-version"] == "arrests-clf@2" for o in steady.outcomes) / 2000
        assert abs(share - 0.10) <= 0.03
        with_bad = run_load(gw.port, mixed, rate=200)
        assert with_bad.statuses("invalid") == {400: 200} and with_bad.statuses("valid") == {200: 1800}
        assert with_bad.summary()["p99_ms"] <= 1000
        # kill the 10% variant mid-test: its traffic fails over, nothing hangs, no error reaches a caller
        import threading

        auth = {"Authorization": f"Bearer {_token(project, 'load')}"}
        killer = threading.Timer(
            2.0, lambda: httpx.post(gw.url + "/admin/variants/disable", json={"model": "arrests-clf@2"}, headers=auth, timeout=5)
        )
        killer.start()
        killed = run_load(gw.port, valid[:1000], rate=200, timeout=5)
        killer.join()
        assert killed.statuses() == {200: 1000} and killed.errors == []
        assert {o.headers["x-model-version"] for o in killed.outcomes[-300:]} == {"arrests-clf@1"}
        httpx.post(gw.url + "/admin/variants/disable", json={"model": "arrests-clf@1"}, headers=auth, timeout=5)
        none_left = run_load(gw.port, valid[:100], rate=200, timeout=5)
        assert none_left.statuses() == {503: 100} and max(none_left.latencies(status=503)) < 1000
        t0 = time.monotonic()
        gw.kill()  # the whole process dies: clients get an error at once, not a hang
        dead = run_load(gw.port, valid[:20], rate=None, timeout=5)
        assert dead.statuses() == {0: 20} and time.monotonic() - t0 < 5


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _wait(what: str, check: Any, timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout:.0f} s")


def test_drift_is_watched_in_its_own_process_and_a_killed_gateway_restarts_cleanly(project: dict[str, Any]) -> None:
    """The monitoring job next to the gateway records drift alerts; kill -9 loses no state and leaves no process."""
    root = project["root"]
    home = root / ".mlops" / "serving" / "drifty"
    rows = records(arrests().sample(300, random_state=0)[FEATURES], 300)  # the training distribution
    drifted = [{**r, "age": r["age"] + 40, "year": r["year"] + 15, "checks": r["checks"] + 8} for r in rows]
    ws = _ws(project)
    gw = _serve(project, "arrests-clf@1", "--name", "drifty", "--monitor-every", "1s").start()
    try:
        job = _wait("the monitoring job started", lambda: _children(gw.proc.pid))  # type: ignore[union-attr]
        assert len(job) == 1 and os.getpriority(os.PRIO_PROCESS, job[0]) >= 10  # below the gateway's priority
        with httpx.Client(base_url=gw.url, timeout=10) as c:
            assert c.post("/invocations", json={"dataframe_records": rows}).status_code == 200
            _wait("a report on undrifted traffic", lambda: "no drift" in (home / "monitor.log").read_text())
            assert c.post("/invocations", json={"dataframe_records": drifted}).status_code == 200
            c.post(
                "/admin/stop", json={"reason": "drift drill"}, headers={"Authorization": f"Bearer {_token(project, 'drifty')}"}
            )
        assert jupyter_mlops(root, "deploy", "arrests-clf@2", "--canary", "20", "--name", "drifty").returncode == 0

        def alert() -> Any:
            return next(
                (e for e in ws.audit_events(object_type="deployment", object_id="drifty") if e.action == "serving.alert"), None
            )

        event = _wait("a drift alert in the audit trail", alert)
        assert event.payload["metric"] == "dataset_drift" and set(event.payload["features"]) == {"age", "year", "checks"}
        assert event.payload["reference"] == "arrests@1" and event.actor == "alice"
        # kill -9 the gateway alone: its monitoring job notices and ends; nothing is left running
        os.kill(gw.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        gw.proc.wait(timeout=5)  # type: ignore[union-attr]
        _wait("the orphaned monitoring job to end", lambda: not Path(f"/proc/{job[0]}").exists() or _zombie(job[0]), 10)
    finally:
        gw.kill()
    before = ServingService(ws).control("drifty").load()
    assert before["stopped"] is True and before["stop"]["reason"] == "drift drill"
    assert [v["weight"] for v in before["spec"]["variants"]] == [80, 20]
    # `serve --name` restarts the recorded deployment as it is: stopped, with its canary at 20%
    with _serve(project, "--name", "drifty", "--no-monitor") as again, httpx.Client(base_url=again.url) as c:
        assert ServingService(ws).control("drifty").load() == before
        assert c.post("/invocations", json={"dataframe_records": rows[:1]}).status_code == 503  # still stopped
        assert _children(again.proc.pid) == []  # type: ignore[union-attr]
        auth = {"Authorization": f"Bearer {_token(project, 'drifty')}"}
        assert c.post("/admin/resume", headers=auth).status_code == 200
        assert c.post("/invocations", json={"dataframe_records": rows[:1]}).status_code == 200
    assert ws.verify_audit().ok


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
