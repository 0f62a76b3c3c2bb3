"""Model cards built from constructed facts: "unknown" handling, escaping, Annex IV mapping, round trips."""

from __future__ import annotations

import json
import re

import pytest

from jupyter_mlops.cards.assemble import RecordedFacts, assemble_card
from jupyter_mlops.cards.card import (
    ANNEX_IV,
    SECTIONS,
    UNKNOWN,
    WRITTEN_SECTIONS,
    ModelCard,
)
from jupyter_mlops.cards.render import md_escape
from jupyter_mlops.cards.spec import check_text, normalize_section_key
from jupyter_mlops.errors import InvalidInput

XSS = "<script>alert('x')</script><img src=x onerror=alert(1)> [click](javascript:alert(1)) ![i](http://evil/x.png)"
MITCHELL = [
    "Model Details",
    "Intended Use",
    "Factors",
    "Metrics",
    "Evaluation Data",
    "Training Data",
    "Quantitative Analyses",
    "Ethical Considerations",
    "Caveats and Recommendations",
]


def _facts() -> RecordedFacts:
    return RecordedFacts(
        model_name="arrests-clf",
        model_version=3,
        model={
            "type": "Pipeline(LogisticRegression)",
            "author": "alice",
            "created": "2026-01-02T03:04:05+00:00",
            "run_id": "abc123",
            "code_hash": "f" * 64,
            "artifacts": {"model.skops": "a" * 64},
        },
        params={"C": "0.5", "penalty": "<b>l2</b>"},
        environment={"python": "3.11.7", "packages": {"scikit-learn": "1.9.1", "numpy": "2.4.6", "leftpad": "1.0"}},
        training_data=[
            {
                "spec": "arrests@2",
                "fingerprint": "b" * 64,
                "rows": 5226,
                "columns": 8,
                "sensitive_columns": ["colour"],
                "profile": {
                    "columns": [
                        {
                            "name": "colour",
                            "dtype": "string",
                            "nulls": 0,
                            "distinct": 2,
                            "top": [["SECRETVALUE", 10]],
                            "min": "SECRETMIN",
                            "max": "SECRETMAX",
                        },
                        {"name": "age", "dtype": "int64", "nulls": 0, "distinct": 50, "min": 12, "max": 66, "mean": 23.8},
                    ]
                },
                "quality": [{"id": "qr-1", "ts": "2026-01-01", "passed": True, "failures": 0, "suite": "rules.yaml"}],
            }
        ],
        evaluation={
            "id": "e1",
            "task": "binary",
            "metrics": {
                "accuracy": {"value": 0.8123, "ci_low": 0.79, "ci_high": 0.83},
                "roc_auc": {"value": 0.71, "ci_low": None, "ci_high": None},
            },
            "thresholds": {"accuracy": ">= 0.7"},
            "passed": True,
            "fairness": [
                {
                    "feature": "colour",
                    "groups": [
                        {"group": "colour=Black", "n": 1288, "selection_rate": 0.92},
                        {"group": "colour=White", "n": 3938, "selection_rate": 0.99},
                    ],
                    "disparities": {"demographic_parity_difference": 0.07},
                }
            ],
        },
    )


def test_a_card_with_nothing_recorded_says_unknown_and_never_guesses() -> None:
    card = assemble_card(RecordedFacts("m", 1))
    for key in (
        "metrics",
        "factors",
        "training_data",
        "evaluation_data",
        "quantitative_analyses",
        "review",
        "environment",
        "lifecycle",
    ):
        section = card.section(key)
        assert not section.known, key
        assert section.text == UNKNOWN
        assert all(v == UNKNOWN for _, v in section.facts), (key, section.facts)
        assert section.tables == ()
    for key in WRITTEN_SECTIONS:
        assert card.section(key).text == UNKNOWN
    details = dict(card.section("model_details").facts)
    assert details["Name"] == "m" and details["Version"] == 1
    assert {details[k] for k in ("Type", "Developed by", "Created", "Code hash (sha256)", "Parameters")} == {UNKNOWN}
    assert all(row["status"] == UNKNOWN for row in card.annex_iv() if row["point"] in ("7", "8", "9"))
    md = card.to_markdown()
    metrics_md = md[md.index("## Metrics") : md.index("## Evaluation Data")]
    assert "unknown" in metrics_md and "accuracy" not in metrics_md
    html = card.to_html()
    metrics_html = html[html.index("id='metrics'") : html.index("id='evaluation_data'")]
    assert "<span class='unknown'>unknown</span>" in metrics_html


def test_sections_follow_mitchell_and_every_point_of_annex_iv_is_mapped() -> None:
    card = assemble_card(_facts())
    mitchell = list(dict.fromkeys(s.mitchell for s in card.sections if s.mitchell))
    assert mitchell == MITCHELL
    assert [p for p, _ in ANNEX_IV] == [str(i) for i in range(1, 10)]
    table = card.annex_iv()
    assert [r["point"] for r in table] == [str(i) for i in range(1, 10)]
    assert all(r["sections"] for r in table)
    declaration = next(r for r in table if r["point"] == "8")
    assert declaration["sections"] == ["EU Declaration of Conformity"] and declaration["status"] == UNKNOWN
    written = card.with_text("declaration_of_conformity", "DoC ref 2026-17, signed 2026-02-01")
    assert next(r for r in written.annex_iv() if r["point"] == "8")["status"] == "documented"
    html, md = card.to_html(), card.to_markdown()
    assert "EU AI Act Annex IV mapping" in html and "EU AI Act Annex IV mapping" in md
    assert "EU AI Act Annex IV: 2, 4" in html  # the Metrics heading carries its points


def test_recorded_facts_appear_with_intervals_and_groups() -> None:
    card = assemble_card(_facts())
    metrics = card.section("metrics")
    assert metrics.known
    rows = {r[0]: r for r in metrics.tables[0].rows}
    assert rows["accuracy"][1:6] == (0.8123, 0.79, 0.83, ">= 0.7", UNKNOWN)
    assert rows["roc_auc"][2] == UNKNOWN  # no interval recorded: not invented
    quant = card.section("quantitative_analyses")
    groups = quant.tables[0]
    assert groups.columns == ("group", "rows", "selection_rate")
    assert groups.rows == (("colour=Black", 1288, 0.92), ("colour=White", 3938, 0.99))
    assert dict(card.section("factors").facts)["Sensitive columns in the data"] == "colour"
    env = card.section("environment").tables[0]
    assert env.rows == (("scikit-learn", "1.9.1"), ("numpy", "2.4.6"))  # key packages only
    md = card.to_markdown()
    assert "| accuracy | 0.8123 | 0.79 | 0.83 |" in md


def test_sensitive_columns_are_named_but_their_values_never_shown() -> None:
    card = assemble_card(_facts())
    profile = card.section("training_data").tables[1]
    by_col = {r[0]: dict(zip(profile.columns, r, strict=True)) for r in profile.rows}
    assert by_col["colour"]["sensitive"] == "yes"
    assert by_col["age"]["max"] == 66  # ordinary statistics of ordinary columns stay
    for text in (card.to_html(), card.to_markdown(), card.to_json()):
        assert "colour" in text
        assert "SECRETVALUE" not in text and "SECRETMIN" not in text and "SECRETMAX" not in text


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_user_text_with_html_or_script_is_shown_as_text(fmt: str) -> None:
    facts = _facts()
    facts.params = {"note": XSS}
    card = assemble_card(facts, {"intended_use": XSS, "caveats_and_recommendations": "line one\n- not a list\n# not a heading"})
    out = card.to_html(full_document=True) if fmt == "html" else card.to_markdown()
    assert "<script" not in out.lower() and "<img" not in out.lower()
    if fmt == "html":
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in out
        assert "default-src 'none'" in out  # a CSP forbids scripts as a second line of defence
    else:
        assert "](javascript:" not in out and "](http://evil" not in out
        assert "&lt;script&gt;alert\\('x'\\)&lt;/script&gt;" in out
        assert "\\[click\\]\\(javascript:alert\\(1\\)\\)" in out
        assert "\n\\- not a list\n\\# not a heading" in out
    # the JSON keeps the exact text (it is data, not markup)
    assert json.loads(card.to_json())["sections"][1]["text"] == XSS


def test_html_is_self_contained() -> None:
    html = assemble_card(_facts(), {"intended_use": "see https://example.org/policy"}).to_html(full_document=True)
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", html, re.IGNORECASE)
    assert "src=" not in html and "@import" not in html and "url(" not in html
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html


def test_json_round_trip_keeps_the_hash() -> None:
    card = assemble_card(_facts(), {"intended_use": "Supporting release decisions, reviewed by a clerk."})
    again = ModelCard.from_dict(json.loads(card.to_json()))
    assert again == card
    assert again.sha256 == card.sha256
    edited = card.with_text("intended_use", "something else")
    assert edited.sha256 != card.sha256
    assert assemble_card(_facts(), card.written()).sha256 == card.sha256  # same records, same card


def test_section_names_are_normalised_and_unknown_ones_explained() -> None:
    assert normalize_section_key("Intended Use") == "intended_use"
    assert normalize_section_key("out-of-scope uses") == "out_of_scope_uses"
    with pytest.raises(InvalidInput) as err:
        normalize_section_key("intended_usage")
    assert "did you mean 'intended_use'" in str(err.value)
    assert err.value.field == "section"
    assert len({s.key for s in SECTIONS}) == len(SECTIONS)


def test_section_text_is_validated() -> None:
    assert check_text("  fine  ") == "fine"
    for bad in ("", "   ", "a\x00b", 42, "x" * 20_001):
        with pytest.raises(InvalidInput):
            check_text(bad)


def test_md_escape_neutralises_markdown_structure() -> None:
    assert md_escape("1. first") == "1\\. first"
    assert md_escape("a|b\nc", table=True) == "a\\|b c"
    assert md_escape("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
