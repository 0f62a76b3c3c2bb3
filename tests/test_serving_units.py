"""Serving parts without a server: deployment.yaml validation, the scoring protocol, routing, analysis, drift."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.serving.drift import dataset_drift, feature_drift
from jupyter_mlops.serving.runtime.analysis import WindowStats, judge, next_step
from jupyter_mlops.serving.runtime.protocol import PayloadError, parse_payload, to_frame
from jupyter_mlops.serving.runtime.router import Route, Router, bucket_of
from jupyter_mlops.serving.runtime.spec import Analysis, parse_duration, parse_spec

SIG = [("colour", "string"), ("age", "long"), ("checks", "long")]


def test_deployment_yaml_example_parses_and_every_problem_is_reported_at_once() -> None:
    spec = parse_spec(
        {
            "name": "arrests",
            "variants": [
                {"model": "arrests-clf@champion", "weight": 90},
                {"model": "arrests-clf@4", "weight": 10, "role": "canary"},
            ],
            "shadow": ["arrests-clf@5"],
            "sticky": {"header": "X-Client-Id"},
            "analysis": {
                "interval": "30s",
                "max_error_rate": 0.01,
                "max_p99_ms": 200,
                "failure_limit": 2,
                "step_weight": 10,
                "max_weight": 50,
            },
        }
    )
    assert spec.canary is not None and spec.canary.model == "arrests-clf@4" and spec.sticky_header == "X-Client-Id"
    assert spec.analysis.interval == 30.0 and spec.shadow[0].role == "shadow"
    with pytest.raises(InvalidInput) as err:
        parse_spec(
            {
                "name": "bad name!",
                "variants": [
                    {"model": "a@1", "weight": 150},
                    {"model": "a@1", "role": "canary"},
                    {"model": "b@2", "role": "canary"},
                ],
                "sticky": {"header": "no spaces allowed"},
                "analysis": {"interval": "soon", "max_wieght": 5},
            }
        )
    problems = err.value.details["problems"]
    text = " | ".join(problems)
    for expected in (
        "name:",
        "variants[0].weight",
        "named twice",
        "at most one variant",
        "sticky.header",
        "analysis.interval",
        "did you mean 'max_weight'",
    ):
        assert expected in text, expected
    assert parse_duration("500ms") == 0.5 and parse_duration("2m") == 120.0


def test_every_mlflow_input_format_gives_the_same_rows() -> None:
    cols = [c for c, _ in SIG]
    bodies = [
        (
            b'{"dataframe_split": {"columns": ["colour", "age", "checks"], "data": [["White", 21, 3], ["Black", 30, 0]]}}',
            "application/json",
        ),
        (
            b'{"dataframe_records": [{"colour": "White", "age": 21, "checks": 3}, {"colour": "Black", "age": 30, "checks": 0}]}',
            "application/json",
        ),
        (b'{"instances": [["White", 21, 3], ["Black", 30, 0]]}', "application/json"),
        (b'{"inputs": {"colour": ["White", "Black"], "age": [21, 30], "checks": [3, 0]}}', "application/json; charset=utf-8"),
        (b"colour,age,checks\nWhite,21,3\nBlack,30,0\n", "text/csv"),
    ]
    frames = []
    for body, ctype in bodies:
        names, rows = parse_payload(body, ctype, cols)
        frame, records = to_frame(names, rows, SIG, from_csv=ctype == "text/csv")
        frames.append(frame)
        assert records[1] == {"colour": "Black", "age": 30, "checks": 0}
    for f in frames[1:]:
        assert f.equals(frames[0])
    assert str(frames[0]["age"].dtype) == "int64"


def test_bad_payloads_name_the_field_and_never_echo_the_value() -> None:
    cols = [c for c, _ in SIG]
    secret = "SECRET-VALUE-123"
    cases = [
        (
            b'{"dataframe_records": [{"colour": "White", "age": "SECRET-VALUE-123", "checks": 1}]}',
            "field 'age' in row 0 must be a number",
        ),
        (b'{"dataframe_records": [{"colour": "White", "age": 3}]}', "missing field 'checks'"),
        (b'{"dataframe_records": [{"colour": 12, "age": 3, "checks": 1}]}', "field 'colour' in row 0 must be text"),
        (b'{"dataframe_records": [{"colour": "x", "age": 3.5, "checks": 1}]}', "must be a whole number"),
        (b'{"records": []}', "exactly one of dataframe_split"),
        (b"not json SECRET-VALUE-123", "not valid JSON"),
    ]
    for body, expected in cases:
        with pytest.raises(PayloadError) as err:
            names, rows = parse_payload(body, "application/json", cols)
            to_frame(names, rows, SIG)
        assert expected in err.value.message, (expected, err.value.message)
        assert secret not in str(err.value) and secret not in repr(err.value.to_dict())
    with pytest.raises(PayloadError) as err:
        parse_payload(b"x", "application/xml", cols)
    assert err.value.details["http_status"] == 415


class _M:
    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.columns = ()


def test_weighted_split_sticky_keys_and_failover() -> None:
    stable, canary = Route(_M("m@1"), 90, "stable"), Route(_M("m@2"), 10, "canary")  # type: ignore[arg-type]
    router = Router([stable, canary])
    random.seed(7)
    n = 20_000
    share = sum(router.choose().ref == "m@2" for _ in range(n)) / n  # type: ignore[union-attr]
    assert abs(share - 0.10) <= 0.01
    sticky = sum(router.choose(f"client-{i}").ref == "m@2" for i in range(n)) / n  # type: ignore[union-attr]
    assert abs(sticky - 0.10) <= 0.01
    assert all(router.choose("client-42") is router.choose("client-42") for _ in range(50))
    assert 0 <= bucket_of("client-42") < 10_000
    assert router.failover(canary) is stable and router.failover(stable) is canary
    for _ in range(5):
        router.record(canary, False)
    assert canary.disabled and all(router.choose(f"c{i}") is stable for i in range(200))
    router.set_disabled("m@1", True)
    assert router.choose() is None


def test_canary_analysis_decides_with_numbers() -> None:
    a = Analysis(max_error_rate=0.01, max_p99_ms=200, failure_limit=2, step_weight=10, max_weight=30, min_requests=20)
    good = WindowStats(requests=100, errors=0, latencies_ms=[5.0] * 100)
    bad = WindowStats(requests=100, errors=20, latencies_ms=[5.0] * 80)
    slow = WindowStats(requests=100, errors=0, latencies_ms=[5.0] * 98 + [450.0, 500.0])
    few = WindowStats(requests=3, errors=3)
    v = judge(bad, good, a)
    assert v.outcome == "fail" and "error rate 0.2000 exceeds stable 0.0000" in v.reasons[0]
    assert judge(slow, good, a).reasons == ("p99 450.0 ms exceeds max_p99_ms 200",)
    assert judge(few, good, a).outcome == "skip"
    assert next_step(v, weight=10, failures=0, analysis=a) == ("hold", 10, 1)
    assert next_step(v, weight=10, failures=1, analysis=a) == ("rollback", 0, 2)
    ok = judge(good, good, a)
    assert next_step(ok, weight=10, failures=0, analysis=a) == ("step", 20, 0)
    assert next_step(ok, weight=30, failures=0, analysis=a) == ("promote", 100, 0)
    labelled = WindowStats(requests=100, latencies_ms=[5.0] * 100, labels=50, correct=30)
    stable_labels = WindowStats(requests=100, latencies_ms=[5.0] * 100, labels=50, correct=45)
    assert "accuracy 0.6000 is below stable 0.9000" in judge(labelled, stable_labels, a).reasons[0]


def test_drift_tests_follow_the_reference_size() -> None:
    rng = random.Random(3)
    ref_small = [rng.gauss(0, 1) for _ in range(500)]
    same = [rng.gauss(0, 1) for _ in range(300)]
    shifted = [rng.gauss(1.5, 1) for _ in range(300)]
    assert feature_drift("x", ref_small, same)["method"] == "ks" and feature_drift("x", ref_small, same)["drift"] is False
    assert feature_drift("x", ref_small, shifted)["drift"] is True
    ref_big = [rng.gauss(0, 1) for _ in range(5000)]
    w = feature_drift("x", ref_big, shifted)
    assert w["method"] == "wasserstein" and w["statistic"] > 1.0 and w["drift"] is True
    cats = ["a"] * 300 + ["b"] * 300
    c = feature_drift("c", cats, ["a"] * 100 + ["b"] * 100)
    assert c["method"] == "chi_square" and c["drift"] is False
    assert feature_drift("c", cats, ["a"] * 190 + ["b"] * 10)["drift"] is True
    js = feature_drift("c", cats * 2, ["a"] * 190 + ["b"] * 10)
    assert js["method"] == "jensen_shannon" and js["drift"] is True
    assert dataset_drift([{"drift": True}, {"drift": False}]) is True
    assert dataset_drift([{"drift": True}, {"drift": False}, {"drift": False}]) is False


def test_the_log_tail_reads_each_line_once_and_waits_for_a_line_to_end(tmp_path: Path) -> None:
    from jupyter_mlops.serving.runtime.predlog import LogTail

    folder = tmp_path / "log"
    folder.mkdir()
    first = folder / "predictions-20260101T000000Z-1-aaaa.jsonl"
    first.write_text('{"kind": "prediction", "n": 1}\n{"kind": "prediction", "n": 2}\n{"kind": "predic')
    tail = LogTail([folder])
    assert [r["n"] for r in tail.read()] == [1, 2]
    assert tail.read() == []
    with open(first, "a") as fh:
        fh.write('tion", "n": 3}\nnot json\n')
    (folder / "predictions-20260101T000100Z-1-bbbb.jsonl").write_text('{"kind": "feedback", "n": 4}\n')
    assert [r["n"] for r in tail.read()] == [3, 4]  # the cut line completed; a garbled one skipped
    assert tail.read() == []


def test_a_model_call_waits_for_company_only_while_company_can_come() -> None:
    import asyncio

    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops.serving.runtime.batcher import Batcher
    from jupyter_mlops.serving.runtime.bundle import ServedModel

    model = ServedModel("m@1", LogisticRegression().fit([[0.0], [1.0]], [0, 1]), (("x", "double"),), (), {})

    async def scenario(traffic: tuple[int, float], n: int) -> tuple[int, int, float]:
        b = Batcher(model, traffic=lambda: traffic, max_wait_ms=50)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        futures = [b.submit({"x": [float(i % 2)]}, 1) for i in range(n)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        done_early = sum(f.done() for f in futures)
        results = await asyncio.gather(*futures)
        assert [r[0] for r in results] == [i % 2 for i in range(n)]
        return done_early, b.calls, loop.time() - t0

    lone = asyncio.run(scenario((1, 500.0), 1))
    assert lone[:2] == (1, 1)  # one client: no waiting
    everyone = asyncio.run(scenario((3, 500.0), 3))
    assert everyone[:2] == (3, 1)  # all three active clients are in: one call, at once
    waiting = asyncio.run(scenario((8, 500.0), 3))
    assert waiting[0] == 0 and waiting[1] == 1 and waiting[2] >= 0.045  # five more could come: it waits
    seldom = asyncio.run(scenario((8, 2.0), 1))
    assert seldom[:2] == (1, 1)  # 2 requests/s: company is unlikely within 50 ms


def test_a_hostile_config_or_address_is_refused_without_echoing_it(tmp_path: Path) -> None:
    import socket

    from jupyter_mlops.errors import Conflict
    from jupyter_mlops.serving.runtime import check_address
    from jupyter_mlops.serving.runtime.spec import load_spec

    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRETHASH:20228:0:99999:7:::\nname: x\n")
    with pytest.raises(InvalidInput) as err:
        load_spec(secret)
    assert "SECRETHASH" not in str(err.value) and "a key that is not a name" in str(err.value)
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(InvalidInput, match="is not a deployment") as err:
        load_spec(passwd)
    assert "/root" not in str(err.value)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [SECRET-VALUE\n")
    with pytest.raises(InvalidInput, match=r"not valid YAML at line \d+, column \d+") as err:
        load_spec(broken)
    assert "SECRET-VALUE" not in str(err.value)
    for port in (0, 99999, "8080", True):
        with pytest.raises(InvalidInput, match="--port must be a whole number"):
            check_address("127.0.0.1", port)  # type: ignore[arg-type]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(Conflict, match="is in use"):
            check_address("127.0.0.1", taken.getsockname()[1])
