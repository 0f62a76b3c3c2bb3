"""Bad input never reaches a kernel or a traceback: parameter names, workspace internals, one-line errors.

- A parameter name is code once papermill injects it (``name = value``): every ``-p`` name, every
  ``parameters:`` key of ``pipeline.yaml`` and every key given to ``run_notebook`` must be a Python
  identifier and not a keyword, refused with exit 2 before any kernel starts. Values stay data:
  more than 100 hostile values go through one real kernel and come back unchanged.
- The workspace's internals (``.mlops/``: databases, signing key, objects) are refused as data by
  the one path validator, however they are reached (directly, through a link, inside a folder).
- A file name over 255 bytes, a truncated ``mlflow.db`` and a database URL whose driver is not
  installed each give one line with the right exit code.
"""

from __future__ import annotations

import json
import keyword
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pipeline_helpers import write_notebook

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main
from jupyter_mlops.core.paths import validate_parameter_name, validate_parameters
from jupyter_mlops.errors import InvalidInput, UnsafePath

HOSTILE_NAMES: list[Any] = [
    'C\nimport os; os.system("touch PWNED")\nzz',
    "C\r\nimport os",
    "C\rimport os",
    "a\nb",
    "a;import os",
    "a=1;import os",
    "a = 1",
    "__import__('os').system('touch PWNED')",
    "exec('import os')",
    "a#",
    "a #comment",
    "a'",
    'a"',
    "a\\",
    "a)",
    "(a",
    "a,b",
    "a, b",
    "a:b",
    "a: int",
    "*a",
    "**a",
    "a[0]",
    "a.b",
    "a.__class__",
    "os.environ",
    "@a",
    "a@b",
    "$a",
    "a$",
    "`a`",
    "a{b}",
    "{{a}}",
    "${a}",
    "${params.x}",
    "%(a)s",
    "a%",
    "a-b",
    "a+b",
    "a/b",
    "../a",
    "a b",
    " a",
    "a ",
    "\ta",
    "a\t",
    "a\x00",
    "\x00",
    "a\x0bb",
    "a\x0cb",
    "a\u2028b",
    "a\u2029b",
    "a\x85b",
    "a\u200bb",
    "\u202eab",
    "a\ufeff",
    "",
    " ",
    "1bad",
    "1",
    "0x1",
    "1e3",
    "\u0661a",
    "²",
    "-a",
    "--help",
    "a!",
    "a?",
    "a<b",
    "a>b",
    "a|b",
    "a&b",
    "a^b",
    "a~",
    "\N{FULLWIDTH LATIN SMALL LETTER A}",
    "\N{BLACK-LETTER CAPITAL H}x",
    "ﬁle",
    "__debug__",
    "a" * 300,
    "🙂",
    "a🙂",
    "λ=1",
    "'",
    '"""',
    "lambda: 0",
    "a\n",
    "\na",
    *keyword.kwlist,
    1,
    None,
    b"bytes",
    ("a",),
    1.5,
]

CODE_LIKE = "'); import os; os.system('touch PWNED'); ('"
HOSTILE_VALUES: list[Any] = [
    CODE_LIKE,
    '"); import os; os.system("touch PWNED"); ("',
    "'''",
    '"""',
    "'''; import os; os.system('touch PWNED'); '''",
    '"""; import os; os.system("touch PWNED"); """',
    "\\",
    "\\'",
    '\\"',
    "\\\\",
    "\\n",
    "\\x00",
    "\\u0041",
    "\\N{BULLET}",
    "\n",
    "\r\n",
    "\nimport os\nos.system('touch PWNED')\n",
    "\x00",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "\t",
    "\u2028",
    "\u202e",
    "\ufeff",
    "🙂",
    "ｆｕｌｌ",
    "Ⅻ",
    "$(touch PWNED)",
    "`touch PWNED`",
    "; touch PWNED",
    "| touch PWNED",
    "&& touch PWNED",
    "{{7*7}}",
    "${7*7}",
    "#{7*7}",
    "%s%s%s%n",
    "{0.__class__}",
    "__import__('os').system('touch PWNED')",
    "os.system('touch PWNED')",
    "exec(\"import os; os.system('touch PWNED')\")",
    "lambda: 0",
    "None",
    "True",
    "False",
    "nan",
    "inf",
    "1e309",
    "0x10",
    "1_000",
    "-0",
    "",
    " ",
    "a" * 10_000,
    "<script>alert(1)</script>",
    "' OR '1'='1",
    '"; DROP TABLE runs; --',
    "../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows",
    "%00",
    "%2e%2e",
    "${jndi:ldap://x/a}",
    "!!python/object/apply:os.system ['touch PWNED']",
    "--- !!python/object:os.system",
    "2024-01-01",
    "2024-01-01 10:00:00",
    "yes",
    "on",
    "~",
    "null",
    0,
    -1,
    10**30,
    -(10**30),
    2**63,
    0.1,
    -0.0,
    1e-300,
    1.7976931348623157e308,
    True,
    False,
    None,
    [],
    {},
    [CODE_LIKE, "\n", None, 1.5],
    [[[[["deep"]]]]],
    {"a": CODE_LIKE},
    {"a\nimport os": 1},
    {"__class__": "x", "__init__": "y"},
    {"'": '"', '"': "'"},
    {"nested": {"list": [1, {"x": "\\"}]}},
    {"1": 1, "2.5": 2},
    ["'''", '"""', "\\"],
    [True, False, None],
    {"": ""},
    {"k": [{"k": [{"k": "v"}]}]},
    "\u0000\u0001\u0002\u001f",
    "\x7f",
    "\udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
    "é",
    "e\u0301",
    float("nan"),
    float("inf"),
    float("-inf"),
    "中文",
    "العربية",
    "עברית",
]


def test_corpora_are_big_enough() -> None:
    assert len(HOSTILE_NAMES) >= 100
    assert len(HOSTILE_VALUES) >= 100


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_every_hostile_name_is_refused_by_the_one_validator(name: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_parameter_name(name)
    assert err.value.exit_code == 2
    assert "parameter" in err.value.message
    assert "\n" not in err.value.message.replace("\\n", "")  # one line, the value shown escaped


def test_plain_identifiers_pass() -> None:
    for name in ("C", "max_iter", "_private", "x1", "Été", "données", "match", "case", "_"):
        assert validate_parameter_name(name) == name


def test_cli_refuses_every_hostile_name_before_any_kernel(
    ws: mlops.Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ws.settings.root
    write_notebook(root / "nb.ipynb", ["print(C)"], "C = 0.5")
    head = ws.verify_audit().head_seq
    monkeypatch.chdir(root)
    refused = 0
    for name in HOSTILE_NAMES:
        if not isinstance(name, str) or "\x00" in name:
            continue  # argv cannot carry these; the Python API test covers them
        code = main(["run", "nb.ipynb", "-p", name, "1"])
        err = capsys.readouterr().err
        assert code == 2, (name, err)
        if not name.startswith("-"):  # argparse itself refuses an option-like NAME (a usage error too)
            assert err.startswith("error: invalid -p name") and err.count("\n") == 1, err
        refused += 1
    assert refused >= 90
    assert ws.verify_audit().head_seq == head  # nothing was recorded: no run, no kernel
    assert not (root / "PWNED").exists()


def test_the_issue_injection_through_a_real_cli_process(ws: mlops.Workspace) -> None:
    root = ws.settings.root
    write_notebook(root / "nb.ipynb", ["print(C)"], "C = 0.5")
    name = 'C\nimport os; os.system("touch X")\nzz'
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli.main", "run", "nb.ipynb", "-p", name, "1"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JUPYTER_MLOPS_USER": "alice"},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "not a Python identifier" in done.stderr
    assert not (root / "X").exists()
    assert ws.list_runs().runs == ()
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli.main", "run", "nb.ipynb", "-p", "1bad", "2"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "invalid -p name '1bad'" in done.stderr and "SyntaxError" not in done.stderr


def test_run_notebook_refuses_hostile_keys(ws: mlops.Workspace) -> None:
    nb = write_notebook(ws.settings.root / "nb.ipynb", ["print(C)"], "C = 0.5")
    for name in [n for n in HOSTILE_NAMES if isinstance(n, (str, int)) or n is None][:40]:
        with pytest.raises(InvalidInput):
            ws.pipelines.run_notebook(nb, {name: 1})
    with pytest.raises(InvalidInput, match="lone surrogate"):
        ws.pipelines.run_notebook(nb, {"C": "\udcff"})
    with pytest.raises(InvalidInput, match="cannot be passed to a notebook as data"):
        ws.pipelines.run_notebook(nb, {"C": object()})
    assert ws.list_runs().runs == ()


def test_pipeline_yaml_refuses_hostile_parameter_and_sweep_keys(ws: mlops.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    root = ws.settings.root
    write_notebook(root / "nb.ipynb", ["print(C)"], "C = 0.5")
    names = [n for n in HOSTILE_NAMES if isinstance(n, str) and "\x00" not in n and n.strip() and len(n) < 200][:30]
    stages = {f"s{i}": {"notebook": "nb.ipynb", "parameters": {name: 1}} for i, name in enumerate(names)}
    stages["sweep"] = {"notebook": "nb.ipynb", "sweep": {"grid": {"1bad": [1, 2]}, "select": {"metric": "m"}}}
    (root / "pipeline.yaml").write_text(json.dumps({"stages": stages}), encoding="utf-8")  # JSON is YAML
    with pytest.raises(InvalidInput) as err:
        ws.pipelines.load(root / "pipeline.yaml")
    problems = err.value.details["problems"]
    assert len([p for p in problems if "parameter name" in p and "sweep" not in p]) == len(names), problems
    assert any("sweep grid parameter name '1bad'" in p for p in problems), problems
    monkeypatch.chdir(root)
    assert main(["run", "pipeline.yaml"]) == 2
    assert ws.list_runs().runs == ()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def test_hostile_values_stay_data_in_a_real_kernel(ws: mlops.Workspace) -> None:
    root = ws.settings.root
    values = {f"p{i}": v for i, v in enumerate(HOSTILE_VALUES)}
    assert validate_parameters(values) == values
    defaults = "\n".join(f"p{i} = None" for i in range(len(values)))
    dump = (
        "import json, math\n"
        f"names = [f'p{{i}}' for i in range({len(values)})]\n"
        "def enc(v):\n"
        "    if isinstance(v, float) and not math.isfinite(v):\n"
        "        return {'float': repr(v)}\n"
        "    return v\n"
        "json.dump({n: enc(globals()[n]) for n in names}, open('received.json', 'w'))"
    )
    nb = write_notebook(root / "values.ipynb", [dump], defaults)
    rec = ws.pipelines.run_notebook(nb, values)
    assert rec.outcome == "SUCCEEDED", (rec.message, rec.traceback)
    received = json.loads((root / "received.json").read_text(encoding="utf-8"))
    for key, sent in values.items():
        got = received[key]
        if isinstance(sent, float) and not math.isfinite(sent):
            assert got == {"float": repr(sent)}
        else:
            assert got == _jsonable(sent), key
            assert type(got) is type(_jsonable(sent)), key
    assert not (root / "PWNED").exists() and not (root.parent / "PWNED").exists()


def test_cli_values_are_read_as_data_and_dates_stay_text(ws: mlops.Workspace) -> None:
    from jupyter_mlops.cli.cmd_pipeline import _value

    assert _value("2024-01-01") == "2024-01-01"
    assert _value("3") == 3 and _value("0.5") == 0.5 and _value("true") is True
    assert _value("!!python/object/apply:os.system ['touch PWNED']") == "!!python/object/apply:os.system ['touch PWNED']"
    assert not Path("PWNED").exists()


# -- the workspace's internals are not data ------------------------------------------------------
def test_internals_are_refused_however_they_are_reached(
    ws: mlops.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ws.settings.root
    key = root / ".mlops" / "keys" / "audit_ed25519.pem"
    objects_before = sorted(p.name for p in (root / ".mlops" / "objects").rglob("*"))
    attempts: list[Any] = [
        key,
        str(key),
        root / ".mlops" / "mlops.db",
        root / ".mlops" / "config.toml",
        root / ".mlops",
        root / ".mlops" / "keys",
        root,  # a folder that holds the workspace
    ]
    link = tmp_path / "innocent.pem"
    link.symlink_to(key)
    attempts.append(link)
    outer = tmp_path / "outer"
    (outer / "nested").mkdir(parents=True)
    (outer / "data.csv").write_text("a\n1\n")
    mlops.init(outer / "nested", user="alice")
    attempts.append(outer)  # a folder with another workspace somewhere below it
    monkeypatch.chdir(root)
    attempts.append(".mlops/keys/audit_ed25519.pem")
    for target in attempts:
        with pytest.raises(UnsafePath, match=r"\.mlops") as err:
            ws.data.version(target, "stolen")
        assert err.value.exit_code == 2
    assert sorted(p.name for p in (root / ".mlops" / "objects").rglob("*")) == objects_before
    assert ws.audit_events(action="data.*") == []
    with pytest.raises(UnsafePath, match=r"\.mlops"):
        ws.quality.check(pd.DataFrame({"a": [1]}), root / ".mlops" / "config.toml")
    nb = write_notebook(root / "nb.ipynb", ["print(1)"], "C = 1")
    with pytest.raises(UnsafePath, match=r"\.mlops"):
        ws.pipelines.run_notebook(nb, output=root / ".mlops" / "evil.ipynb")


def test_pipeline_file_inputs_and_outputs_refuse_internals(ws: mlops.Workspace) -> None:
    root = ws.settings.root
    write_notebook(root / "nb.ipynb", ["print(1)"], "C = 1")
    (root / "pipeline.yaml").write_text(
        "stages:\n  s:\n    notebook: nb.ipynb\n"
        "    inputs: [{file: .mlops/keys/audit_ed25519.pem}]\n"
        "    outputs: [{file: .mlops/mlops.db}]\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as err:
        ws.pipelines.load(root / "pipeline.yaml")
    problems = err.value.details["problems"]
    assert len([p for p in problems if ".mlops/ folder" in p]) == 2, problems


# -- one clear line ---------------------------------------------------------------------------------
def _cli(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli.main", *argv],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}, "JUPYTER_MLOPS_USER": "alice"},
    )


def test_a_name_over_255_bytes_is_one_line(ws: mlops.Workspace) -> None:
    root = ws.settings.root
    long_name = "é" * 130 + ".ipynb"  # 266 bytes in UTF-8, 136 characters
    for argv in (["run", long_name], ["run", "x" * 300 + ".yaml"]):
        done = _cli(root, *argv)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "255 bytes" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and "File name too long" not in done.stderr
    with pytest.raises(UnsafePath, match="255 bytes"):
        ws.data.version(str(root / ("d" * 256 + ".csv")), "long")
    (root / "pipeline.yaml").write_text(f"stages:\n  s:\n    notebook: {'n' * 300}.ipynb\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="255 bytes"):
        ws.pipelines.load(root / "pipeline.yaml")


def test_a_truncated_mlflow_db_is_one_line(ws: mlops.Workspace) -> None:
    with ws.start_run("before") as run:
        run.log_metric("m", 1)
    db = ws.settings.home / "mlflow.db"
    with open(db, "r+b") as fh:
        fh.truncate(db.stat().st_size // 3)
    for argv in (["runs", "list"], ["runs", "show", "0" * 32]):
        done = _cli(ws.settings.root, *argv)
        assert done.returncode == 3, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert "mlflow.db" in done.stderr and "restore" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("section", "url", "module", "argv"),
    [
        ("metadata", "postgresql+psycopg://mlops@127.0.0.1:1/mlops", "psycopg", ["runs", "list"]),
        ("metadata", "postgresql://mlops@127.0.0.1:1/mlops", "psycopg", ["audit", "verify"]),
        ("tracking", "postgresql://mlops@127.0.0.1:1/mlflow", "psycopg", ["runs", "show", "0" * 32]),
    ],
)
def test_a_database_url_without_its_driver_names_the_extra(
    ws: mlops.Workspace, section: str, url: str, module: str, argv: list[str]
) -> None:
    config = ws.settings.home / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(f"[{section}]\n", f'[{section}]\nuri = "{url}"\nurl = "{url}"\n')
    )
    # The driver may be installed here (the team extra); block its import so the run sees it missing.
    code = f"import sys; sys.modules[{module!r}] = None\nfrom jupyter_mlops.cli.main import main\nsys.exit(main({argv!r}))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ws.settings.root, capture_output=True, text=True, timeout=120, env={**os.environ}
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"({module})" in done.stderr and "pip install 'jupyter-mlops[team]'" in done.stderr, done.stderr
