"""The chain in one process: data versions read -> model version -> evaluation -> card.

Frames derived from a loaded version still name it; an evaluation of a model object attaches to
the version logged from it in either order; the card names the training and evaluation data
versions with their fingerprints and the sensitive columns those versions declare.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from arrests_helpers import FEATURES, loaded_frames, model, version_split

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.workspace import Workspace


@pytest.fixture
def split(ws: Workspace) -> tuple[Any, Any]:
    return version_split()


def _facts(card: Any, section: str) -> dict[str, Any]:
    return dict(card.section(section).facts)


def _table(card: Any, section: str, label: str) -> list[dict[str, Any]]:
    table = next(t for t in card.section(section).tables if t.title.startswith(label))
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


# -- frames derived from a version ------------------------------------------------------------------
def test_frames_derived_from_a_loaded_version_still_name_it(ws: Workspace, split: tuple[Any, Any]) -> None:
    train, _ = split
    frame = mlops.load_data("arrests-train@1")
    assert ws.data.origin(frame) == {"data_version": "arrests-train@1", "fingerprint": train.fingerprint}
    picked = frame[frame["age"] > 30][FEATURES].astype({"age": "float64"})
    origin = ws.data.origin(picked)
    assert origin["data_version"] == "arrests-train@1" and origin["fingerprint"] == train.fingerprint
    derived = origin["derived"]
    assert derived["columns"] == FEATURES and derived["of_columns"] == 8
    assert derived["rows"] == len(picked) < derived["of_rows"] == 3919
    assert derived["fingerprint"] not in (None, train.fingerprint)
    label = ws.data.origin(frame["released"])  # a Series keeps the mark too
    assert label["data_version"] == "arrests-train@1" and label["derived"]["columns"] == ["released"]


def test_unmarked_frames_are_matched_by_fingerprint_or_recorded_as_not_versioned(ws: Workspace, split: Any) -> None:
    train, _ = split
    rebuilt = pd.DataFrame(mlops.load_data("arrests-train@1").to_dict("list"))  # same content, no mark
    assert rebuilt.attrs == {}
    assert ws.data.origin(rebuilt) == {"data_version": "arrests-train@1", "fingerprint": train.fingerprint}
    fresh = pd.DataFrame({"a": [1, 2, 3]})
    origin = ws.data.origin(fresh)
    assert origin["data_version"] is None and len(origin["fingerprint"]) == 64 and origin["rows"] == 3
    assert ws.data.origin([[1, 2]]) == {"data_version": None, "fingerprint": None, "rows": 1}


def test_versioning_a_derived_frame_links_it_to_its_parent(ws: Workspace) -> None:
    raw = pd.DataFrame({"x": range(10), "y": list("ababababab")})
    mlops.version_data(raw, "raw")
    part = mlops.version_data(raw[raw["x"] < 4].reset_index(drop=True), "part")
    edges = [e for e in ws.lineage("data_version", part.spec).edges if e.relation == "derived_from"]
    assert [(e.src_id, e.dst_id) for e in edges] == [("part@1", "raw@1")]
    assert edges[0].payload["derived"]["rows"] == 4 and edges[0].payload["derived"]["of_rows"] == 10


# -- one model identity across steps ---------------------------------------------------------------
def test_evaluation_before_log_model_attaches_to_the_version(ws: Workspace, split: Any) -> None:
    data = loaded_frames()
    clf = model().fit(data["X_train"], data["y_train"])
    with mlops.start_run("train") as run:
        report = mlops.evaluate(clf, data["X_test"], data["y_test"], sensitive_features=["colour", "sex"], n_bootstrap=0)
        assert report.model_version is None
        mv = mlops.log_model(clf, "arrests-clf", X_example=data["X_train"])
    latest = ws.evaluation.latest_for(mv.ref)
    assert latest is not None and latest.eval_id == report.eval_id and latest.model_version == mv.ref
    event = ws.audit_events(action="model.evaluation_attach")[0]
    assert event.object_id == report.eval_id and event.payload["run_id"] == run.run_id
    assert event.payload["report_before"] != event.payload["report_after"]
    assert any(e.relation == "evaluates" and e.dst_id == mv.ref for e in ws.lineage("evaluation", report.eval_id).edges)
    assert mlops.audit.verify().ok


def test_evaluation_after_log_model_and_of_a_loaded_model_attach_without_model_version(ws: Workspace, split: Any) -> None:
    data = loaded_frames()
    clf = model().fit(data["X_train"], data["y_train"])
    with mlops.start_run("train"):
        mv = mlops.log_model(clf, "arrests-clf", X_example=data["X_train"])
        same_run = mlops.evaluate(clf, data["X_test"], data["y_test"], n_bootstrap=0)
    assert same_run.model_version == mv.ref
    with mlops.start_run("other"):  # another run, another object with other content: not that version
        other = model(C=1.0).fit(data["X_train"], data["y_train"])
        assert mlops.evaluate(other, data["X_test"], data["y_test"], n_bootstrap=0).model_version is None
    loaded = mlops.load_model(mv.ref)  # a version loaded from the registry is that version, in any run
    assert mlops.evaluate(loaded, data["X_test"], data["y_test"], n_bootstrap=0).model_version == mv.ref


def test_content_hash_survives_a_round_trip_and_changes_with_the_fit(ws: Workspace, split: Any) -> None:
    from jupyter_mlops.tracking.models import model_sha256

    data = loaded_frames()
    clf = model().fit(data["X_train"], data["y_train"])
    mv = mlops.log_model(clf, "arrests-clf", X_example=data["X_train"])
    assert mv.model_sha256 == model_sha256(clf) == model_sha256(mlops.load_model(mv.ref))
    assert model_sha256(model().fit(data["X_test"][FEATURES], data["y_test"])) != mv.model_sha256


# -- evaluate on a data version --------------------------------------------------------------------
def test_evaluate_takes_a_data_version_and_its_target_column(ws: Workspace, split: Any) -> None:
    _, test = split
    data = loaded_frames()
    mv = mlops.log_model(model().fit(data["X_train"], data["y_train"]), "arrests-clf", X_example=data["X_train"])
    report = mlops.evaluate(mv.ref, "arrests-test@1", target="released", sensitive_features=["colour", "sex"], n_bootstrap=0)
    assert report.n_rows == 1307 and report.model_version == mv.ref
    assert report.data["X"] == {
        "rows": 1307,
        "data_version": "arrests-test@1",
        "fingerprint": test.fingerprint,
        "target": "released",
    }
    assert set(report.fairness["by_feature"]) == {"colour", "sex", "colour x sex"}
    with pytest.raises(InvalidInput, match="either as y or as target"):
        mlops.evaluate(mv.ref, "arrests-test@1", data["y_test"], target="released")
    with pytest.raises(InvalidInput, match="no column 'releasd'") as err:
        mlops.evaluate(mv.ref, "arrests-test@1", target="releasd")
    assert "did you mean 'released'" in str(err.value)
    with pytest.raises(InvalidInput, match="needs the labels"):
        mlops.evaluate(mv.ref, "arrests-test@1")


# -- the card ----------------------------------------------------------------------------------------
def test_card_names_training_and_evaluation_data_with_fingerprints(ws: Workspace, split: tuple[Any, Any]) -> None:
    train, test = split
    with mlops.start_run("train") as run:
        frame = mlops.load_data("arrests-train@1")
        clf = model().fit(frame[FEATURES], frame["released"])
        mv = mlops.log_model(clf, "arrests-clf", X_example=frame[FEATURES])
    assert mv.data_versions == ("arrests-train@1",)
    test_frame = mlops.load_data("arrests-test@1")
    mlops.evaluate(
        clf,
        test_frame.drop(columns="released"),
        test_frame["released"],
        sensitive_features=["colour", "sex"],
        model_version=mv.ref,
        thresholds={"balanced_accuracy": 0.6, "equalized_odds_difference[colour]": ("<=", 0.01)},
        n_bootstrap=0,
    )
    card = mlops.build_card(mv.ref)
    assert _facts(card, "model_details")["Training run"] == run.run_id
    trained = _table(card, "training_data", "Training data versions")
    assert [(r["data version"], r["fingerprint"].split()[0], r["rows"]) for r in trained] == [
        ("arrests-train@1", train.fingerprint, 3919)
    ]
    assert trained[0]["sensitive columns"] == "colour, sex" and trained[0]["used"] == f"features {', '.join(FEATURES)}"
    evaluated = _table(card, "evaluation_data", "Evaluation data versions")
    assert [(r["data version"], r["fingerprint"].split()[0]) for r in evaluated] == [("arrests-test@1", test.fingerprint)]
    assert evaluated[0]["used"] == (
        "features: columns colour, year, age, sex, employed, citizen, checks of 8; 1307 of 1307 rows; "
        "labels: columns released of 8; 1307 of 1307 rows"
    )
    assert _facts(card, "factors")["Sensitive columns in the data"] == "colour, sex"
    checks = {r["check"]: r["passed"] for r in _table(card, "metrics", "Thresholds declared")}
    assert checks == {"balanced_accuracy": True, "equalized_odds_difference[colour]": False}


def test_card_without_versions_says_not_versioned_with_the_fingerprint(ws: Workspace, split: Any) -> None:
    data = loaded_frames()
    clf = model().fit(data["X_train"], data["y_train"])
    mv = mlops.log_model(clf, "arrests-clf", X_example=data["X_train"])  # no run open: log_model opens its own
    X = pd.DataFrame(data["X_test"].to_dict("list")).iloc[:500]  # rows that match no version
    mlops.evaluate(clf, X, data["y_test"].iloc[:500].to_numpy(), model_version=mv.ref, n_bootstrap=0)
    card = mlops.build_card(mv.ref)
    details = _facts(card, "model_details")
    assert details["Training run"] == "unknown" and details["Logged in run"] == mv.run_id  # it logged, did not fit
    evaluated = _table(card, "evaluation_data", "Evaluation data versions")
    assert evaluated[0]["data version"] == "not versioned"
    assert evaluated[0]["fingerprint"] == f"{ws.data.origin(X)['fingerprint']} (blake3-canonical-v1)"


def test_review_records_and_prints_each_threshold(ws: Workspace, split: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_mlops.cli.main import main

    data = loaded_frames()
    mv = mlops.log_model(model().fit(data["X_train"], data["y_train"]), "arrests-clf", X_example=data["X_train"])
    mlops.evaluate(
        mv.ref, "arrests-test@1", target="released", thresholds={"balanced_accuracy": 0.6, "roc_auc": 0.9}, n_bootstrap=0
    )
    mlops.build_card(mv.ref)
    assert main(["-C", str(ws.settings.root), "model", "request-review", mv.ref]) == 0
    out = capsys.readouterr().out
    assert "PASS  balanced_accuracy >= 0.6" in out and "FAIL  roc_auc >= 0.9" in out and ": FAILED" in out
    payload = ws.audit_events(action="model.review_request")[0].payload["evaluation"]
    assert [(t["name"], t["passed"]) for t in payload["thresholds"]] == [("balanced_accuracy", True), ("roc_auc", False)]


# -- schema ------------------------------------------------------------------------------------------
def test_an_older_database_gets_the_content_hash_columns(ws: Workspace) -> None:
    from jupyter_mlops.store.metadata import schema_versions

    with ws.db.write() as conn:
        for table in ("model_versions", "evaluations"):
            conn.execute(sa.text(f"DROP INDEX IF EXISTS ix_{table}_model_sha256"))
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN model_sha256"))
        conn.execute(
            sa.update(schema_versions).where(schema_versions.c.component.in_(["registry", "evaluation"])).values(version=1)
        )
    again = Workspace.open(ws.settings.root)
    with again.db.read() as conn:
        for table in ("model_versions", "evaluations"):
            assert "model_sha256" in {c["name"] for c in sa.inspect(conn).get_columns(table)}
            assert f"ix_{table}_model_sha256" in {i["name"] for i in sa.inspect(conn).get_indexes(table)}


# -- the stage run seen from a kernel ----------------------------------------------------------------
def test_top_level_records_land_on_a_running_stage_run_only(ws: Workspace) -> None:
    from jupyter_mlops.tracking.runs import StageRun, stage_run

    stage = ws.start_run("stage", kind="stage", params={"C": 1.0}).start()
    pipeline = ws.start_run("pipe", kind="pipeline").start()
    try:
        kernel = Workspace(dataclasses.replace(ws.settings, parent_run_id=stage.run_id))
        run = stage_run(kernel)  # what run_for() falls back to at a notebook's top level
        assert isinstance(run, StageRun) and run.run_id == stage.run_id
        run.log_metrics({"cv": 0.7})
        run.log_param("features", "a,b")
        got = ws.tracking.get_run(stage.run_id)
        assert got["metrics"]["cv"] == 0.7 and got["params"] == {"C": "1.0", "features": "a,b"}
        from jupyter_mlops.errors import Conflict

        with pytest.raises(Conflict, match="parameter 'C' of this stage run is '1.0' already"):
            run.log_param("C", 2.0)  # the stage's own parameter cannot be changed from the notebook
        run.log_param("C", 1.0)  # the same value again is fine
        assert stage_run(Workspace(dataclasses.replace(ws.settings, parent_run_id=pipeline.run_id))) is None
        assert stage_run(Workspace(dataclasses.replace(ws.settings, parent_run_id="f" * 32))) is None
    finally:
        pipeline.end()
        stage.end()
    assert ws.tracking.get_run(stage.run_id)["status"] == "FINISHED"
