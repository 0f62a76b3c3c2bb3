"""Schemathesis fuzzes every route of the published OpenAPI document against a real ``jupyter lab``: no 5xx.

The lab runs as user ``bob`` (token auth, XSRF on); the document is fetched from the server
itself, so the fuzz covers exactly what the server publishes.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from harness import LabServer
from hypothesis import HealthCheck, given, settings

import jupyter_mlops as mlops


@pytest.fixture(scope="module")
def fuzz_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    root = tmp_path_factory.mktemp("fuzz") / "project"
    ws = mlops.init(root, user="alice")
    for i in range(3):
        with ws.start_run(f"r{i}", experiment="fuzz", params={"C": i}, source={"notebook": "nb.ipynb"}) as run:
            run.log_metric("accuracy", i / 10)
    server = LabServer(root, tmp_path_factory.mktemp("fuzz-lab"), username="bob").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_lab: LabServer) -> Any:
    req = urllib.request.Request(
        f"{fuzz_lab.url}/jupyter-mlops/api/v1/openapi.json", headers={"Authorization": f"token {fuzz_lab.token}"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        document = json.loads(resp.read())
    return schemathesis.openapi.from_dict(document)


def test_no_server_errors(api_schema: Any, fuzz_lab: LabServer) -> None:
    headers = {"Authorization": f"token {fuzz_lab.token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call(base_url=fuzz_lab.url, headers=headers, timeout=60)
            where = (case.method, case.formatted_path, case.query, response.status_code, response.text[:300])
            assert response.status_code < 500, where
            assert response.headers.get("content-type", [""])[0].startswith("application/json"), where
            if response.status_code >= 400:
                body = response.json()
                assert {"error", "message"} <= set(body) and "Traceback" not in response.text, where

        check()
