"""OpenLineage run events from real runs: written as JSON lines and posted to a real HTTP endpoint."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

import jupyter_mlops as mlops


class _Collector(BaseHTTPRequestHandler):
    received: list[dict[str, object]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_runs_become_start_complete_and_fail_events(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ws = mlops.init(tmp_path / "project", user="alice")
        with open(ws.settings.home / "config.toml", "a", encoding="utf-8") as fh:
            fh.write(f'\n[openlineage]\nfile = "lineage.jsonl"\nurl = "http://127.0.0.1:{server.server_port}/api/v1/lineage"\n')
        ws = mlops.Workspace.open(ws.settings.root, user="alice")
        with ws.start_run("good") as run:
            run.log_metric("m", 1.0)
        with pytest.raises(RuntimeError), ws.start_run("bad") as bad:
            raise RuntimeError("boom")
    finally:
        server.shutdown()
    events = [json.loads(line) for line in (ws.settings.root / "lineage.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(e["eventType"], e["job"]["name"]) for e in events] == [
        ("START", "good"),
        ("COMPLETE", "good"),
        ("START", "bad"),
        ("FAIL", "bad"),
    ]
    assert events[0]["run"]["runId"] == str(uuid.UUID(hex=run.run_id)) == events[1]["run"]["runId"]
    assert events[3]["run"]["runId"] == str(uuid.UUID(hex=bad.run_id))
    assert "boom" in events[3]["run"]["facets"]["errorMessage"]["message"]
    assert events[0]["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/OpenLineage.json")
    assert events[0]["job"]["facets"]["jobType"]["processingType"] == "BATCH"
    assert _Collector.received == events
