"""The read path: each capability's queries, with typed rows, and the one run-filter grammar."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.audit import queries as audit_queries
from jupyter_mlops.core.entities import RunInfo
from jupyter_mlops.data import queries as data_queries
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.lineage import queries as lineage_queries
from jupyter_mlops.registry import queries as registry_queries
from jupyter_mlops.tracking import queries as tracking_queries
from jupyter_mlops.tracking.filters import parse_filter, parse_order, run_filter


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Runs with metrics and params, data versions, and two model versions: one reviewed and promoted."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    ws = mlops.init(tmp_path_factory.mktemp("queries") / "project", user="alice")
    config = ws.settings.home / "config.toml"
    config.write_text(config.read_text().replace("reviewers = []", 'reviewers = ["bob"]'))
    ws = mlops.Workspace.open(ws.settings.root, user="alice")
    runs = {}
    for i, (c, acc) in enumerate(((0.1, 0.61), (1.0, 0.72), (10.0, 0.83))):
        with ws.start_run(f"fit-{i}", experiment="iris", params={"C": c}, tags={"team": "risk"}) as run:
            run.log_metric("accuracy", acc)
            for step in range(3):
                run.log_metric("loss", 1.0 - step / 10, step=step)
        runs[f"fit-{i}"] = run.run_id
    with ws.start_run("other", experiment="scratch") as run:
        run.log_metric("accuracy", 0.5)
    runs["other"] = run.run_id
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    ws.data.version(frame, "toy")
    ws.data.version(frame.assign(a=[4, 5, 6]), "toy")
    ws.data.version(frame.head(2), "more")
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    with ws.start_run("train", experiment="iris"):
        ws.models.log_model(model, "iris-clf", X_example=X)
        ws.models.log_model(LogisticRegression(C=0.5, max_iter=300).fit(X, y), "iris-clf", X_example=X)
    ws.evaluation.evaluate("iris-clf@1", X, y, n_bootstrap=0, plots=False)
    ws.cards.build_card("iris-clf@1")
    ws.models.request_review("iris-clf@1", note="ready")
    bob = ws.as_user("bob")
    bob.models.approve("iris-clf@1", comment="fine")
    bob.models.promote("iris-clf@1")
    return {"ws": ws, "runs": runs}


# -- the filter grammar ----------------------------------------------------------------------------
def test_filters_parse_once_into_the_stores_grammar_with_keys_and_values_quoted() -> None:
    flt = parse_filter("metrics.accuracy > 0.8 and params.C = '1' and status = 'finished' and name ILIKE '%iris%'")
    assert flt.to_mlflow() == (
        "metrics.`accuracy` > 0.8 and params.`C` = '1' and attributes.status = 'FINISHED' and attributes.run_name ILIKE '%iris%'"
    )
    assert parse_filter("metrics.`f1 score` >= 1 and actor = 'bob'").to_mlflow() == (
        "metrics.`f1 score` >= 1 and tags.`mlops.actor` = 'bob'"
    )
    assert parse_filter("") == parse_filter(None) and not parse_filter("  ")
    assert run_filter("metrics.a < 2", status="FAILED", name_contains="x", notebook="n.ipynb").to_mlflow() == (
        "attributes.status = 'FAILED' and attributes.run_name ILIKE '%x%' and tags.`mlops.notebook` = 'n.ipynb' "
        "and metrics.`a` < 2"
    )
    assert parse_order("metrics.accuracy desc") == ["metrics.`accuracy` DESC", "attributes.start_time DESC"]
    assert parse_order("name") == ["attributes.run_name ASC", "attributes.start_time DESC"]
    assert parse_order(None) == ["attributes.start_time DESC"]


@pytest.mark.parametrize(
    ("text", "token", "message"),
    [
        ("accuracy >> 0.8", ">>", "unknown token '>>' in filter 'accuracy >> 0.8'; write e.g. metrics.accuracy > 0.8"),
        ("accuracy > 0.8", "accuracy", "unknown key 'accuracy'"),
        ("metrics.acc > 'high'", "'high'", "metrics.acc is compared with a number, not 'high'"),
        ("params.C = 1", "1", "write e.g. params.C = '1'"),
        ("metrics.a > 1 or metrics.b > 1", "or", "clauses are joined with 'and', found 'or'"),
        ("status = 'done'", "'done'", "unknown run status 'done'"),
        ("metrics.a > 1; drop table runs", ";", "unknown token ';'"),
        ("metrics.a >", "metrics.a >", "the filter ends where a value should be"),
        ("name > 'x'", ">", "name cannot be compared with >"),
    ],
)
def test_a_bad_filter_is_one_error_naming_the_bad_token(text: str, token: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_filter(text)
    assert message in err.value.message and err.value.field == "filter"
    assert err.value.value == token


def test_front_end_fields_refuse_quotes_instead_of_escaping_them() -> None:
    with pytest.raises(InvalidInput, match="name may not contain quotes"):
        run_filter(name_contains="x' or 1=1 --")
    with pytest.raises(InvalidInput, match="unknown run status 'DROP'"):
        run_filter(status="DROP")
    with pytest.raises(InvalidInput, match="unknown sort key"):
        parse_order("metrics DESC")


# -- tracking ------------------------------------------------------------------------------------
def test_search_runs_filters_sorts_and_pages_in_the_store(recorded: dict[str, Any]) -> None:
    ws, runs = recorded["ws"], recorded["runs"]
    page = tracking_queries.search_runs(ws, "metrics.accuracy > 0.7", experiment="iris", order_by="metrics.accuracy DESC")
    assert [r.name for r in page] == ["fit-2", "fit-1"]
    assert all(isinstance(r, RunInfo) for r in page.runs)
    first = page.runs[0]
    assert first.params == {"C": "10.0"} and first.metrics["accuracy"] == 0.83 and first.tags == {"team": "risk"}
    assert first.actor == "alice" and first.experiment == "iris" and first.status == "FINISHED"
    assert first.duration_s is not None and first.duration_s >= 0 and first.ended and first.started < first.ended
    assert first.audit_seqs and len(first.audit_seqs) == 2  # run.start and run.end
    assert {e.name: e.n_runs for e in page.experiments} == {"iris": 4, "scratch": 1}
    one = tracking_queries.search_runs(ws, "name LIKE 'fit-%'", experiment="iris", order_by="start_time ASC", page_size=1)
    assert [r.name for r in one] == ["fit-0"] and one.next_page_token
    two = tracking_queries.search_runs(
        ws, "name LIKE 'fit-%'", experiment="iris", order_by="start_time ASC", page_size=1, page_token=one.next_page_token
    )
    assert [r.name for r in two] == ["fit-1"]
    everywhere = tracking_queries.search_runs(ws, "metrics.accuracy <= 0.61")
    assert {r.run_id for r in everywhere} == {runs["fit-0"], runs["other"]}
    with pytest.raises(InvalidInput, match="invalid page token"):
        tracking_queries.search_runs(ws, page_token="bm9wZQ==")
    with pytest.raises(NotFound):
        tracking_queries.search_runs(ws, experiment="no-such-experiment")


def test_run_detail_list_runs_and_get_run_agree_on_one_run(recorded: dict[str, Any]) -> None:
    ws, run_id = recorded["ws"], recorded["runs"]["fit-1"]
    detail = tracking_queries.run_detail(ws, run_id)
    listed = next(r for r in tracking_queries.list_runs(ws, limit=100) if r.run_id == run_id)
    searched = next(r for r in tracking_queries.search_runs(ws, experiment="iris") if r.run_id == run_id)
    assert detail.run == listed == searched == tracking_queries.get_run(ws, run_id)
    assert detail.all_tags["mlops.actor"] == "alice" and detail.record is not None and detail.record["run_id"] == run_id
    assert list(detail.audit_events) == list(detail.run.audit_seqs)
    assert tracking_queries.metric_history(ws, run_id, "loss") == [(0, 1.0), (1, 0.9), (2, 0.8)]
    assert json.loads(tracking_queries.run_artifact_text(ws, run_id, "mlops/environment.json") or "{}")["python"]
    assert tracking_queries.count_runs(ws, "iris") == 4 and tracking_queries.count_runs(ws, "iris", "FAILED") == 0
    assert tracking_queries.get_run_record(ws, run_id) is not None and tracking_queries.get_run_record(ws, "0" * 32) is None
    recorded_only = tracking_queries.list_runs(ws, limit=100, with_metrics=False)
    assert next(r for r in recorded_only if r.run_id == run_id).metrics == {}


def test_notebook_context_names_the_runs_of_one_notebook(recorded: dict[str, Any]) -> None:
    ws = recorded["ws"]
    with ws.start_run("from-nb", experiment="iris", source={"notebook": "work/train.ipynb"}) as run:
        run.log_metric("accuracy", 0.7)
    found = tracking_queries.notebook_context(ws, {"train.ipynb"}, "train.ipynb")
    assert found.matched == ("work/train.ipynb",) and [r.run_id for r in found.runs] == [run.run_id]
    assert found.runs[0].metrics["accuracy"] == 0.7 and found.runs[0].notebook == "work/train.ipynb"
    assert tracking_queries.notebook_context(ws, {"none.ipynb"}, "none.ipynb").runs == ()


# -- registry ------------------------------------------------------------------------------------
def test_registry_queries_return_versions_reviews_and_alias_moves(recorded: dict[str, Any]) -> None:
    ws = recorded["ws"]
    assert [v.ref for v in registry_queries.versions(ws).versions] == ["iris-clf@2", "iris-clf@1"]
    assert registry_queries.get(ws, "iris-clf@champion").ref == "iris-clf@1"
    assert registry_queries.get(ws, "iris-clf@latest").version == 2
    assert registry_queries.get(ws, "iris-clf@1").aliases == ("champion",)
    assert [v.ref for v in registry_queries.review_queue(ws).versions] == []  # nothing waits: @1 was approved
    assert [v.ref for v in registry_queries.review_queue(ws, "none").versions] == ["iris-clf@2"]
    assert [v.ref for v in registry_queries.review_queue(ws, None).versions] == ["iris-clf@2", "iris-clf@1"]
    assert [(r.action, r.actor) for r in registry_queries.reviews(ws, "iris-clf@1")] == [("request", "alice"), ("approve", "bob")]
    moves = registry_queries.alias_history(ws, "iris-clf").moves
    assert [(m.alias, m.from_version, m.to_version, m.approved_by) for m in moves] == [("champion", None, 1, "bob")]
    assert registry_queries.alias_history(ws, "iris-clf", "CHAMPION").moves == moves  # aliases are case-insensitive
    with pytest.raises(NotFound, match="iris-clf has versions 1, 2"):
        registry_queries.get(ws, "iris-clf@9")
    with pytest.raises(InvalidInput, match="unknown review status"):
        registry_queries.review_queue(ws, "waiting")


# -- data, audit, lineage ------------------------------------------------------------------------
def test_data_queries_list_data_sets_and_versions(recorded: dict[str, Any]) -> None:
    ws = recorded["ws"]
    assert [(d.name, d.n_versions) for d in data_queries.datasets(ws)] == [("more", 1), ("toy", 2)]
    assert [v.spec for v in data_queries.versions(ws, "toy")] == ["toy@2", "toy@1"]
    assert [v.spec for v in data_queries.versions(ws, limit=2)] == ["more@1", "toy@2"]
    shown = data_queries.show(ws, "toy@latest")
    assert shown.spec == "toy@2" and shown.n_rows == 3 and data_queries.find_by_fingerprint(ws, shown.fingerprint) == shown
    with pytest.raises(NotFound, match="did you mean 'toy'"):
        data_queries.show(ws, "tyo@1")
    with pytest.raises(NotFound, match="toy has versions 1 to 2"):
        data_queries.show(ws, "toy@7")


def test_audit_and_lineage_queries(recorded: dict[str, Any]) -> None:
    ws = recorded["ws"]
    ends = audit_queries.events(ws, action="run.*", object_id=recorded["runs"]["fit-0"], newest_first=False)
    assert [e.action for e in ends] == ["run.start", "run.end"]
    assert audit_queries.events(ws, actor="bob", limit=1)[0].action == "model.promote"
    assert audit_queries.verify(ws).ok and audit_queries.verify(ws).checked == len(audit_queries.events(ws, limit=10_000))
    graph = lineage_queries.graph(ws, "model_version", "iris-clf@1")
    assert "card:iris-clf@1/card-1" in graph.nodes and any(n.startswith("evaluation:") for n in graph.nodes)


def test_the_workspace_reads_through_the_same_queries(recorded: dict[str, Any]) -> None:
    ws = recorded["ws"]
    assert ws.models.list_models() == registry_queries.versions(ws)
    assert ws.data.list("toy") == data_queries.versions(ws, "toy")
    assert ws.audit_events(limit=5) == audit_queries.events(ws, limit=5)
    assert ws.lineage("data_version", "toy@1") == lineage_queries.graph(ws, "data_version", "toy@1")
    assert ws.list_runs(limit=3) == tracking_queries.list_runs(ws, limit=3)


def test_evaluation_queries_read_the_stored_report_and_the_history(recorded: dict[str, Any]) -> None:
    from jupyter_mlops.evaluation import queries as evaluation_queries

    ws = recorded["ws"]
    rows = evaluation_queries.history(ws, "iris-clf@1")
    assert [r["model_version"] for r in rows] == ["iris-clf@1"]
    assert evaluation_queries.history(ws, "iris-clf@2") == []
    report = evaluation_queries.report(ws, rows[0]["id"])
    assert report.eval_id == rows[0]["id"] and report.metrics["accuracy"]["value"] == rows[0]["metrics"]["accuracy"]["value"]
    assert ws.evaluation.history("iris-clf@1") == rows  # the service reads through the same query
    with pytest.raises(NotFound, match="no evaluation with id '0123456789abcdef'"):
        evaluation_queries.report(ws, "0123456789abcdef")
    with pytest.raises(InvalidInput, match="limit must be between 1 and 10000, got 0"):
        evaluation_queries.history(ws, limit=0)


def test_pipeline_queries_resolve_a_run_id(recorded: dict[str, Any]) -> None:
    from jupyter_mlops.pipelines import queries as pipeline_queries

    ws, run_id = recorded["ws"], recorded["runs"]["fit-0"]
    assert pipeline_queries.resolve_run_id(ws, run_id) == run_id == ws.resolve_run_id(run_id)
    assert pipeline_queries.resolve_run_id(ws, "0" * 32) == "0" * 32  # unknown: returned for the caller's not-found
    assert pipeline_queries.run_id_of(ws, "0" * 32) is None
    with pytest.raises(InvalidInput, match=r"invalid run id '\.\./etc'"):
        pipeline_queries.resolve_run_id(ws, "../etc")
