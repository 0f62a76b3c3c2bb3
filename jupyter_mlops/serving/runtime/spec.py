"""``deployment.yaml``: weighted variants, a canary, shadows, sticky assignment and the analysis window.

One parser for both sides: the workspace reads what a user wrote (model specs such as
``arrests-clf@champion``), the runtime reads the resolved copy the workspace or ``package``
wrote (every model a concrete ``name@version`` with the folder of its verified bundle). Every
problem is collected and reported at once, with the key that is wrong::

    name: arrests
    variants:
      - {model: arrests-clf@champion, weight: 90}
      - {model: arrests-clf@4, weight: 10, role: canary}
    shadow: [arrests-clf@5]
    sticky: {header: X-Client-Id}
    analysis: {interval: 30s, max_error_rate: 0.01, max_p99_ms: 200, failure_limit: 2, step_weight: 10, max_weight: 50}

The analysis keys follow Argo Rollouts and Flagger: ``interval`` (one window), ``failure_limit``
(failed windows before a rollback), ``step_weight`` and ``max_weight`` (the canary's weight goes
up by one step per passed window until ``max_weight``; the next passed window promotes it).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from pathlib import Path
from typing import Any

from ...errors import InvalidInput

__all__ = ["Analysis", "DeploymentSpec", "Variant", "parse_duration", "parse_spec", "load_spec"]

ROLES = ("stable", "canary")
_TOP = ("name", "variants", "shadow", "sticky", "analysis", "log_inputs", "sensitive")
_VARIANT = ("model", "weight", "role", "bundle", "alias")
_ANALYSIS = (
    "interval",
    "max_error_rate",
    "max_p99_ms",
    "failure_limit",
    "step_weight",
    "max_weight",
    "min_requests",
    "max_quality_drop",
    "min_labels",
)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")
_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}(@[A-Za-z0-9_.\-]{1,128})?$")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
_ALIAS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,127}$")
_HEADER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{0,63}$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One model a deployment routes to: its spec, weight (share of traffic) and role."""

    model: str
    weight: int = 100
    role: str = "stable"
    bundle: str | None = None
    alias: str | None = None  # the registry alias it was named by (arrests-clf@champion), once pinned

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "weight": self.weight, "role": self.role}
        if self.bundle is not None:
            out["bundle"] = self.bundle
        if self.alias is not None:
            out["alias"] = self.alias
        return out


@dataclasses.dataclass(frozen=True)
class Analysis:
    """The canary analysis window (Argo Rollouts / Flagger names)."""

    interval: float = 30.0
    max_error_rate: float = 0.01
    max_p99_ms: float = 200.0
    failure_limit: int = 2
    step_weight: int = 10
    max_weight: int = 50
    min_requests: int = 20
    max_quality_drop: float = 0.05
    min_labels: int = 20

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DeploymentSpec:
    """A parsed ``deployment.yaml``."""

    name: str
    variants: tuple[Variant, ...]
    shadow: tuple[Variant, ...] = ()
    sticky_header: str | None = None
    analysis: Analysis = dataclasses.field(default_factory=Analysis)
    log_inputs: bool = True
    sensitive: tuple[str, ...] = ()

    @property
    def canary(self) -> Variant | None:
        return next((v for v in self.variants if v.role == "canary"), None)

    @property
    def models(self) -> tuple[str, ...]:
        """Every model spec the deployment names (variants, then shadows)."""
        return tuple(v.model for v in (*self.variants, *self.shadow))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "variants": [v.to_dict() for v in self.variants],
            "shadow": [v.to_dict() for v in self.shadow],
            "sticky": {"header": self.sticky_header} if self.sticky_header else None,
            "analysis": self.analysis.to_dict(),
            "log_inputs": self.log_inputs,
            "sensitive": list(self.sensitive),
        }

    def replace(self, **changes: Any) -> DeploymentSpec:
        return dataclasses.replace(self, **changes)


def parse_duration(value: object, field: str = "interval") -> float:
    """``30s``, ``2m``, ``500ms``, ``1h`` or a number of seconds, as seconds."""
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a duration such as 30s or 2m", value=repr(value), field=field)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION_RE.match(str(value))
        if not m:
            raise InvalidInput(
                f"{field} must be a duration such as 30s, 2m or 500ms, got {str(value)[:40]!r}",
                value=str(value)[:40],
                field=field,
            )
        seconds = float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2) or "s"]
    if not 0.1 <= seconds <= 86_400:
        raise InvalidInput(f"{field} must be between 100ms and 24h", value=seconds, field=field)
    return seconds


def _unknown(keys: Any, allowed: tuple[str, ...], where: str, problems: list[str]) -> None:
    """Name each unknown key that looks like a key; never echo other text (it may be a secret file)."""
    unknown = [k for k in keys if k not in allowed]
    for key in unknown[:5]:
        if isinstance(key, str) and _KEY_RE.match(key):
            close = difflib.get_close_matches(key, allowed, n=1)
            problems.append(f"{where}: unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        else:
            problems.append(f"{where}: a key that is not a name ({type(key).__name__}, not shown)")
    if len(unknown) > 5:
        problems.append(f"{where}: {len(unknown) - 5} more unknown keys")


def _variant(raw: object, where: str, problems: list[str], *, shadow: bool = False) -> Variant | None:
    if isinstance(raw, str):
        raw = {"model": raw}
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a model spec or a mapping with 'model', got {type(raw).__name__}")
        return None
    _unknown(raw, _VARIANT, where, problems)
    model = raw.get("model")
    if not isinstance(model, str) or not _MODEL_RE.match(model):
        problems.append(f"{where}.model: expected a model version such as arrests-clf@3 or arrests-clf@champion")
        return None
    weight = raw.get("weight", 0 if shadow else 100)
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
        problems.append(f"{where}.weight: expected a whole number from 0 to 100")
        weight = 0
    role = raw.get("role", "shadow" if shadow else "stable")
    if not shadow and role not in ROLES:
        problems.append(f"{where}.role: expected one of {', '.join(ROLES)}")
    bundle = raw.get("bundle")
    if bundle is not None and (not isinstance(bundle, str) or bundle.startswith("/") or ".." in bundle.split("/")):
        problems.append(f"{where}.bundle: expected a relative folder inside the deployment")
        bundle = None
    alias = raw.get("alias")
    if alias is not None and (not isinstance(alias, str) or not _ALIAS_RE.match(alias)):
        problems.append(f"{where}.alias: expected a registry alias such as champion")
        alias = None
    return Variant(
        model=model, weight=0 if shadow else weight, role="shadow" if shadow else str(role), bundle=bundle, alias=alias
    )


def _analysis(raw: object, problems: list[str]) -> Analysis:
    if raw is None:
        return Analysis()
    if not isinstance(raw, dict):
        problems.append("analysis: expected a mapping")
        return Analysis()
    _unknown(raw, _ANALYSIS, "analysis", problems)
    values: dict[str, Any] = {}
    if "interval" in raw:
        try:
            values["interval"] = parse_duration(raw["interval"], "analysis.interval")
        except InvalidInput as err:
            problems.append(err.message)
    for key, lo, hi in (("max_error_rate", 0.0, 1.0), ("max_quality_drop", 0.0, 1.0), ("max_p99_ms", 0.1, 600_000.0)):
        if key in raw:
            v = raw[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= float(v) <= hi:
                problems.append(f"analysis.{key}: expected a number from {lo:g} to {hi:g}")
            else:
                values[key] = float(v)
    for key, lo, hi in (
        ("failure_limit", 1, 1000),
        ("step_weight", 1, 100),
        ("max_weight", 1, 100),
        ("min_requests", 1, 10_000_000),
        ("min_labels", 1, 10_000_000),
    ):
        if key in raw:
            v = raw[key]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                problems.append(f"analysis.{key}: expected a whole number from {lo} to {hi}")
            else:
                values[key] = v
    return Analysis(**values)


def parse_spec(raw: object, *, source: str = "deployment.yaml") -> DeploymentSpec:
    """Validate a deployment mapping; every problem is reported in one :class:`InvalidInput`."""
    problems: list[str] = []
    if not isinstance(raw, dict) or not ({"name", "variants"} & set(raw)):
        raise InvalidInput(
            f"{source} is not a deployment: it needs a mapping with 'name' and 'variants'",
            value=source,
            hint="see the deployment.yaml example in the README's Serving section",
            field="config",
        )
    _unknown(raw, _TOP, "top level", problems)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        problems.append("name: expected a deployment name (letters, digits, '_', '.', '-'; at most 63 characters)")
        name = "invalid"
    raw_variants = raw.get("variants")
    variants: list[Variant] = []
    if not isinstance(raw_variants, list) or not raw_variants:
        problems.append("variants: expected a non-empty list of {model, weight, role}")
    else:
        for i, item in enumerate(raw_variants):
            v = _variant(item, f"variants[{i}]", problems)
            if v is not None:
                variants.append(v)
    raw_shadow = raw.get("shadow") or []
    shadow: list[Variant] = []
    if not isinstance(raw_shadow, list):
        problems.append("shadow: expected a list of model specs")
    else:
        for i, item in enumerate(raw_shadow):
            v = _variant(item, f"shadow[{i}]", problems, shadow=True)
            if v is not None:
                shadow.append(v)
    seen: set[str] = set()
    for v in (*variants, *shadow):
        if v.model in seen:
            problems.append(f"{v.model} is named twice; each model appears once (a variant or a shadow)")
        seen.add(v.model)
    canaries = [v for v in variants if v.role == "canary"]
    if len(canaries) > 1:
        problems.append("variants: at most one variant can have role: canary")
    if variants and not any(v.role == "stable" for v in variants):
        problems.append("variants: a canary needs a stable variant to be compared with")
    if variants and sum(v.weight for v in variants) <= 0:
        problems.append("variants: the weights add up to 0; give at least one variant a weight above 0")
    sticky = raw.get("sticky")
    header = None
    if sticky is not None:
        if not isinstance(sticky, dict) or set(sticky) != {"header"} or not isinstance(sticky.get("header"), str):
            problems.append("sticky: expected {header: X-Client-Id}")
        elif not _HEADER_RE.match(sticky["header"]):
            problems.append("sticky.header: expected an HTTP header name such as X-Client-Id")
        else:
            header = sticky["header"]
    analysis = _analysis(raw.get("analysis"), problems)
    if analysis.max_weight < analysis.step_weight:
        problems.append("analysis: max_weight must be at least step_weight")
    log_inputs = raw.get("log_inputs", True)
    if not isinstance(log_inputs, bool):
        problems.append("log_inputs: expected true or false")
        log_inputs = True
    sensitive = raw.get("sensitive") or []
    if not isinstance(sensitive, list) or not all(isinstance(c, str) and c for c in sensitive):
        problems.append("sensitive: expected a list of column names")
        sensitive = []
    if problems:
        raise InvalidInput(
            f"{source} has {len(problems)} problem{'s' if len(problems) > 1 else ''}: " + "; ".join(problems),
            value=source,
            hint="see the deployment.yaml example in the README's Serving section",
            problems=problems,
        )
    return DeploymentSpec(
        name=str(name),
        variants=tuple(variants),
        shadow=tuple(shadow),
        sticky_header=header,
        analysis=analysis,
        log_inputs=bool(log_inputs),
        sensitive=tuple(dict.fromkeys(sensitive)),
    )


def load_spec(path: str | Path) -> DeploymentSpec:
    """Read and validate a ``deployment.yaml`` file."""
    import yaml

    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {p.name}: {exc.strerror}", value=p.name, hint="check the path", field="config") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = str(getattr(exc, "problem", None) or "a syntax error")[:80]
        raise InvalidInput(f"{p.name} is not valid YAML{where}: {problem}", value=p.name, field="config") from exc
    return parse_spec(raw, source=p.name)
