"""One run, three front-ends: the experiments dashboard, the REST API behind the side panel and the CLI
show the same start, end, duration, status, actor, parameters and metrics, and a bad filter is the
same error in each."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from harness import UserTokensIdentityProvider

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main
from jupyter_mlops.widgets.experiments import ExperimentsDashboard, run_detail_html

pytest_plugins = ("pytest_jupyter.jupyter_server",)

API = "jupyter-mlops/api/v1"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[mlops.Workspace, str]:
    ws = mlops.init(tmp_path_factory.mktemp("everywhere") / "project", user="alice")
    with ws.start_run("train", experiment="same", params={"C": 0.5, "penalty": "l2"}, tags={"team": "risk"}) as run:
        run.log_metrics({"accuracy": 0.8125, "loss": 0.40625})
    return ws, run.run_id


@pytest.fixture
def jp_server_config(recorded: tuple[mlops.Workspace, str]) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlops": True},
            "allow_unauthenticated_access": False,
            "identity_provider_class": UserTokensIdentityProvider,
        },
        "UserTokensIdentityProvider": {"user_tokens": {"alice-token": "alice"}},
        "JupyterMlops": {"root": str(recorded[0].settings.root)},
    }


async def _rest(jp_fetch: Any, *path: str, **params: Any) -> tuple[int, Any]:
    r = await jp_fetch(API, *path, params=params, headers={"Authorization": "token alice-token"}, raise_error=False)
    return r.code, json.loads(r.body.decode())


def _cli(root: str, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(["-C", root, "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def _second(iso: str) -> str:
    """An ISO time as the dashboards print it (ISO 8601 to the second, with the viewer's offset)."""
    from jupyter_mlops.widgets.common import iso_time

    return iso_time(iso)


async def test_dashboard_side_panel_and_cli_show_the_same_numbers_for_one_run(
    jp_fetch: Any, recorded: tuple[mlops.Workspace, str], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, run_id = recorded
    # what the tracking store holds, read around the read path
    raw = ws.tracking.get_run(run_id)
    started = datetime.fromtimestamp(raw["start_time"] / 1000, UTC)
    duration = round((raw["end_time"] - raw["start_time"]) / 1000, 3)
    assert duration > 0

    board = ExperimentsDashboard(ws, experiment="same")
    [row] = board.table.rows
    detail_html, _ = run_detail_html(ws, run_id)

    code, page = await _rest(jp_fetch, "runs", experiment="same")
    assert code == 200
    [listed] = page["runs"]
    code, shown = await _rest(jp_fetch, "runs", run_id)
    assert code == 200

    code, cli_page = _cli(str(ws.settings.root), capsys, "runs", "list", "--experiment", "same")
    assert code == 0
    [cli_listed] = cli_page["runs"]
    code, cli_shown = _cli(str(ws.settings.root), capsys, "runs", "show", run_id)
    assert code == 0

    rows = {"REST list": listed, "REST detail": shown, "CLI list": cli_listed, "CLI show": cli_shown}
    for where, r in rows.items():
        assert r["run_id"] == run_id, where
        assert r["duration_s"] == duration, where
        assert datetime.fromisoformat(r["started"]) == started.replace(microsecond=started.microsecond // 1000 * 1000), where
        assert r["ended"] == listed["ended"] and r["started"] == listed["started"], where
        assert (r["status"], r["actor"], r["experiment"]) == ("FINISHED", "alice", "same"), where
        assert r["params"] == {"C": "0.5", "penalty": "l2"}, where
        assert {k: v for k, v in r["metrics"].items() if not k.startswith("mlops.")} == {"accuracy": 0.8125, "loss": 0.40625}
        assert r["tags"] == {"team": "risk"}, where
    assert row["id"] == run_id and row["seconds"] == duration and row["started"] == _second(listed["started"])
    assert (row["status"], row["actor"], row["m:accuracy"], row["m:loss"], row["p:C"]) == (
        "FINISHED",
        "alice",
        0.8125,
        0.40625,
        "0.5",
    )
    assert f"<td>{duration}</td>" in detail_html and _second(listed["ended"]) in detail_html
    # the text the CLI prints carries the same duration
    main(["-C", str(ws.settings.root), "runs", "list", "--experiment", "same"])
    assert f"{duration:g}" in capsys.readouterr().out


async def test_a_bad_filter_is_the_same_error_in_every_front_end(
    jp_fetch: Any, recorded: tuple[mlops.Workspace, str], capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _ = recorded
    message = "unknown token '>>' in filter 'metrics.accuracy >> 0.8'; write e.g. metrics.accuracy > 0.8"
    board = ExperimentsDashboard(ws, experiment="same")
    board.query.value = "metrics.accuracy >> 0.8"
    assert board.last_error is not None and message in board.last_error
    code, body = await _rest(jp_fetch, "runs", filter="metrics.accuracy >> 0.8")
    # the same message: the server names plain input (no markup characters) in its error bodies
    assert (code, body["error"], body["field"], body["message"]) == (400, "InvalidInput", "filter", message)
    code, body = await _rest(jp_fetch, "runs", filter="metrics.accuracy >> '<b>'")
    assert code == 400 and "<b>" not in body["message"]  # input that could hold markup is still replaced
    code, body = _cli(str(ws.settings.root), capsys, "runs", "list", "--filter", "metrics.accuracy >> 0.8")
    assert code == 2 and body["error"] == "InvalidInput" and body["message"] == message
    code, body = _cli(str(ws.settings.root), capsys, "runs", "list", "--filter", "metrics.accuracy > 0.8")
    assert code == 0 and [r["name"] for r in body["runs"]] == ["train"]
