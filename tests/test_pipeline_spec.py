"""pipeline.yaml validation, the DAG helpers and parameter references (no kernels)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_helpers import write_notebook

from jupyter_mlops.errors import InvalidInput
from jupyter_mlops.pipelines.dag import find_cycle, resolve_parameters, topological_order, upstream_closure
from jupyter_mlops.pipelines.execute import code_hash, declared_parameters, read_notebook
from jupyter_mlops.pipelines.spec import load_spec


def _pipeline(tmp_path: Path, body: str) -> Path:
    for name in ("a", "b", "c"):
        write_notebook(tmp_path / f"{name}.ipynb", ["print(1)"], "x = 1")
    path = tmp_path / "pipeline.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_valid_spec_with_references_adds_needs(tmp_path: Path) -> None:
    spec = load_spec(
        _pipeline(
            tmp_path,
            """
name: demo
params: {seed: 7}
stages:
  a: {notebook: a.ipynb, parameters: {x: "${params.seed}"}, outputs: [clean, {file: out.txt}]}
  b:
    notebook: b.ipynb
    parameters: {x: "${stages.a.outputs.clean}"}
    sweep: {grid: {C: [1, 2], k: [3]}, select: {metric: acc, mode: max}}
""",
        )
    )
    assert [s.name for s in spec.stages] == ["a", "b"]
    assert spec.stage("b").needs == ("a",)
    assert [o.key for o in spec.stage("a").outputs] == ["clean", "file:out.txt"]
    assert spec.stage("b").sweep is not None
    assert spec.stage("b").sweep.variants() == [{"C": 1, "k": 3}, {"C": 2, "k": 3}]


def test_cycle_is_reported(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, "stages:\n  a: {notebook: a.ipynb, needs: [b]}\n  b: {notebook: b.ipynb, needs: [a]}\n")
    with pytest.raises(InvalidInput, match="cycle: a -> b -> a"):
        load_spec(path)


def test_unknown_need_and_other_problems_are_all_listed(tmp_path: Path) -> None:
    path = _pipeline(
        tmp_path,
        """
stages:
  a: {notebook: a.ipynb, needs: [trian], timout: 3}
  b: {notebook: missing.ipynb, parameters: {x: "${params.nope}"}}
""",
    )
    with pytest.raises(InvalidInput) as info:
        load_spec(path)
    text = str(info.value)
    assert "needs unknown stage 'trian'" in text
    assert "did you mean 'timeout'" in text
    assert "missing.ipynb" in text
    assert "${params.nope}" in text


def test_unsafe_paths_are_refused(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, "stages:\n  a: {notebook: ../../etc/x.ipynb, outputs: [{file: ../x}]}\n")
    with pytest.raises(InvalidInput, match="climbs out"):
        load_spec(path)


def test_dag_helpers() -> None:
    needs = {"a": (), "b": ("a",), "c": ("b",), "d": ()}
    assert find_cycle(needs) is None
    assert topological_order(needs) == ["a", "b", "c", "d"]
    assert upstream_closure(needs, ["c"]) == {"a", "b", "c"}
    assert find_cycle({"a": ("a",)}) == ["a", "a"]


def test_resolve_parameters_keeps_types() -> None:
    results = {"train": {"params": {"C": 0.5}, "metrics": {"acc": 0.9}, "outputs": {}, "run_id": "r1"}}
    got = resolve_parameters(
        {"c": "${stages.train.params.C}", "s": "run ${stages.train.run_id}", "n": "${params.n}"}, {"n": 3}, results
    )
    assert got == {"c": 0.5, "s": "run r1", "n": 3}
    with pytest.raises(InvalidInput, match="recorded no metric 'f1'"):
        resolve_parameters("${stages.train.metrics.f1}", {}, results)


def test_code_hash_ignores_outputs_and_markdown(tmp_path: Path) -> None:
    p = write_notebook(tmp_path / "n.ipynb", ["print(1)"], "x = 1")
    nb = read_notebook(p)
    h = code_hash(nb)
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1"}]
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "hello"})
    assert code_hash(nb) == h
    nb["cells"][1]["source"] = "print(2)"
    assert code_hash(nb) != h
    assert declared_parameters(nb) == {"x": "1"}


def test_missing_notebook_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such notebook"):
        read_notebook(tmp_path / "nope.ipynb")
