"""Schemathesis fuzzes every route of the published OpenAPI document against a real ``jupyter lab``: no 5xx.

The lab runs as user ``bob`` (token auth, XSRF on); the document is fetched from the server
itself, so the fuzz covers exactly what the server publishes. Each route gets 200 generated
requests, half valid for its schema and half deliberately invalid (negative mode: wrong types,
patterns broken, non-ASCII digits), bounded so the run stays within about a minute.
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
from schemathesis import GenerationMode

import jupyter_mlops as mlops


@pytest.fixture(scope="module")
def fuzz_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    root = tmp_path_factory.mktemp("fuzz") / "project"
    ws = mlops.init(root, user="alice")
    for i in range(3):
        with ws.start_run(f"r{i}", experiment="fuzz", params={"C": i}, source={"notebook": "nb.ipynb"}) as run:
            run.log_metric("accuracy", i / 10)
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    ws.models.log_model(LogisticRegression(max_iter=300).fit(X, y), "iris", X_example=X)
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


#: Examples per route and generation mode: 100 valid + 100 invalid = 200 requests per route.
EXAMPLES = 100


def test_no_server_errors(api_schema: Any, fuzz_lab: LabServer) -> None:
    headers = {"Authorization": f"token {fuzz_lab.token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    seen: dict[str, int] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def check(case: Any) -> None:
                response = case.call(base_url=fuzz_lab.url, headers=headers, timeout=60)
                seen[str(response.status_code)] = seen.get(str(response.status_code), 0) + 1
                where = (case.method, case.formatted_path, case.query, response.status_code, response.text[:300])
                assert response.status_code < 500, where
                assert response.headers.get("content-type", [""])[0].startswith("application/json"), where
                if response.status_code >= 400:
                    body = response.json()
                    assert {"error", "message"} <= set(body) and "Traceback" not in response.text, where

            check()
    print("schemathesis responses by status:", json.dumps(dict(sorted(seen.items()))))
    assert not [code for code in seen if int(code) >= 500]
    assert seen.get("400", 0) > 0  # the negative cases really were refused as bad input


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("models/iris/versions/%C2%B2", 400),  # superscript two: str.isdigit() is True, int() fails
        ("models/iris/versions/%D9%A1", 400),  # Arabic-Indic one: int() reads it as 1
        ("models/iris/versions/%EF%BC%91", 400),  # fullwidth one
        ("models/iris/versions/1", 200),
        ("models/%D9%A1ris/versions/1", 400),
        ("runs/%D9%A1" + "0" * 31, 400),
        ("runs?limit=%D9%A3", 400),
        ("audit/events?limit=%D9%A3", 400),
        ("data/%C3%A9/versions", 400),
    ],
)
def test_path_and_query_parameters_are_ascii(fuzz_lab: LabServer, path: str, status: int) -> None:
    code, body = fuzz_lab.api(path)
    assert code == status, body
    if status == 400:
        assert body["error"] == "InvalidInput" and "Traceback" not in json.dumps(body)


def test_post_routes_validate_path_parameters_too(fuzz_lab: LabServer) -> None:
    code, body = fuzz_lab.api("reviews/iris/%D9%A1/approve", method="POST", body={"comment": "x"})
    assert code == 400 and body["field"] == "version", body
