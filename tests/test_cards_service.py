"""Model cards of real logged models: built from records, versioned, audited, escaped, via API and CLI.

One workspace per module (logging a model with MLflow costs seconds): arrests-clf@1 is trained on a
versioned data set and never evaluated; arrests-clf@2 is evaluated on versioned test data with two
sensitive features. Tests that change state use their own model version or check relative to the
state they find.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from jupyter_mlops.cards.schema import model_cards
from jupyter_mlops.cli.main import main
from jupyter_mlops.create import init
from jupyter_mlops.errors import InvalidInput, NotFound
from jupyter_mlops.workspace import Workspace

XSS = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>"


def _model(c: float) -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["colour", "sex", "employed", "citizen"]),
            (StandardScaler(), ["year", "age", "checks"]),
        ),
        LogisticRegression(C=c, max_iter=300),
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from sklego.datasets import load_arrests

    root = tmp_path_factory.mktemp("cards") / "project"
    init(root, user="alice")
    config = root / ".mlops" / "config.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("reviewers = []", 'reviewers = ["bob"]'), encoding="utf-8")
    ws = Workspace.open(root, user="alice")
    df = load_arrests(as_frame=True).sample(1600, random_state=0).reset_index(drop=True)
    train, test = df.iloc[:1000], df.iloc[1000:].reset_index(drop=True)
    X, y = train.drop(columns="released"), train["released"]
    with ws.start_run("train", params={"C": 0.5}):
        train_dv = ws.data.version(train, "arrests-train", sensitive=["colour", "sex"])
        m1 = _model(0.5).fit(X, y)
        v1 = ws.models.log_model(m1, "arrests-clf", X_example=X.head())
    with ws.start_run("train", params={"C": 2.0}):
        ws.data.version(train, "arrests-train", sensitive=["colour", "sex"])
        m2 = _model(2.0).fit(X, y)
        v2 = ws.models.log_model(m2, "arrests-clf", X_example=X.head())
    X_test = ws.data.version(test.drop(columns="released"), "arrests-test-x", sensitive=["colour", "sex"])
    y_test = ws.data.version(test[["released"]], "arrests-test-y")
    report = ws.evaluation.evaluate(
        m2, X_test.spec, y_test.spec, sensitive_features="colour,sex", model_version=v2.ref, n_bootstrap=40, plots=False
    )
    return {"ws": ws, "root": root, "v1": v1, "v2": v2, "train": train_dv, "x_test": X_test, "report": report}


def _counts(ws: Workspace) -> tuple[int, int, int]:
    with ws.db.read() as conn:
        cards = conn.execute(sa.select(sa.func.count()).select_from(model_cards)).scalar_one()
    return cards, len(ws.audit_events(limit=10_000)), len(list(ws.objects.iter_ids()))


def test_card_of_a_logged_model_is_built_from_what_was_recorded(project: dict[str, Any]) -> None:
    ws, v1, train = project["ws"], project["v1"], project["train"]
    card = ws.cards.build_card("arrests-clf@1")
    details = dict(card.section("model_details").facts)
    assert details["Developed by"] == "alice"
    assert details["Training run"] == v1.run_id
    assert details["Format"] == "skops"
    assert "LogisticRegression" in details["Type"]
    assert details["Artifact manifest hash (sha256)"] == v1.manifest_sha256
    assert "colour: string" in details["Input signature"]
    tables = {t.title: t for t in card.section("model_details").tables}
    files = dict(tables["Artifact files"].rows)
    assert files["model.skops"] == v1.manifest["model.skops"]["sha256"]
    assert dict(tables["Parameters (from the training run)"].rows) == {"C": "0.5"}
    assert dict(card.section("environment").facts)["Python"] == platform.python_version()
    assert ("scikit-learn", __import__("sklearn").__version__) in card.section("environment").tables[0].rows
    # training data: the version read in the run, its fingerprint, its sensitive columns named
    data_row = card.section("training_data").tables[0].rows[0]
    assert data_row[0] == train.spec and data_row[1].startswith(train.fingerprint) and data_row[2] == 1000
    assert data_row[4] == "colour, sex"
    # never evaluated: the metrics say "unknown"
    metrics = card.section("metrics")
    assert not metrics.known and metrics.text == "unknown" and metrics.tables == ()
    assert "unknown" in card.to_markdown().split("## Metrics")[1].split("## Evaluation Data")[0]
    # stored: row, object (the rendered JSON), audit event, lineage edge
    event = ws.audit_events(action="card.build", object_id=card.card_id)[0]
    assert event.payload["sha256_after"] == card.sha256 and event.actor == "alice"
    stored = json.loads(ws.objects.open_verified(event.payload["object_id"]))
    assert stored["sha256"] == card.sha256 and stored["model_version"] == 1
    graph = ws.lineage("model_version", "arrests-clf@1")
    assert any(e.src_id == card.card_id and e.relation == "describes" for e in graph.edges)
    assert ws.cards.get_card("arrests-clf@1") == card == ws.cards.latest_for("arrests-clf@1")
    # building again from the same records writes nothing new
    before = _counts(ws)
    assert ws.cards.build_card("arrests-clf@1").card_version == card.card_version
    assert _counts(ws) == before


def test_card_shows_the_evaluation_with_intervals_and_group_fairness(project: dict[str, Any]) -> None:
    ws, report = project["ws"], project["report"]
    card = ws.cards.build_card("arrests-clf@2")
    rows = {r[0]: r for r in card.section("metrics").tables[0].rows}
    for name in ("accuracy", "roc_auc", "f1"):
        m = report.metrics[name]
        assert rows[name][1:4] == (m["value"], m["ci_low"], m["ci_high"])
    assert rows["accuracy"][2] < rows["accuracy"][1] < rows["accuracy"][3]
    quant = {t.title: t for t in card.section("quantitative_analyses").tables}
    colour = quant["Per-group results: colour"]
    expected = {g["label"]: g["count"] for g in report.fairness["by_feature"]["colour"]["groups"]}
    assert {r[0]: r[1] for r in colour.rows} == expected
    disp = dict(quant["Disparities: colour"].rows)
    assert disp["demographic_parity_difference"] == report.disparity("demographic_parity_difference", "colour")
    assert "Per-group results: colour x sex" in quant
    factors = dict(card.section("factors").facts)
    assert set(factors["Groups evaluated (sensitive features)"].split(", ")) == {"colour", "sex", "colour x sex"}
    eval_data = card.section("evaluation_data").tables[0].rows
    assert eval_data[0][0] == project["x_test"].spec and eval_data[0][4] == "colour, sex"


def test_edit_creates_a_new_version_with_an_audit_event_that_verifies(project: dict[str, Any]) -> None:
    ws = project["ws"]
    built = ws.cards.build_card("arrests-clf@2")
    edited = ws.cards.edit_card("arrests-clf@2", "Intended Use", "Support, not replace, a clerk's release decision.")
    assert edited.card_version == built.card_version + 1
    assert edited.section("intended_use").text == "Support, not replace, a clerk's release decision."
    assert edited.sha256 != built.sha256
    event = ws.audit_events(action="card.edit", object_id=edited.card_id)[0]
    assert event.payload["sha256_before"] == built.sha256
    assert event.payload["sha256_after"] == edited.sha256
    assert event.payload["section"] == "intended_use"
    assert ws.verify_audit().ok
    history = ws.cards.history("arrests-clf@2")
    assert [v.action for v in history.versions][-2:] == [history.versions[-2].action, "edit"]
    assert history.versions[-1].sha256 == edited.sha256
    assert ws.cards.get_card("arrests-clf@2", built.card_version) == built  # the old version is kept
    # rebuilding keeps what people wrote, and unchanged records give no new version
    assert ws.cards.build_card("arrests-clf@2") == edited


def test_script_in_a_written_section_is_shown_as_text(project: dict[str, Any]) -> None:
    ws = project["ws"]
    ws.cards.build_card("arrests-clf@2")
    card = ws.cards.edit_card("arrests-clf@2", "ethical_considerations", XSS)
    stored = ws.cards.get_card("arrests-clf@2")
    assert stored.section("ethical_considerations").text == XSS
    for text in (stored.to_html(), stored._repr_html_(), stored.to_markdown()):
        assert "<script" not in text and "<img" not in text
        assert "&lt;script&gt;" in text
    assert card.card_version == stored.card_version


def test_bad_input_writes_nothing(project: dict[str, Any]) -> None:
    ws = project["ws"]
    ws.cards.build_card("arrests-clf@1")
    before = _counts(ws)
    with pytest.raises(InvalidInput) as err:
        ws.cards.edit_card("arrests-clf@1", "intended_usage", "text")
    assert "did you mean 'intended_use'" in str(err.value)
    with pytest.raises(InvalidInput, match="built from recorded facts"):
        ws.cards.edit_card("arrests-clf@1", "metrics", "accuracy 0.99")
    with pytest.raises(InvalidInput):
        ws.cards.edit_card("arrests-clf@1", "intended_use", "   ")
    with pytest.raises(NotFound):
        ws.cards.edit_card("arrests-clf@9", "intended_use", "text")
    with pytest.raises(NotFound):
        ws.cards.build_card("arrests-clf@champion")
    with pytest.raises(NotFound):
        ws.cards.build_card("no-such-model@1")
    with pytest.raises(InvalidInput):
        ws.cards.build_card("../etc@1")
    with pytest.raises(NotFound, match="no card version 99"):
        ws.cards.get_card("arrests-clf@1", 99)
    assert _counts(ws) == before
    assert ws.verify_audit().ok


def test_review_and_alias_history_appear_on_the_card(project: dict[str, Any]) -> None:
    ws = project["ws"]
    ws.cards.build_card("arrests-clf@2")
    ws.models.request_review("arrests-clf@2", note="ready")
    ws.as_user("bob").models.approve("arrests-clf@2", comment="checked the group metrics")
    ws.models.promote("arrests-clf@2", alias="champion")
    card = ws.cards.build_card("arrests-clf@champion")
    assert card.spec == "arrests-clf@2"
    review = card.section("review")
    facts = dict(review.facts)
    assert facts["Review status"] == "approved" and facts["Approvals"] == 1 and facts["Aliases"] == "champion"
    actions = [(r[1], r[2]) for r in review.tables[0].rows]
    assert ("bob", "approve") in actions and ("alice", "request") in actions
    assert any(a.startswith("alias champion: - -> 2") for _, a in actions)
    life = {t.title: t for t in card.section("lifecycle").tables}
    assert [r[0] for r in life["Registered versions of arrests-clf"].rows] == [1, 2]
    assert ws.cards.get_card("arrests-clf@champion") == card


def test_cli_builds_shows_and_edits_cards(project: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    root = str(project["root"])
    base = ["-C", root, "--user", "alice", "card"]
    assert main([*base, "build", "arrests-clf@1"]) == 0
    assert "card version" in capsys.readouterr().out
    assert main([*base, "show", "arrests-clf@1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model_version"] == 1 and {s["key"] for s in data["sections"]} >= {"metrics", "intended_use"}
    assert main([*base, "edit", "arrests-clf@1", "--section", "caveats", "--text", "x"]) == 2
    assert "did you mean 'caveats_and_recommendations'" in capsys.readouterr().err
    assert main([*base, "edit", "arrests-clf@1", "--section", "out_of_scope_uses", "--text", XSS]) == 0
    capsys.readouterr()
    assert main([*base, "show", "arrests-clf@1", "--format", "html"]) == 0
    html = capsys.readouterr().out
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "&lt;script&gt;" in html
    assert main([*base, "show", "arrests-clf@1"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# Model card: arrests-clf@1") and "&lt;script&gt;" in md
    assert main([*base, "show", "arrests-clf@7"]) == 4
    assert main([*base, "history", "arrests-clf@1"]) == 0
    assert "edit out_of_scope_uses" in capsys.readouterr().out


def test_fluent_functions(project: dict[str, Any]) -> None:
    import jupyter_mlops as mlops

    mlops.use(project["ws"])
    card = mlops.build_card("arrests-clf@1")
    assert mlops.get_card("arrests-clf@1") == card
    edited = mlops.edit_card("arrests-clf@1", "risk_management", "Covered by the agency's risk register, entry R-12.")
    assert edited.card_version == card.card_version + 1
    assert isinstance(edited, mlops.ModelCard)
    assert Path(project["root"]).is_dir()
