"""The YAML rules format: what it compiles to, and how it refuses typos and bad values."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from jupyter_mlops.errors import InvalidInput, UnsafePath, UnsupportedData
from jupyter_mlops.quality.rules import load_rules, rules_from_schema

EXAMPLE = Path(__file__).resolve().parent.parent / "example_notebooks" / "rules" / "arrests.yaml"


def _write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_arrests_rules_compile_to_a_pandera_schema() -> None:
    rules = load_rules(EXAMPLE)
    assert isinstance(rules.schema, pa.DataFrameSchema)
    assert set(rules.schema.columns) == {"released", "colour", "year", "age", "sex", "employed", "citizen", "checks"}
    assert rules.schema.strict is True
    assert rules.source == "arrests.yaml"
    assert len(rules.sha256) == 64
    # ranges and allowed values became pandera checks, labelled by their YAML key
    assert [c.name for c in rules.schema.columns["age"].checks] == ["greater_than_or_equal_to", "less_than_or_equal_to"]
    assert rules.column_labels[("age", 1)].check == "le" and rules.column_labels[("age", 1)].expected == "100"
    assert rules.frame_labels[2].check == "checks_not_above_age"
    assert rules.frame_labels[2].columns == ("checks", "age")
    assert rules.n_checks > 30


def test_rules_hash_is_the_hash_of_the_file_bytes(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    shutil.copy(EXAMPLE, copy)
    assert load_rules(copy).sha256 == load_rules(EXAMPLE).sha256
    copy.write_text(copy.read_text() + "\n# a comment changes the evidence\n")
    assert load_rules(copy).sha256 != load_rules(EXAMPLE).sha256


def test_typo_in_a_column_check_says_did_you_mean_with_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "columns:\n  released:\n    dtype: str\n    isn: ['Yes', 'No']\n")
    with pytest.raises(InvalidInput) as info:
        load_rules(path)
    text = str(info.value)
    assert "rules.yaml, line 4, column 5" in text
    assert "unknown check for column 'released' 'isn'" in text
    assert "did you mean 'isin'?" in text
    assert info.value.field == "columns.released.isn"


def test_typo_in_a_top_level_key_and_in_a_cross_check(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"line 1, column 1.*did you mean 'min_rows'"):
        load_rules(_write(tmp_path, "min_row: 10\n"))
    text = "columns:\n  a: {dtype: int64}\nchecks:\n  - check: lte\n    left: a\n    right: b\n"
    with pytest.raises(InvalidInput) as info:
        load_rules(_write(tmp_path, text, "cross.yaml"))
    assert "cross.yaml, line 4" in str(info.value)
    assert "unknown cross-column check 'lte'" in str(info.value)
    assert "did you mean 'le'?" in str(info.value)


def test_unknown_dtype_suggests_a_known_one(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"unknown dtype 'int46'.*did you mean 'int64'"):
        load_rules(_write(tmp_path, "columns:\n  age:\n    dtype: int46\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns:\n  age:\n    ge: twelve\n", None),  # text is a legal bound for text columns, so this compiles
        ("columns:\n  age:\n    ge: [1, 2]\n", "expected a single value"),
        ("columns:\n  age:\n    ge: true\n", "expected a number or a date"),
        ("columns:\n  s:\n    isin: []\n", "non-empty list"),
        ("columns:\n  s:\n    str_matches: '(['\n", "invalid regular expression"),
        ("columns:\n  s:\n    str_length: {min: -1}\n", "str_length must be"),
        ("columns:\n  s:\n    nullable: maybe\n", "nullable must be true or false"),
        ("min_rows: -3\n", "min_rows must be a whole number"),
        ("min_rows: 10\nmax_rows: 5\n", "max_rows 5 is below min_rows 10"),
        ("version: 2\n", "unknown rules format version"),
        ("- just\n- a list\n", "a rules file is a mapping"),
        ("columns: [a, b]\n", "'columns' must map"),
        ("checks:\n  - {check: le, left: a}\n", "compares two columns"),
        ("checks:\n  - {check: unique, columns: a}\n", "list of column names"),
        ("columns:\n  a: {dtype: int64}\n  a: {dtype: str}\n", "duplicate key 'a'"),
        ("columns:\n  a: {dtype: int64\n", "fix the YAML syntax"),
    ],
)
def test_bad_values_are_refused_with_the_location(tmp_path: Path, text: str, message: str | None) -> None:
    path = _write(tmp_path, text)
    if message is None:
        assert load_rules(path).schema.columns["age"].checks[0].statistics == {"min_value": "twelve"}
        return
    with pytest.raises(InvalidInput, match=message) as info:
        load_rules(path)
    assert "rules.yaml" in str(info.value)


def test_missing_rules_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePath, match="no such file"):
        load_rules(tmp_path / "nope.yaml")


def test_rules_never_evaluate_strings(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = (
        "columns:\n  a:\n    ge: \"__import__('pathlib').Path('" + marker.as_posix() + "').touch()\"\n"
        "checks:\n  - {check: le, left: \"__import__('os')\", right: a}\n"
    )
    rules = load_rules(_write(tmp_path, text))
    from pandera.errors import SchemaErrors

    with pytest.raises(SchemaErrors):
        rules.schema.validate(pd.DataFrame({"a": [1, 2]}), lazy=True)
    assert not marker.exists()


def test_python_yaml_tags_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="fix the YAML syntax"):
        load_rules(_write(tmp_path, "columns: !!python/object/apply:os.system ['true']\n"))


def test_pandera_schema_and_model_are_accepted_as_rules() -> None:
    schema = pa.DataFrameSchema({"a": pa.Column(int, pa.Check.ge(0))}, name="mine")
    wrapped = rules_from_schema(schema)
    assert wrapped.schema is schema and wrapped.source == "pandera schema mine" and len(wrapped.sha256) == 64
    assert rules_from_schema(pa.DataFrameSchema({"a": pa.Column(int, pa.Check.ge(0))}, name="mine")).sha256 == wrapped.sha256

    class Model(pa.DataFrameModel):
        a: int = pa.Field(ge=0)

    assert set(rules_from_schema(Model).schema.columns) == {"a"}
    with pytest.raises(UnsupportedData, match="pandera DataFrameSchema or a path"):
        rules_from_schema({"columns": {}})
