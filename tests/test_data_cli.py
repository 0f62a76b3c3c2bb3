"""`jupyter-mlops data ...` and the shared command table (the magic uses the same functions)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.cli.commands import CommandUsageError, Context, build_parser
from jupyter_mlops.cli.main import main


def test_cli_version_list_show_diff_verify(ws: mlops.Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(ws.settings.root)
    csv = tmp_path / "people.csv"
    csv.write_text("id,name\n1,a\n2,b\n")
    assert main(["-C", root, "--user", "alice", "data", "version", str(csv), "--name", "people", "--description", "d"]) == 0
    assert "people@1" in capsys.readouterr().out
    csv.write_text("id,name\n1,a\n2,c\n")
    assert main(["-C", root, "data", "version", str(csv), "--name", "people"]) == 0
    capsys.readouterr()
    assert main(["-C", root, "--json", "data", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [v["spec"] for v in listed["versions"]] == ["people@2", "people@1"]
    assert main(["-C", root, "data", "show", "people@1"]) == 0
    assert "mlops-object:" in capsys.readouterr().out
    assert main(["-C", root, "data", "diff", "people@1", "people@2"]) == 0
    assert "people@1 -> people@2" in capsys.readouterr().out
    assert main(["-C", root, "data", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    obj = ws.objects.path(ws.data.get("people@1").object_id)
    obj.unlink()
    assert main(["-C", root, "data", "verify"]) == 7
    assert "1 missing" in capsys.readouterr().out
    assert main(["-C", root, "data", "show", "nobody@1"]) == 4
    assert "no data set named 'nobody'" in capsys.readouterr().err


def test_magic_context_versions_a_notebook_variable(ws: mlops.Workspace) -> None:
    df = pd.DataFrame({"id": [1, 2], "colour": ["a", "b"]})
    parser = build_parser("%mlops")
    ctx = Context(open_workspace=lambda: ws, namespace={"df": df}, interactive=True)
    args = parser.parse_args(["data", "version", "df", "--name", "arrests", "--key", "id", "--sensitive", "colour"])
    result = args.func(ctx, args)
    assert result.value.spec == "arrests@1" and result.value.sensitive == ("colour",) and result.value.key == ("id",)
    assert result.value.source["variable"] == "df"
    assert "arrests@1" in result.value._repr_html_()
    args = parser.parse_args(["data", "version", "dff", "--name", "arrests"])
    with pytest.raises(CommandUsageError, match="no variable named 'dff'"):
        args.func(ctx, args)


def test_data_check_command_passes_fails_and_stops(
    ws: mlops.Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(ws.settings.root)
    rules = tmp_path / "rules.yaml"
    rules.write_text("columns:\n  age:\n    dtype: int64\n    ge: 0\n    le: 120\n")
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("id,age\n1,30\n2,40\n")
    bad.write_text("id,age\n1,30\n2,400\n")
    for name, path in (("good", good), ("bad", bad)):
        assert main(["-C", root, "data", "version", str(path), "--name", name]) == 0
    ws.data.version(pd.read_csv(good), "good-frame")
    ws.data.version(pd.read_csv(bad), "bad-frame")
    capsys.readouterr()
    assert main(["-C", root, "data", "check", "good-frame@1", "--rules", str(rules)]) == 0
    assert "PASSED" in capsys.readouterr().out
    # a failing check reports every failure; without --fail-on it is information, with it the command fails
    assert main(["-C", root, "data", "check", "bad-frame@1", "--rules", str(rules)]) == 0
    assert "FAILED" in capsys.readouterr().out
    assert main(["-C", root, "--json", "data", "check", "bad-frame@1", "--rules", str(rules), "--fail-on", "error"]) == 1
    reports = ws.quality.reports_for("bad-frame@1")
    assert len(reports) == 2 and not reports[0].passed  # stored even when the command stops the pipeline
    assert {f.column for f in reports[0].failures} == {"age"}
    typo = tmp_path / "typo.yaml"
    typo.write_text("columns:\n  age:\n    isn: [1]\n")
    assert main(["-C", root, "data", "check", "good-frame@1", "--rules", str(typo)]) == 2
    assert "did you mean 'isin'" in capsys.readouterr().err
