"""Every code block of README.md runs here, so the README cannot drift from the code.

How a block is run (when you add one to the README, make it fit one of these rows):

==================================  =============================================================
the block                           what this test does with it
==================================  =============================================================
```python                           ``exec`` in this process, the project folder as working folder
```bash, or untagged lines of       each command runs; ``jupyter-mlops ...`` through the CLI's
commands (``jupyter-mlops``,        ``main()`` in this process (the console script's entry point),
``make``, ``.venv/bin/python``)     anything else through ``subprocess``; each must exit 0
untagged lines of ``%`` magics      one cell in a real IPython ``InteractiveShell``, extension loaded
```yaml                             a pipeline: ``load_spec`` validates it and a dry run plans it
untagged tree (``.mlops/``,         every file and folder it names exists (in a fresh workspace,
``jupyter_mlops/``)                 or in this repository)
==================================  =============================================================

- **State.** An HTML comment right above a block, ``<!-- readme-test: fixture=NAME -->``, names one
  of the FIXTURES below (each says what it prepares). Blocks that name the same fixture share its
  folder and Python namespace and run in README order, in one test; any other block gets a fresh
  folder of its own. Every folder has ``example_notebooks/rules/`` as the repository has.
- **Command syntax.** ``[...]`` marks an optional part: the brackets go and the option is run
  (so it is exercised); ``a|b|c`` inside a word keeps ``a``; `` | `` between sub-commands
  (``data list | show SPEC``) runs each one with the same program and noun; ``...`` (repeatable)
  and ``# comments`` are dropped; an indented line continues the one above. An upper-case word
  the fixture defines (``SPEC``, ``RUN_ID``) is replaced by its value (``VERB:NAME`` overrides it
  for one verb; ``VERB:user`` runs that verb as another identity). A command printing JSON with a
  ``run_id`` sets ``RUN_ID`` for the lines after it.
- **Elsewhere.** DELEGATED names fixtures whose blocks another test module runs, because they
  need a running service (a gateway in the background, the team services); this test checks that
  module exists and finds every such block (its ``readme_blocks()``), and runs none of them twice.
- **Exceptions**, kept tiny: COMMANDS maps the commands that must not run as written to what runs
  instead, each with its reason. A block this file cannot place fails the test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jupyter_mlops as mlops

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")
MARK = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->")
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*")
NAME = re.compile(r"^[\w.\-]+/?$")
PROGRAMS = ("jupyter-mlops ", "make ", ".venv/bin/python ")


@dataclasses.dataclass(frozen=True)
class Block:
    line: int
    lang: str
    code: str
    fixture: str | None


def read_blocks() -> list[Block]:
    lines = README.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start, body = i, []
        i += 1
        while not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        above = start - 1
        while above >= 0 and not lines[above].strip():
            above -= 1
        mark = MARK.search(lines[above]) if above >= 0 else None
        directive = mark.group(1) if mark else ""
        fixture = directive.removeprefix("fixture=") if directive.startswith("fixture=") else None
        if mark and fixture is None:
            raise AssertionError(f"README.md:{above + 1}: unknown readme-test directive {directive!r}")
        out.append(Block(start + 1, m.group(1), "\n".join(body), fixture))
        i += 1
    return out


def kind(block: Block) -> str:
    first = next((ln.strip() for ln in block.code.splitlines() if ln.strip()), "")
    if block.lang in ("python", "yaml"):
        return block.lang
    if block.lang in ("bash", "") and first.startswith(PROGRAMS):
        return "shell"
    if block.lang == "" and first.startswith("%"):
        return "ipython"
    if block.lang == "" and NAME.match(first) and first.endswith("/"):
        return "tree"
    raise AssertionError(
        f"README.md:{block.line}: this test does not know how to run a ```{block.lang} block starting {first!r}; "
        "see the table at the top of tests/test_readme.py"
    )


#: fixture -> the test module that runs its blocks (it must read them from README.md itself)
DELEGATED = {"served-model": "test_serving_readme.py", "team-services": "test_team_readme.py"}

BLOCKS = read_blocks()
GROUPS: dict[str, list[Block]] = {}
for _b in BLOCKS:
    if _b.fixture in DELEGATED:
        continue
    GROUPS.setdefault(_b.fixture or f"{kind(_b)}-line-{_b.line}", []).append(_b)


@dataclasses.dataclass
class Ctx:
    folder: Path
    request: pytest.FixtureRequest
    ns: dict[str, Any] = dataclasses.field(default_factory=dict)
    values: dict[str, str] = dataclasses.field(default_factory=dict)


# -- fixtures: what a block group finds before it runs ---------------------------------------------
def _workspace(ctx: Ctx, *, reviewer: str | None = None) -> mlops.Workspace:
    """A workspace in the folder, acting as alice; ``reviewer`` is listed in ``[review] reviewers``."""
    ws = mlops.init(ctx.folder, user="alice")
    if reviewer:
        config = ctx.folder / ".mlops" / "config.toml"
        config.write_text(config.read_text().replace("reviewers = []", f'reviewers = ["{reviewer}"]'))
        ws = mlops.use(ctx.folder, user="alice")
    ctx.ns["mlops"] = mlops
    return ws


def fx_workspace(ctx: Ctx) -> None:
    """An empty workspace."""
    _workspace(ctx)


def fx_tracked(ctx: Ctx) -> None:
    """A workspace with one run: RUN_ID; PATH is a new folder, E an experiment, N a limit, A an actor."""
    _workspace(ctx)
    with mlops.start_run("train", params={"C": 0.5}) as run:
        mlops.log_metric("accuracy", 0.83)
    ctx.values.update(RUN_ID=run.run_id, PATH=str(ctx.folder / "another-project"), E="Default", N="5", A="alice")


def fx_pipeline(ctx: Ctx) -> None:
    """The example notebooks and pipeline.yaml, and a train.ipynb with parameters C and penalty."""
    from pipeline_helpers import write_notebook

    _workspace(ctx)
    for path in (REPO / "example_notebooks").glob("*.ipynb"):
        shutil.copy(path, ctx.folder / path.name)
    shutil.copy(REPO / "example_notebooks" / "pipeline.yaml", ctx.folder / "pipeline.yaml")
    shutil.copytree(REPO / "example_notebooks" / "rules", ctx.folder / "rules")
    write_notebook(
        ctx.folder / "train.ipynb", ["import jupyter_mlops as mlops\nmlops.log_metric('score', C * 2)"], "C = 1.0\npenalty = 'l1'"
    )
    ctx.values.update(SECONDS="120", KERNEL="python3", STAGE="train", N="2")


def fx_arrests_data(ctx: Ctx) -> None:
    """``df`` (the arrests data) versioned as arrests@1 and a corrected arrests@2; SPEC, A, B name them."""
    from sklego.datasets import load_arrests

    _workspace(ctx)
    df = load_arrests(as_frame=True)
    mlops.version_data(df, "arrests", sensitive=("colour", "sex"))
    mlops.version_data(df.assign(checks=df["checks"].clip(upper=5)), "arrests", sensitive=("colour", "sex"))
    ctx.ns["df"] = df
    ctx.values.update(SPEC="arrests@1", A="arrests@1", B="arrests@2")


def fx_arrests_model(ctx: Ctx) -> None:
    """arrests-train@1 and arrests-test@1; X_train, y_train, X_test, y_test loaded from them; a fitted ``model``;
    bob is a reviewer."""
    from arrests_helpers import loaded_frames, model, version_split

    _workspace(ctx, reviewer="bob")
    version_split()
    frames = loaded_frames()
    ctx.ns.update(frames, model=model().fit(frames["X_train"], frames["y_train"]))


def fx_registry(ctx: Ctx) -> None:
    """arrests-clf@1 (SPEC) and @2 (pending review, what `reject` decides), each evaluated and carded;
    bob is a reviewer and approves and rejects; NAME the model, S a section, T a text, DATA the test data."""
    from arrests_helpers import loaded_frames, model, version_split

    _workspace(ctx, reviewer="bob")
    version_split()
    frames = loaded_frames()
    refs = []
    for C in (0.01, 1.0):
        mv = mlops.log_model(model(C).fit(frames["X_train"], frames["y_train"]), "arrests-clf", X_example=frames["X_train"])
        mlops.evaluate(mv.ref, "arrests-test@1", target="released", n_bootstrap=0)
        mlops.build_card(mv.ref)
        refs.append(mv.ref)
    mlops.request_review(refs[1], note="the other candidate")
    ctx.values.update(
        {"SPEC": refs[0], "reject:SPEC": refs[1], "approve:user": "bob", "reject:user": "bob"},
        NAME="arrests-clf",
        S="intended_use",
        T="Decision support for reviewers",
        DATA="arrests-test@1",
    )


FIXTURES: dict[str, Callable[[Ctx], None]] = {
    "workspace": fx_workspace,
    "tracked": fx_tracked,
    "pipeline": fx_pipeline,
    "arrests-data": fx_arrests_data,
    "arrests-model": fx_arrests_model,
    "registry": fx_registry,
}


# -- commands that do not run as written ---------------------------------------------------------------
def _make_test(ctx: Ctx) -> None:
    """``make test`` is what runs this file: check that make knows the recipe (a dry run), do not recurse."""
    out = subprocess.run(["make", "-n", "test"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "pytest" in out.stdout, out.stderr


def _make_demo(ctx: Ctx) -> None:
    """``make demo`` runs once per session (the ``demo_run`` fixture, which tests/test_demo.py checks in depth)."""
    demo = ctx.request.getfixturevalue("demo_run")
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "audit chain intact" in demo.stdout


COMMANDS: dict[str, Callable[[Ctx], None]] = {"make test": _make_test, "make demo": _make_demo}
#: Benchmarks print figures for minutes and pass no verdict: the script named must exist and compile.
BENCHMARK = re.compile(r"^\.venv/bin/python (benchmarks/bench_\w+\.py)( --[\w-]+)*$")


# -- running ---------------------------------------------------------------------------------------------
def command_lines(code: str) -> list[str]:
    """One string per command: comments dropped, indented continuation lines joined."""
    out: list[str] = []
    for raw in code.splitlines():
        line = re.sub(r"\s+#.*$", "", raw).rstrip()
        if not line.strip():
            continue
        if raw[:1].isspace() and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line.strip())
    return out


def alternatives(line: str) -> list[str]:
    """``jupyter-mlops data list | show SPEC`` -> ``jupyter-mlops data list``, ``jupyter-mlops data show SPEC``."""
    parts = [p.strip() for p in line.split(" | ")]
    prefix = " ".join(parts[0].split()[:2])
    return [parts[0], *(f"{prefix} {p}" for p in parts[1:])]


def expand(command: str, values: dict[str, str]) -> list[str]:
    tokens = [t for t in shlex.split(command.replace("[", "").replace("]", "")) if t != "..."]
    verb = tokens[2] if len(tokens) > 2 and tokens[0] == "jupyter-mlops" else ""
    out = []
    for token in tokens:
        token = token.split("|")[0] if "|" in token and not token.startswith("|") else token
        if PLACEHOLDER.fullmatch(token):
            token = values.get(f"{verb}:{token}", values.get(token, token))
        out.append(token)
    user = values.get(f"{verb}:user")
    return [out[0], "--user", user, *out[1:]] if user else out


def run_command(argv: list[str], ctx: Ctx, where: str) -> None:
    text = " ".join(argv)
    if text in COMMANDS:
        COMMANDS[text](ctx)
        return
    bench = BENCHMARK.match(text)
    if bench:
        script = REPO / bench.group(1)
        assert script.is_file(), f"{where}: {script} does not exist"
        compile(script.read_text(encoding="utf-8"), str(script), "exec")
        return
    assert argv[0] == "jupyter-mlops", f"{where}: no rule runs {text!r}; add one to COMMANDS"
    from jupyter_mlops.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv[1:])
    assert code == 0, f"{where}: `{text}` exited {code}\n{out.getvalue()[-2000:]}\n{err.getvalue()[-2000:]}"
    if "--json" in argv:
        found = json.loads(out.getvalue())
        if isinstance(found, dict) and isinstance(found.get("run_id"), str):
            ctx.values["RUN_ID"] = found["run_id"]


def run_shell(block: Block, ctx: Ctx) -> None:
    for line in command_lines(block.code):
        for command in alternatives(line):
            run_command(expand(command, ctx.values), ctx, f"README.md:{block.line}")


def run_python(block: Block, ctx: Ctx) -> None:
    exec(compile(block.code, f"README.md:{block.line}", "exec"), ctx.ns)  # noqa: S102 - our own README


def run_ipython(block: Block, ctx: Ctx) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.user_ns.clear()
    shell.init_user_ns()
    shell.user_ns.update(ctx.ns)
    if block.fixture:  # a block after set-up runs where %load_ext happened already
        shell.run_line_magic("load_ext", "jupyter_mlops")
    try:
        result = shell.run_cell(block.code, store_history=False)
        error = result.error_before_exec or result.error_in_exec
        assert result.success, f"README.md:{block.line}: {type(error).__name__}: {error}"
    finally:
        shell.run_line_magic("unload_ext", "jupyter_mlops")


def run_yaml(block: Block, ctx: Ctx) -> None:
    from jupyter_mlops.pipelines.spec import load_spec

    path = ctx.folder / "readme-pipeline.yaml"
    path.write_text(block.code, encoding="utf-8")
    spec = load_spec(path)
    plan = mlops.current_workspace().pipelines.plan(spec)
    assert [s["stage"] for s in plan.steps] == [s.name for s in spec.stages]


def run_tree(block: Block, ctx: Ctx) -> None:
    lines = [ln for ln in block.code.splitlines() if ln.strip()]
    top = lines[0].split()[0]
    if top == ".mlops/":
        base = mlops.init(ctx.folder / "fresh").settings.home  # what init creates
        outer = base.parent
    else:
        base, outer = REPO / top, REPO
    for line in lines[1:]:
        names = []
        for token in line.split():
            if not (NAME.match(token) and ("/" in token or "." in token)):
                break
            names.append(token)
        assert names, f"README.md:{block.line}: no file or folder named in {line!r}"
        for name in names:
            path = (base if line[:1].isspace() else outer) / name.rstrip("/")
            assert path.exists(), f"README.md:{block.line}: {line.strip()!r} names {name}, which {path} does not have"


RUNNERS: dict[str, Callable[[Block, Ctx], None]] = {
    "python": run_python,
    "shell": run_shell,
    "ipython": run_ipython,
    "yaml": run_yaml,
    "tree": run_tree,
}


@pytest.mark.parametrize("group", list(GROUPS))
def test_readme_blocks_run_as_written(
    group: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    blocks = GROUPS[group]
    folder = tmp_path / "project"
    shutil.copytree(REPO / "example_notebooks" / "rules", folder / "example_notebooks" / "rules")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("JUPYTER_MLOPS_USER", "alice")
    ctx = Ctx(folder=folder, request=request)
    if blocks[0].fixture is not None:
        assert blocks[0].fixture in FIXTURES, f"README.md:{blocks[0].line}: no fixture {blocks[0].fixture!r} here"
        FIXTURES[blocks[0].fixture](ctx)
    for block in blocks:
        RUNNERS[kind(block)](block, ctx)


def test_every_block_is_found_and_placed() -> None:
    fences = sum(1 for ln in README.read_text(encoding="utf-8").splitlines() if ln.startswith("```"))
    assert fences == 2 * len(BLOCKS) and len(BLOCKS) >= 15
    kinds = {kind(b) for b in BLOCKS if b.fixture not in DELEGATED}  # raises for a block no rule places
    assert kinds == set(RUNNERS)


def test_delegated_blocks_are_run_by_their_module() -> None:
    import importlib

    for fixture, module in DELEGATED.items():
        mine = [(b.line, b.lang, b.code) for b in BLOCKS if b.fixture == fixture]
        assert mine, f"no README block uses fixture {fixture!r}: drop it from DELEGATED"
        runner = importlib.import_module(module.removesuffix(".py"))
        assert runner.readme_blocks() == mine, f"{module} does not run the same {fixture!r} blocks"


def test_a_drifted_block_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """The mechanism itself: a renamed option, a wrong API call or a missing file is caught."""
    monkeypatch.chdir(tmp_path)
    ctx = Ctx(folder=tmp_path, request=request)
    fx_tracked(ctx)
    with pytest.raises(AssertionError, match="exited 2"):
        run_shell(Block(1, "", "jupyter-mlops runs list [--newest N]", None), ctx)
    with pytest.raises(AttributeError):
        run_python(Block(1, "python", "mlops.start_runs('x')", None), ctx)
    with pytest.raises(AssertionError, match="does not have"):
        run_tree(Block(1, "", ".mlops/\n  secrets.db   where the passwords go", None), ctx)
    with pytest.raises(AssertionError, match="does not know how to run"):
        kind(Block(1, "toml", "[review]", None))
    assert expand("jupyter-mlops card show SPEC --format html|md|json [--json]", {"SPEC": "m@1"}) == [
        "jupyter-mlops",
        *"card show m@1 --format html --json".split(),
    ]
    assert alternatives("jupyter-mlops data list | show SPEC | verify")[1:] == [
        "jupyter-mlops data show SPEC",
        "jupyter-mlops data verify",
    ]
