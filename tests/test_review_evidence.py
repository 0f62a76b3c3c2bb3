"""The lineage story and the review evidence: the two queries every review page renders.

One real project: a data version read in a tracked cell of a notebook inside the project, a
quality check, a logged model with evaluation (fairness by colour and sex) and card, a review by a
second user and a serving alias.
"""

from __future__ import annotations

import re

import pytest
from dashboard_scenario import MODEL, arrests_frames, set_reviewers

import jupyter_mlops as mlops
from jupyter_mlops.lineage import queries as lineage_queries
from jupyter_mlops.lineage.story import STEP_KINDS, LineageStory
from jupyter_mlops.registry import queries as registry_queries

HEX = re.compile(r"\b[0-9a-f]{16,}\b")


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[mlops.Workspace, str]:
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("evidence") / "project"
    ws = mlops.init(root, user="alice")
    set_reviewers(ws, "bob")
    X_train, X_test, y_train, y_test, sens = arrests_frames(900)
    notebook = root / "notebooks" / "train.ipynb"
    source = {"notebook": str(notebook), "cell_id": "c0ffee12-cell", "cell_source": "model.fit(X, y)"}
    with ws.start_run("train-final", experiment="arrests", source=source):
        train = ws.data.version(X_train.assign(released=y_train), "arrests-train")
        rules = root / "rules.yaml"
        rules.write_text("version: 1\ncolumns:\n  age:\n    ge: 12\n")
        ws.quality.check(train.spec, rules)
        model = LogisticRegression(max_iter=500).fit(X_train, y_train)
        ref = ws.models.log_model(model, MODEL, X_example=X_train.head()).ref
    ws.evaluation.evaluate(
        model, X_test, y_test, sensitive_features=sens, model_version=ref, n_bootstrap=10, thresholds={"accuracy": 0.5}
    )
    ws.cards.build_card(ref)
    ws.models.request_review(ref, note="ready")
    return ws, ref


def test_story_tells_the_path_by_name_and_version(reviewed: tuple[mlops.Workspace, str]) -> None:
    ws, ref = reviewed
    story = lineage_queries.story(ws, f"{MODEL}@latest")
    kinds = [s.kind for s in story.steps]
    assert kinds == ["cell", "data", "run", "model", "evaluation", "card", "review"]
    assert kinds == sorted(kinds, key=STEP_KINDS.index)  # the story's order
    cell, data = story.steps[0], story.steps[1]
    assert cell.label == "notebooks/train.ipynb \u00b7 cell c0ffee12"  # relative to the project
    assert data.label == "arrests-train@1" and "quality passed" in data.detail and data.status == "passed"
    assert story.steps[2].label == "train-final (arrests)"
    for step in story.steps:
        assert not HEX.search(step.label), step.label  # ids live in details, not labels
        assert str(ws.settings.root) not in step.label + step.detail
    assert story.summary == f"{ref} was trained on arrests-train@1; waiting for review."
    assert LineageStory.from_dict(story.to_dict()) == story


def test_evidence_bundle_then_approve_and_alias(reviewed: tuple[mlops.Workspace, str]) -> None:
    ws, ref = reviewed
    ev = registry_queries.review_evidence(ws, ref, roles=ws.roles_of())
    assert ev.ref == ref and not ev.may_decide
    assert any("author" in b for b in ev.blockers) and any("reviewers list" in b for b in ev.blockers)
    accuracy = next(m for m in ev.metrics if m.name == "accuracy")
    assert accuracy.threshold == ">= 0.5" and accuracy.passed is True and not accuracy.lower_is_better
    assert accuracy.ci_low is not None and accuracy.ci_low <= accuracy.value <= accuracy.ci_high
    assert {m.name for m in ev.metrics if m.lower_is_better} >= {"brier", "log_loss"} & {m.name for m in ev.metrics}
    assert {f.feature for f in ev.fairness} >= {"colour", "sex"}
    colour = next(f for f in ev.fairness if f.feature == "colour")
    assert {g["group"] for g in colour.groups} == {"Black", "White"} and sum(g["n"] for g in colour.groups) == 270
    assert [(d.spec, d.quality, d.quality_failed) for d in ev.data] == [("arrests-train@1", "passed", 0)]
    assert ev.card_version == 1 and any(line.title == "Model Details" for line in ev.card)
    assert [r.action for r in ev.reviews] == ["request"]
    payload = ev.to_dict()
    assert payload["may_decide"] is False and payload["story"]["summary"] == ev.story.summary

    bob = mlops.Workspace.open(ws.settings.root, user="bob")
    assert registry_queries.review_evidence(bob, ref, roles=bob.roles_of()).blockers == ()
    bob.models.approve(ref, comment="rates within policy")
    bob.models.promote(ref, "champion")
    story = lineage_queries.story(ws, f"{MODEL}@champion")
    assert [s.label for s in story.of_kind("review")] == ["review requested by alice", "approved by bob"]
    assert [s.label for s in story.of_kind("alias")] == [f"{MODEL}@champion"]
    assert story.of_kind("alias")[0].actor == "bob"
    assert story.summary.startswith(f"{ref} was trained on arrests-train@1; approved by bob on ")
    after = registry_queries.review_evidence(bob, ref, roles=bob.roles_of())
    assert after.blockers == (f"{ref} is not waiting for review (status: approved)",)


def test_unknown_version_is_one_clear_error(reviewed: tuple[mlops.Workspace, str]) -> None:
    ws, _ = reviewed
    with pytest.raises(mlops.NotFound, match="arrests-clf has versions 1"):
        lineage_queries.story(ws, f"{MODEL}@7")
    with pytest.raises(mlops.NotFound, match="no alias 'nope'"):
        registry_queries.review_evidence(ws, f"{MODEL}@nope")
