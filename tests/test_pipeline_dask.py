"""The Dask executor against a real LocalCluster: same recorded results as the local pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_pipeline_run import make_pipeline

import jupyter_mlops as mlops
from jupyter_mlops.errors import PipelineError


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from distributed import LocalCluster

    from jupyter_mlops.executors.base import ensure_spawnable_main

    ensure_spawnable_main()  # earlier tests in this process may have left IPython's __main__ behind
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as lc:
        yield lc.scheduler_address


def test_dask_matches_local(ws: mlops.Workspace, cluster: str) -> None:
    path = make_pipeline(ws.settings.root)
    on_dask = ws.pipelines.run_pipeline(path, executor=cluster.replace("tcp://", "dask://"))
    assert on_dask.status == "SUCCEEDED", str(on_dask)
    local = ws.pipelines.run_pipeline(path, force=True)
    assert local.status == "SUCCEEDED"

    def summary(result: object) -> list[tuple[str, object, object, object]]:
        return sorted((s.stage, s.variant, s.outcome, json_safe(s.metrics)) for s in result.stages)  # type: ignore[attr-defined]

    assert summary(on_dask) == summary(local)
    assert on_dask.selected["train"]["params"] == local.selected["train"]["params"]
    assert [s.cache_key for s in on_dask.stages] == [s.cache_key for s in local.stages]


def json_safe(d: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(d.items()))


def test_unreachable_dask_writes_nothing(ws: mlops.Workspace) -> None:
    path = make_pipeline(ws.settings.root)
    before = len(ws.audit_events(limit=1000))
    with pytest.raises(PipelineError, match="cannot reach the Dask scheduler"):
        ws.pipelines.run_pipeline(path, executor="dask://127.0.0.1:1")
    assert len(ws.audit_events(limit=1000)) == before
