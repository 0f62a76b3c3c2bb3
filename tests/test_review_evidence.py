"""The lineage story and the review evidence: the two queries every review page renders.

One real project: a data version read in a tracked cell of a notebook inside the project, a
quality check, a logged model with evaluation (fairness by colour and sex) and card, a review by a
second user and a serving alias.
"""

from __future__ import annotations

import re

import pytest
from dashboard_scenario import MODEL, make_story_model, set_reviewers

import jupyter_mlops as mlops
from jupyter_mlops.lineage import queries as lineage_queries
from jupyter_mlops.lineage.story import STEP_KINDS, LineageStory
from jupyter_mlops.registry.evidence import review_evidence

HEX = re.compile(r"\b[0-9a-f]{16,}\b")


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[mlops.Workspace, str]:
    root = tmp_path_factory.mktemp("evidence") / "project"
    ws = mlops.init(root, user="alice")
    set_reviewers(ws, "bob")
    return ws, make_story_model(ws, root / "notebooks" / "train.ipynb")


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
    ev = review_evidence(ws, ref, roles=ws.roles_of())
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
    assert review_evidence(bob, ref, roles=bob.roles_of()).blockers == ()
    bob.models.approve(ref, comment="rates within policy")
    bob.models.promote(ref, "champion")
    story = lineage_queries.story(ws, f"{MODEL}@champion")
    assert [s.label for s in story.of_kind("review")] == ["review requested by alice", "approved by bob"]
    assert [s.label for s in story.of_kind("alias")] == [f"{MODEL}@champion"]
    assert story.of_kind("alias")[0].actor == "bob"
    assert story.summary.startswith(f"{ref} was trained on arrests-train@1; approved by bob on ")
    after = review_evidence(bob, ref, roles=bob.roles_of())
    assert after.blockers == (f"{ref} is not waiting for review (status: approved)",)


def test_unknown_version_is_one_clear_error(reviewed: tuple[mlops.Workspace, str]) -> None:
    ws, _ = reviewed
    with pytest.raises(mlops.NotFound, match="arrests-clf has versions 1"):
        lineage_queries.story(ws, f"{MODEL}@7")
    with pytest.raises(mlops.NotFound, match="no alias 'nope'"):
        review_evidence(ws, f"{MODEL}@nope")
