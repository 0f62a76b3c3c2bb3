"""The ``pipeline.yaml`` schema: parsing and validation that reports every problem at once.

A pipeline names notebook stages; each stage may declare parameters, ``needs`` (upstream
stages), ``inputs`` (data versions or files), ``outputs`` (data names or files it must produce),
a per-cell ``timeout``, ``retries``, a ``kernel`` and a ``sweep`` (a parameter grid and the metric
that selects the best run). Parameter values may reference pipeline-level values and upstream
results with ``${...}``::

    name: arrests
    params: {seed: 42}
    stages:
      prepare:
        notebook: 10_prepare.ipynb
        parameters: {seed: "${params.seed}"}
        outputs: [arrests-clean]              # a data name; {file: reports/x.json}; {model: NAME}
      train:
        notebook: 20_train.ipynb
        needs: [prepare]
        inputs: [arrests-clean]                # NAME or NAME@VERSION; {file: data.csv} for a file
        parameters: {data: "${stages.prepare.outputs.arrests-clean}"}
        sweep:
          grid: {C: [0.1, 1.0, 10.0]}
          select: {metric: accuracy, mode: max}

References: ``${params.NAME}``, ``${stages.S.outputs.NAME}`` (``outputs.model`` for the one model
a stage declares), ``${stages.S.params.NAME}``, ``${stages.S.metrics.NAME}``,
``${stages.S.run_id}``. A stage referenced this way is added to ``needs``. Validation collects
every problem (unknown keys, missing notebooks, unknown or cyclic ``needs``, bad references) and
raises one :class:`~jupyter_mlops.errors.InvalidInput` listing them.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from ..core.entities import Entity
from ..core.hashing import sha256_bytes
from ..core.paths import (
    parse_version_spec,
    resolve_inside,
    validate_file,
    validate_name,
    validate_parameter_name,
    validate_parameters,
)
from ..errors import InvalidInput, MlopsError
from .dag import REF_RE

__all__ = ["IOSpec", "PipelineSpec", "StageSpec", "SweepSpec", "load_spec", "parse_spec", "references"]

_TOP_KEYS = {"name", "description", "params", "defaults", "stages"}
_STAGE_KEYS = {"notebook", "parameters", "needs", "inputs", "outputs", "timeout", "retries", "kernel", "sweep", "description"}
_DEFAULT_KEYS = {"timeout", "retries", "kernel"}


@dataclasses.dataclass(frozen=True)
class IOSpec(Entity):
    """One declared input or output: a data version spec (``kind="data"``), a file (``kind="file"``)
    or, as an output only, a registered model (``kind="model"``: the version the stage logged)."""

    kind: str
    ref: str

    @property
    def key(self) -> str:
        return self.ref if self.kind == "data" else f"{self.kind}:{self.ref}"


@dataclasses.dataclass(frozen=True)
class SweepSpec(Entity):
    """A parameter grid and the metric that picks the best run."""

    grid: dict[str, list[Any]]
    metric: str
    mode: str = "max"

    def variants(self) -> list[dict[str, Any]]:
        """Every combination of the grid, in a stable order."""
        import itertools

        keys = sorted(self.grid)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(self.grid[k] for k in keys))]


@dataclasses.dataclass(frozen=True)
class StageSpec(Entity):
    """One notebook stage."""

    name: str
    notebook: str
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    needs: tuple[str, ...] = ()
    inputs: tuple[IOSpec, ...] = ()
    outputs: tuple[IOSpec, ...] = ()
    timeout: float | None = None
    retries: int = 0
    kernel: str | None = None
    sweep: SweepSpec | None = None


@dataclasses.dataclass(frozen=True)
class PipelineSpec(Entity):
    """A validated pipeline; ``stages`` is in declaration order, ``base_dir`` holds the yaml file."""

    name: str
    path: str
    base_dir: str
    sha256: str
    params: dict[str, Any]
    stages: tuple[StageSpec, ...]

    def stage(self, name: str) -> StageSpec:
        for s in self.stages:
            if s.name == name:
                return s
        close = difflib.get_close_matches(name, [s.name for s in self.stages], n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"stages: {', '.join(s.name for s in self.stages)}"
        raise InvalidInput(f"pipeline {self.name!r} has no stage {name!r}", value=name, hint=hint, field="stage")

    def notebook_path(self, stage: StageSpec) -> Path:
        return Path(self.base_dir) / stage.notebook


def references(value: Any) -> list[str]:
    """Every ``${...}`` reference inside a parameter value (nested lists and dicts included)."""
    if isinstance(value, str):
        return [m.strip() for m in REF_RE.findall(value)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


def data_loader() -> Any:
    """A YAML safe loader that keeps dates as text (a notebook parameter must be a plain literal)."""
    import yaml

    class DataLoader(yaml.SafeLoader):
        pass

    DataLoader.yaml_implicit_resolvers = {
        k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return DataLoader


def load_spec(path: str | Path) -> PipelineSpec:
    """Read and validate a ``pipeline.yaml``."""
    import yaml

    p = validate_file(path, must_exist=False)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"no such pipeline file: {p}", value=str(p), hint="check the path") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {p}: {exc.strerror}", value=str(p)) from None
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=data_loader())  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{p} is not valid YAML: {exc}", value=str(p), hint="fix the YAML syntax") from None
    return parse_spec(data, path=p, sha256=sha256_bytes(raw))


def _io(item: Any, where: str, base: Path, problems: list[str], *, output: bool = False) -> IOSpec | None:
    if isinstance(item, str):
        try:
            parse_version_spec(item)
        except MlopsError as err:
            problems.append(f"{where}: {err.message}")
            return None
        return IOSpec("data", item)
    if isinstance(item, dict) and len(item) == 1:
        kind, ref = next(iter(item.items()))
        if kind == "file" and isinstance(ref, str):
            try:
                resolve_inside(base, ref)
            except MlopsError as err:
                problems.append(f"{where}: {err.message}")
                return None
            return IOSpec("file", ref)
        if kind == "data" and isinstance(ref, str):
            return _io(ref, where, base, problems)
        if kind == "model" and isinstance(ref, str) and output:
            try:
                validate_name(ref, kind="model name")
            except MlopsError as err:
                problems.append(f"{where}: {err.message}")
                return None
            return IOSpec("model", ref)
    also = " or {model: NAME}" if output else ""
    problems.append(f"{where}: expected a data name (NAME or NAME@VERSION), {{file: PATH}}{also}, got {item!r}")
    return None


def _number(value: Any, where: str, problems: list[str], *, integer: bool = False) -> Any:
    if value is None:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or value < 0:
        problems.append(f"{where}: expected a non-negative {'integer' if integer else 'number'}, got {value!r}")
        return None
    return value


def parse_spec(data: Any, *, path: Path, sha256: str = "") -> PipelineSpec:
    """Validate parsed YAML; every problem is collected and reported in one error."""
    problems: list[str] = []
    base = path.parent.resolve()
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{path}: a pipeline must be a mapping with 'stages'", value=str(path), hint="see the README's pipeline.yaml section"
        )
    for key in sorted(set(data) - _TOP_KEYS):
        close = difflib.get_close_matches(str(key), _TOP_KEYS, n=1)
        problems.append(f"unknown top-level key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    name = data.get("name") or path.parent.name or "pipeline"
    try:
        validate_name(str(name), kind="pipeline name")
    except MlopsError as err:
        problems.append(err.message)
    params = data.get("params") or {}
    if not isinstance(params, dict):
        problems.append("'params' must be a mapping of names to values")
        params = {}
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append("'defaults' must be a mapping")
        defaults = {}
    for key in sorted(set(defaults) - _DEFAULT_KEYS):
        problems.append(f"unknown key {key!r} in 'defaults' (allowed: {', '.join(sorted(_DEFAULT_KEYS))})")
    raw_stages = data.get("stages")
    if isinstance(raw_stages, list):
        items = []
        for i, s in enumerate(raw_stages):
            if isinstance(s, dict) and isinstance(s.get("name"), str):
                items.append((s["name"], {k: v for k, v in s.items() if k != "name"}))
            else:
                problems.append(f"stages[{i}]: a stage in a list needs a 'name'")
    elif isinstance(raw_stages, dict):
        items = list(raw_stages.items())
    else:
        raise InvalidInput(
            f"{path}: 'stages' is missing or empty", value=str(path), hint="add a 'stages:' mapping of stage names to notebooks"
        )
    if not items:
        raise InvalidInput(f"{path}: 'stages' is empty", value=str(path), hint="add at least one stage")
    names = [str(n) for n, _ in items]
    stages: list[StageSpec] = []
    for sname, body in items:
        sname = str(sname)
        where = f"stage {sname!r}"
        try:
            validate_name(sname, kind="stage name")
        except MlopsError as err:
            problems.append(err.message)
        if not isinstance(body, dict):
            problems.append(f"{where}: expected a mapping with at least 'notebook'")
            continue
        for key in sorted(set(body) - _STAGE_KEYS):
            close = difflib.get_close_matches(str(key), _STAGE_KEYS, n=1)
            problems.append(f"{where}: unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        notebook = body.get("notebook")
        if not isinstance(notebook, str) or not notebook.endswith(".ipynb"):
            problems.append(f"{where}: 'notebook' must name a .ipynb file, got {notebook!r}")
            notebook = ""
        else:
            try:
                nb_path = resolve_inside(base, notebook)
                if not nb_path.is_file():
                    problems.append(f"{where}: notebook {notebook!r} does not exist next to {path.name}")
            except MlopsError as err:
                problems.append(f"{where}: {err.message}")
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            problems.append(f"{where}: 'parameters' must be a mapping")
            parameters = {}
        try:
            validate_parameters(parameters, where=f"{where} parameter")
        except MlopsError as err:
            problems.append(err.message)
            parameters = {}
        needs_raw = body.get("needs") or []
        if isinstance(needs_raw, str):
            needs_raw = [needs_raw]
        needs = [str(n) for n in needs_raw] if isinstance(needs_raw, list) else []
        for ref in references(parameters):
            parts = ref.split(".")
            if parts[0] == "params" and len(parts) == 2:
                if parts[1] not in params:
                    problems.append(
                        f"{where}: ${{{ref}}} names no pipeline-level value (known: {', '.join(sorted(params)) or 'none'})"
                    )
            elif parts[0] == "stages" and len(parts) >= 3 and parts[2] in ("outputs", "params", "metrics", "run_id"):
                if parts[1] not in names:
                    problems.append(f"{where}: ${{{ref}}} names an unknown stage {parts[1]!r}")
                elif parts[1] not in needs:
                    needs.append(parts[1])
            else:
                problems.append(
                    f"{where}: cannot resolve ${{{ref}}}; use ${{params.NAME}} or ${{stages.STAGE.outputs|params|metrics.NAME}}"
                )
        for n in needs:
            if n not in names:
                close = difflib.get_close_matches(n, names, n=1)
                problems.append(f"{where}: needs unknown stage {n!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            elif n == sname:
                problems.append(f"{where}: needs itself")
        inputs = [_io(x, f"{where} input", base, problems) for x in _as_list(body.get("inputs"))]
        outputs = [_io(x, f"{where} output", base, problems, output=True) for x in _as_list(body.get("outputs"))]
        sweep = _sweep(body.get("sweep"), where, problems)
        stages.append(
            StageSpec(
                name=sname,
                notebook=notebook,
                parameters=dict(parameters),
                needs=tuple(dict.fromkeys(needs)),
                inputs=tuple(i for i in inputs if i is not None),
                outputs=tuple(o for o in outputs if o is not None),
                timeout=_number(body.get("timeout", defaults.get("timeout")), f"{where} timeout", problems),
                retries=_number(body.get("retries", defaults.get("retries", 0)), f"{where} retries", problems, integer=True) or 0,
                kernel=body.get("kernel", defaults.get("kernel")),
                sweep=sweep,
            )
        )
    if len(set(names)) != len(names):
        problems.append("stage names must be unique")
    if not problems:
        from .dag import find_cycle

        cycle = find_cycle({s.name: s.needs for s in stages})
        if cycle:
            problems.append("the stages' needs form a cycle: " + " -> ".join(cycle))
    if problems:
        raise InvalidInput(
            f"{path.name} is not a valid pipeline: " + "; ".join(problems),
            value=str(path),
            hint="fix the listed problems (see the README's pipeline.yaml section)",
            problems=problems,
        )
    return PipelineSpec(
        name=str(name), path=str(path), base_dir=str(base), sha256=sha256, params=dict(params), stages=tuple(stages)
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _sweep(raw: Any, where: str, problems: list[str]) -> SweepSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("grid"), dict) or not raw["grid"]:
        problems.append(f"{where}: 'sweep' needs a non-empty 'grid' mapping of parameter names to lists")
        return None
    for key in raw["grid"]:
        try:
            validate_parameter_name(key, where=f"{where} sweep grid parameter")
        except MlopsError as err:
            problems.append(err.message)
    grid = {str(k): (v if isinstance(v, list) else [v]) for k, v in raw["grid"].items()}
    if any(not v for v in grid.values()):
        problems.append(f"{where}: every sweep grid entry needs at least one value")
    select = raw.get("select") or {}
    metric = select.get("metric") if isinstance(select, dict) else None
    mode = select.get("mode", "max") if isinstance(select, dict) else "max"
    if not isinstance(metric, str) or not metric:
        problems.append(f"{where}: 'sweep' needs 'select: {{metric: NAME, mode: max|min}}'")
        metric = ""
    if mode not in ("max", "min"):
        problems.append(f"{where}: sweep select mode must be 'max' or 'min', got {mode!r}")
    return SweepSpec(grid=grid, metric=str(metric), mode=str(mode))
