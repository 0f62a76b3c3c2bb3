"""Quality checks on real data with real pandera: every failure collected, stored, audited, masked."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest
from sklego.datasets import load_arrests

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInput, QualityCheckFailed, UnsupportedData
from jupyter_mlops.quality.report import QualityReport

RULES = Path(__file__).resolve().parent.parent / "example_notebooks" / "rules" / "arrests.yaml"


@pytest.fixture(scope="module")
def arrests() -> pd.DataFrame:
    return load_arrests(as_frame=True)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> mlops.Workspace:
    """One workspace for this module: opening one costs seconds (MLflow), checks cost milliseconds."""
    from jupyter_mlops.create import init

    return init(tmp_path_factory.mktemp("quality") / "project", user="alice")


@pytest.fixture
def ws(shared: mlops.Workspace) -> mlops.Workspace:
    """The module's workspace, made current for the fluent API."""
    return mlops.use(shared)


def _broken(arrests: pd.DataFrame) -> pd.DataFrame:
    bad = arrests.copy()
    bad.loc[3, "age"] = 200
    bad.loc[4, "age"] = 5
    bad.loc[5, "colour"] = "Turquoise"
    bad.loc[6, "colour"] = "Magenta"
    bad.loc[7, "checks"] = 50
    bad.loc[9, "released"] = None
    return bad


def _rows(ws: mlops.Workspace, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(ws.settings.home / "mlops.db") as con:
        return con.execute(sql).fetchall()


def _counts(ws: mlops.Workspace) -> tuple[int, int, int]:
    return (
        _rows(ws, "SELECT count(*) FROM audit_events")[0][0],
        _rows(ws, "SELECT count(*) FROM quality_reports")[0][0],
        _rows(ws, "SELECT count(*) FROM lineage_edges")[0][0],
    )


def test_arrests_pass_the_example_rules(ws: mlops.Workspace, arrests: pd.DataFrame) -> None:
    report = mlops.check_data(arrests, RULES)
    assert isinstance(report, QualityReport)
    assert report.passed and bool(report) and report.failures == ()
    assert report.n_rows == 5226 and report.n_columns == 8 and report.n_checks > 30
    assert report.rules_source == "arrests.yaml" and len(report.rules_sha256) == 64
    assert report.fingerprint is not None and len(report.fingerprint) == 64
    assert report.actor == "alice" and report.run_id is None
    assert "PASSED" in str(report) and "&#10003; passed" in report._repr_html_()


def test_every_failure_is_collected_with_counts_and_examples(ws: mlops.Workspace, arrests: pd.DataFrame) -> None:
    bad = _broken(arrests)
    report = ws.quality.check(bad, RULES)
    assert not report.passed
    found = {(f.column, f.check): f for f in report.failures}
    assert set(found) == {
        ("age", "ge"),
        ("age", "le"),
        ("colour", "isin"),
        ("checks", "le"),
        ("released", "nullable"),
        ("checks, age", "checks_not_above_age"),
    }
    assert found[("age", "le")].failing_rows == 1 and found[("age", "le")].examples == (200,)
    assert found[("age", "le")].expected == "100"
    assert found[("age", "ge")].examples == (5,)
    assert found[("colour", "isin")].failing_rows == 2
    assert set(found[("colour", "isin")].examples) == {"Turquoise", "Magenta"}
    assert found[("released", "nullable")].failing_rows == 1
    cross = found[("checks, age", "checks_not_above_age")]
    assert cross.failing_rows == 1 and cross.examples == ({"checks": 50, "age": 34},)
    assert cross.expected == "checks <= age"
    assert report.n_failed_checks == 6
    # column failures come first, the whole-table check last
    assert report.failures[-1].check == "checks_not_above_age"


def test_schema_level_failures_dtype_missing_extra_columns_and_row_counts(ws: mlops.Workspace, arrests: pd.DataFrame) -> None:
    bad = arrests.head(100).drop(columns=["sex"]).assign(year=lambda d: d["year"].astype(str), extra=1)
    report = ws.quality.check(bad, RULES)
    found = {(f.column, f.check): f for f in report.failures}
    assert found[("sex", "column_present")].found == "missing"
    assert found[("extra", "strict")].found == "not in the rules"
    assert found[("year", "dtype")].expected == "int64" and found[("year", "dtype")].found == "str"
    assert found[(None, "min_rows")].found == "100 rows" and found[(None, "min_rows")].expected == "5000"
    assert found[(None, "min_rows")].failing_rows is None


def test_uniqueness_regex_and_compound_unique_on_a_small_frame(ws: mlops.Workspace, tmp_path: Path) -> None:
    rules = tmp_path / "ids.yaml"
    rules.write_text(
        "columns:\n"
        "  id: {dtype: int64, unique: true}\n"
        "  code: {str_matches: '^[A-Z]{2}[0-9]+$', str_length: {max: 5}}\n"
        "  start: {dtype: int64}\n"
        "  end: {dtype: int64}\n"
        "checks:\n"
        "  - {check: lt, left: start, right: end}\n"
        "  - {check: unique, columns: [code, start]}\n",
        encoding="utf-8",
    )
    df = pd.DataFrame({"id": [1, 2, 2, 3], "code": ["AB1", "ab2", "CD123456", "AB1"], "start": [1, 5, 3, 1], "end": [2, 4, 9, 3]})
    report = ws.quality.check(df, rules)
    found = {(f.column, f.check): f for f in report.failures}
    assert found[("id", "unique")].failing_rows == 2 and found[("id", "unique")].examples == (2, 2)
    assert found[("code", "str_matches")].examples == ("ab2",)
    assert found[("code", "str_length")].examples == ("CD123456",)
    assert found[("start, end", "lt")].examples == ({"start": 5, "end": 4},)
    assert found[("code, start", "unique")].failing_rows == 2


def test_pandera_schema_rules_and_check_errors_are_reported(ws: mlops.Workspace) -> None:
    schema = pa.DataFrameSchema(
        {"a": pa.Column(int, [pa.Check.ge(2), pa.Check.str_matches("x")]), "b": pa.Column(str, pa.Check.isin(["x"]))}
    )
    report = ws.quality.check(pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"]}), schema)
    found = {(f.column, f.check): f for f in report.failures}
    assert found[("a", "ge")].expected == "2" and found[("a", "ge")].examples == (1,)
    assert found[("b", "isin")].examples == ("y",)
    assert found[("a", "str_matches")].found.startswith("could not run: AttributeError")
    assert report.rules_source == "pandera schema"


def test_sensitive_values_never_leave_the_check(ws: mlops.Workspace, arrests: pd.DataFrame) -> None:
    bad = _broken(arrests)
    bad.loc[10, "sex"] = "Zorblax"
    report = ws.quality.check(bad, RULES, sensitive=("colour", "sex"))
    assert report.sensitive == ("colour", "sex")
    secrets = ("Turquoise", "Magenta", "Zorblax", "Black", "White", "Female")
    stored = _rows(ws, f"SELECT * FROM quality_reports WHERE id = '{report.id}'")
    events = _rows(ws, "SELECT payload FROM audit_events WHERE action = 'data.check'")
    outputs = {
        "to_dict": json.dumps(report.to_dict()),
        "str": str(report),
        "html": report._repr_html_(),
        "stored row": repr(stored),
        "audit": repr(events),
        "frame": report.to_frame().to_string(),
        "list": str(ws.quality.list()) + ws.quality.list()._repr_html_(),
    }
    for where, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into {where}"
    colour = next(f for f in report.failures if f.column == "colour")
    assert colour.examples == ("***", "***") and colour.expected == "***" and colour.failing_rows == 2
    # non-sensitive columns still show their values
    assert next(f for f in report.failures if f.column == "age" and f.check == "le").examples == (200,)


def test_sensitive_columns_in_a_cross_check_are_masked(ws: mlops.Workspace) -> None:
    df = pd.DataFrame({"salary": [100, 90_000], "bonus": [5_000, 10]})
    rules = {"checks": [{"check": "le", "left": "bonus", "right": "salary"}]}
    from jupyter_mlops.quality.rules import rules_from_mapping

    report = ws.quality.check(df, rules_from_mapping(rules), sensitive=["salary"])
    (failure,) = report.failures
    assert failure.examples == ({"bonus": 5000, "salary": "***"},)
    assert "100" not in json.dumps(report.to_dict()["failures"]).replace("5000", "")


def test_report_is_stored_with_an_audit_event_and_reads_back(ws: mlops.Workspace, arrests: pd.DataFrame) -> None:
    report = ws.quality.check(_broken(arrests), RULES, sensitive=["colour"])
    assert ws.quality.get(report.id) == report
    event = ws.audit_events(action="data.check")[0]
    assert event.object_type == "quality_report" and event.object_id == report.id
    assert event.payload["passed"] is False and event.payload["n_failed_checks"] == 6
    assert event.payload["rules_sha256"] == report.rules_sha256
    assert ["age", "le", 1] in event.payload["failed"]
    assert ws.verify_audit().ok
    assert QualityReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_fail_on_error_raises_after_storing_the_report(ws: mlops.Workspace, arrests: pd.DataFrame) -> None:
    with pytest.raises(QualityCheckFailed) as info:
        mlops.check_data(_broken(arrests), RULES, fail_on="error")
    err = info.value
    assert isinstance(err.report, QualityReport) and not err.report.passed
    assert err.report.id in str(err) and "6 of" in str(err)
    assert ws.quality.get(err.report.id).passed is False
    assert ws.audit_events(action="data.check")[0].object_id == err.report.id
    assert ws.verify_audit().ok
    # passing data does not raise under fail_on
    assert mlops.check_data(arrests, RULES, fail_on="error").passed


def test_a_tracked_run_gets_the_lineage_edge_metric_and_tag(ws: mlops.Workspace, arrests: pd.DataFrame) -> None:
    with ws.start_run("quality") as run:
        report = ws.quality.check(_broken(arrests), RULES)
    assert report.run_id == run.run_id
    graph = ws.lineage("quality_report", report.id)
    assert any(e.relation == "logged_in" and e.dst_id == run.run_id for e in graph.edges)
    info = ws.list_runs(limit=1).runs[0]
    assert info.metrics["quality.data.failed_checks"] == 6.0
    # the tag is handed to the run (ActiveRun writes tags set during the run when it closes)
    assert run.tags["mlops.quality.data"] == "failed" and run.tags["mlops.quality.data.report"] == report.id
    assert ws.verify_audit().ok


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"rules": "typo"}, InvalidInput, "did you mean 'isin'"),
        ({"fail_on": "warning"}, InvalidInput, "fail_on must be None or 'error'"),
        ({"sensitive": ("color",)}, InvalidInput, "did you mean 'colour'"),
        ({"data": [1, 2, 3]}, UnsupportedData, "cannot check an object of type list"),
        ({"data": "dup"}, UnsupportedData, "duplicate column names: a"),
        ({"data": "../../etc/passwd"}, InvalidInput, "invalid data version"),
        ({"rules": {"columns": {}}}, UnsupportedData, "pandera DataFrameSchema or a path"),
        ({"rules": "missing"}, InvalidInput, "no such file"),
    ],
)
def test_bad_input_writes_nothing(
    ws: mlops.Workspace, arrests: pd.DataFrame, tmp_path: Path, kwargs: dict[str, object], error: type, message: str
) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("columns:\n  colour:\n    isn: [Black, White]\n", encoding="utf-8")
    args: dict[str, object] = {"data": arrests, "rules": RULES, **kwargs}
    if args["rules"] == "typo":
        args["rules"] = typo
    if args["rules"] == "missing":
        args["rules"] = tmp_path / "missing.yaml"
    if isinstance(args["data"], str) and args["data"] == "dup":
        args["data"] = pd.DataFrame([[1, 2]], columns=["a", "a"])
    before = _counts(ws)
    with pytest.raises(error, match=message):
        ws.quality.check(args.pop("data"), args.pop("rules"), **args)  # type: ignore[arg-type]
    assert _counts(ws) == before
    assert ws.verify_audit().ok


def test_a_data_version_is_checked_masked_linked_and_listed(ws: mlops.Workspace, arrests: pd.DataFrame) -> None:
    bad = _broken(arrests)
    v1 = ws.data.version(arrests, "arrests-q", sensitive=["colour"])
    v2 = ws.data.version(bad, "arrests-q", sensitive=["colour"])
    passed = ws.quality.check("arrests-q@1", RULES)
    assert passed.passed and passed.data_ref == "arrests-q@1" and passed.fingerprint == v1.fingerprint
    failed = mlops.check_data("arrests-q@latest", RULES)
    assert failed.data_ref == "arrests-q@2" and failed.fingerprint == v2.fingerprint
    # the version's sensitive columns are masked without being named again
    assert failed.sensitive == ("colour",)
    colour = next(f for f in failed.failures if f.column == "colour")
    assert colour.examples == ("***", "***")
    assert "Turquoise" not in json.dumps(failed.to_dict()) + str(failed) + failed._repr_html_()
    assert "Turquoise" not in repr(_rows(ws, f"SELECT * FROM quality_reports WHERE id = '{failed.id}'"))
    # a frame given directly gets the same full-content fingerprint as its version
    assert ws.quality.check(bad, RULES).fingerprint == v2.fingerprint
    # lineage: data_version -checked_by-> quality_report
    edges = ws.lineage("data_version", "arrests-q@2").edges
    assert any(e.relation == "checked_by" and e.dst_id == failed.id for e in edges)
    # reports of a version, newest first, by number, alias or DataVersion
    again = ws.quality.check(v2, RULES)
    listed = ws.quality.reports_for("arrests-q@2")
    assert [r.id for r in listed] == [again.id, failed.id]
    assert [r.id for r in ws.quality.reports_for("arrests-q@latest")] == [again.id, failed.id]
    assert [r.id for r in ws.quality.reports_for(v1)] == [passed.id]
    assert listed.to_dict()[0]["id"] == again.id and "failed" in listed._repr_html_()
    assert ws.verify_audit().ok


def test_an_unknown_version_is_refused_and_nothing_is_written(ws: mlops.Workspace, arrests: pd.DataFrame) -> None:
    from jupyter_mlops.errors import NotFound

    ws.data.version(arrests.head(10), "tiny")
    before = _counts(ws)
    with pytest.raises(NotFound, match="no data version 'tiny@9'"):
        ws.quality.check("tiny@9", RULES)
    with pytest.raises(NotFound):
        ws.quality.reports_for("nothing-here@latest")
    assert _counts(ws) == before
    assert list(ws.quality.reports_for("tiny@1")) == []


def test_cli_data_check_prints_the_report_and_exits_1_on_fail_on(
    ws: mlops.Workspace, arrests: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyter_mlops.cli.main import main

    ws.data.version(_broken(arrests), "arrests-cli", sensitive=["colour"])
    root = str(ws.settings.root)
    assert main(["--root", root, "--user", "alice", "--json", "data", "check", "arrests-cli@1", "--rules", str(RULES)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["passed"] is False and printed["data_ref"] == "arrests-cli@1" and printed["n_failed_checks"] == 6
    assert "Turquoise" not in json.dumps(printed)
    code = main(
        ["--root", root, "--user", "alice", "data", "check", "arrests-cli@1", "--rules", str(RULES), "--fail-on", "error"]
    )
    out = capsys.readouterr()
    assert code == 1 and "failed 6 of" in out.err and "Turquoise" not in out.out + out.err
    assert len(ws.quality.reports_for("arrests-cli@1")) == 2
