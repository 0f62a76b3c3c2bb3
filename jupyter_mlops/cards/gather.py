"""Collecting what the workspace recorded about a model version, for its card.

A card reads other capabilities only through their public services on the workspace
(``ws.models``, ``ws.evaluation``, ``ws.data``, ``ws.quality``), the tracking back-end
(parameters, the ``mlops/environment.json`` artifact), the lineage graph and the audit trail.
Each source is normalised to plain JSON-safe data here, so the card's rules
(:mod:`~jupyter_mlops.cards.sections`) never depend on another package's entity classes. A
source that has nothing for this version leaves its part of the facts empty, which the card
shows as "unknown"; an error of the registry itself (unknown version or alias) is raised.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import MlopsError, NotFound
from .assemble import RecordedFacts

if TYPE_CHECKING:
    from ..core.context import Context
    from ..data.service import DataService
    from ..evaluation.service import EvaluationService
    from ..quality.service import QualityService
    from ..registry.service import ModelRegistry

__all__ = ["Sources", "as_dict", "gather_facts", "pick"]


@dataclasses.dataclass(frozen=True)
class Sources:
    """What a card is built from: the context and the capabilities cards build on."""

    ctx: Context
    data: DataService
    quality: QualityService
    evaluation: EvaluationService
    models: ModelRegistry


def as_dict(obj: Any) -> dict[str, Any] | None:
    """An entity (``to_dict()``), a mapping or ``None`` as a plain dict."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return dict(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        return dict(data) if isinstance(data, Mapping) else None
    return None


def pick(d: Mapping[str, Any] | None, *keys: str) -> Any:
    """The first of ``keys`` that ``d`` has a non-empty value for."""
    if not d:
        return None
    for key in keys:
        value = d.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def _model_info(info: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": pick(info, "model_type", "type", "estimator", "model_class", "class_name"),
        "format": pick(info, "serialization", "format", "flavor"),
        "author": pick(info, "author", "created_by", "actor", "user_id"),
        "created": pick(info, "created", "created_at", "creation_time", "ts"),
        "updated": pick(info, "updated", "updated_at", "last_updated"),
        "run_id": pick(info, "run_id"),
        "logged_in_run": None,
        "code_hash": pick(info, "code_hash", "code_sha256", "source_sha256"),
        "description": pick(info, "description"),
        "signature": _short(pick(info, "signature", "input_signature")),
        "license": pick(info, "license"),
        "artifacts": _artifacts(pick(info, "manifest", "artifact_hashes", "artifacts", "files")),
        "manifest_sha256": pick(info, "manifest_sha256"),
    }


def _artifacts(value: Any) -> dict[str, str] | None:
    """``{file: sha256}`` from a manifest (``{file: {"sha256", "size"}}``) or a plain mapping."""
    if not isinstance(value, Mapping):
        return None
    out = {}
    for path, entry in value.items():
        digest = entry.get("sha256") if isinstance(entry, Mapping) else entry
        out[str(path)] = str(digest)
    return out or None


def _short(value: Any) -> Any:
    """An MLflow signature as ``column: type, ...`` (a string of at most 2,000 characters)."""
    if value is None or isinstance(value, str):
        return value
    inputs = value.get("inputs") if isinstance(value, Mapping) else None
    if isinstance(inputs, str):
        try:
            inputs = json.loads(inputs)
        except ValueError:
            inputs = None
    if isinstance(inputs, list) and all(isinstance(i, Mapping) for i in inputs):
        text = ", ".join(f"{i.get('name', '?')}: {i.get('type', '?')}" for i in inputs)
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 2000 else text[:1997] + "..."


def _data_specs(value: Any) -> list[str]:
    out: list[str] = []
    for item in value or []:
        if isinstance(item, str):
            out.append(item)
        else:
            d = as_dict(item) or {}
            spec = pick(d, "spec", "data_version", "id")
            if spec is None and d.get("name") and d.get("version") is not None:
                spec = f"{d['name']}@{d['version']}"
            if spec:
                out.append(str(spec))
    return list(dict.fromkeys(out))


def _data_version(src: Sources, spec: str) -> dict[str, Any]:
    """A data version's card facts: fingerprint, size, profile, sensitive column names, quality."""
    entry: dict[str, Any] = {"spec": spec}
    try:
        dv = as_dict(src.data.get(spec)) or {}
    except MlopsError:
        return entry
    name, version = dv.get("name"), dv.get("version")
    if name and version is not None:
        entry["spec"] = f"{name}@{version}"
    scheme = pick(dv, "scheme")
    fingerprint = pick(dv, "fingerprint", "sha256")
    entry.update(
        fingerprint=f"{fingerprint} ({scheme})" if fingerprint and scheme else fingerprint,
        rows=dv.get("n_rows"),
        columns=dv.get("n_cols"),
        created=dv.get("created"),
        sensitive_columns=[str(c) for c in dv.get("sensitive") or []],
        profile=as_dict(dv.get("profile")),
    )
    try:
        entry["quality"] = [_quality(r) for r in src.quality.reports_for(entry["spec"])]
    except MlopsError:
        entry["quality"] = []
    return entry


def _count(value: Any) -> Any:
    return len(value) if isinstance(value, (list, tuple, dict)) else value


def _quality(report: Any) -> dict[str, Any]:
    r = as_dict(report) or {}
    failures = pick(r, "n_failed_checks", "failures", "failed", "n_failed")
    return {
        "id": pick(r, "report_id", "id", "sha256"),
        "ts": pick(r, "ts", "checked", "created"),
        "passed": r.get("passed", r.get("ok")),
        "failures": _count(failures) if failures is not None else 0,
        "suite": pick(r, "rules_source", "suite", "rules_name", "name"),
    }


def _metrics(ev: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    raw = ev.get("metrics") or {}
    intervals = ev.get("intervals") or ev.get("ci") or {}
    out: dict[str, dict[str, Any]] = {}
    items = raw.items() if isinstance(raw, Mapping) else ((m.get("name"), m) for m in raw if isinstance(m, Mapping))
    for name, m in items:
        if isinstance(m, Mapping):
            ci = m.get("ci") or m.get("interval") or intervals.get(name)
            low, high = (ci[0], ci[1]) if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
            out[str(name)] = {
                "value": pick(m, "value", "estimate", "point"),
                "ci_low": m.get("ci_low", m.get("low", low)),
                "ci_high": m.get("ci_high", m.get("high", high)),
                "passed": m.get("passed"),
            }
        else:
            ci = intervals.get(name)
            low, high = (ci[0], ci[1]) if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
            out[str(name)] = {"value": m, "ci_low": low, "ci_high": high, "passed": None}
    return out


def _fairness(ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = ev.get("fairness") or []
    if isinstance(raw, Mapping):
        raw = raw.get("by_feature", raw)
        if isinstance(raw, Mapping):
            raw = [{"feature": k, **(as_dict(v) or {})} for k, v in raw.items() if isinstance(v, Mapping)]
    out = []
    for item in raw:
        f = as_dict(item) or {}
        groups = f.get("groups") or f.get("by_group") or []
        if isinstance(groups, Mapping):
            groups = [{"group": k, **(as_dict(v) or {"value": v})} for k, v in groups.items()]
        norm_groups = []
        for g in groups:
            gd = as_dict(g) or {}
            label = pick(gd, "label", "name")
            if label is None:
                raw_group = gd.get("group")
                label = ", ".join(f"{k}={v}" for k, v in raw_group.items()) if isinstance(raw_group, Mapping) else raw_group
            row = {
                k: v
                for k, v in gd.items()
                if k not in ("group", "label", "count", "small") and not isinstance(v, (Mapping, list))
            }
            row.update(group=label, n=pick(gd, "count", "n", "size", "support"))
            if gd.get("small"):
                row["note"] = "small group: rates not reliable"
            norm_groups.append(row)
        feature = pick(f, "feature", "name", "sensitive_feature")
        if feature is None and isinstance(f.get("features"), list):
            feature = " x ".join(str(x) for x in f["features"])
        out.append(
            {
                "feature": feature,
                "groups": norm_groups,
                "disparities": {
                    k: v for k, v in (as_dict(f.get("disparities")) or {}).items() if not isinstance(v, (Mapping, list))
                },
                "warnings": [str(w) for w in f.get("warnings") or []],
            }
        )
    return out


def _thresholds(value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``({metric: "op limit"}, {metric: passed})`` from a list of checks or a mapping."""
    limits: dict[str, Any] = {}
    passed: dict[str, Any] = {}
    if isinstance(value, Mapping):
        value = [{"name": k, **(as_dict(v) or {"limit": v})} for k, v in value.items()]
    for t in value or []:
        d = as_dict(t) or {}
        name = d.get("name")
        if not name:
            continue
        limit = pick(d, "limit", "threshold", "value")
        limits[str(name)] = f"{d.get('op', '')} {limit}".strip()
        passed[str(name)] = d.get("passed")
    return limits, passed


def _evaluation(report: Any) -> dict[str, Any] | None:
    ev = as_dict(report)
    if not ev:
        return None
    ev.pop("plots", None)
    baseline = as_dict(ev.get("baseline")) or {}
    limits, passed = _thresholds(ev.get("thresholds"))
    metrics = _metrics(ev)
    for name, ok in passed.items():
        if name in metrics and metrics[name].get("passed") is None:
            metrics[name]["passed"] = ok
    base_ref = pick(baseline, "ref", "spec", "model")
    base_metrics = {k: (as_dict(v) or {"value": v}).get("value") for k, v in (baseline.get("metrics") or {}).items()}
    data: dict[str, Any] = as_dict(ev.get("data")) or {}
    parts = [as_dict(data.get(k)) or {} for k in ("X", "y")]
    data_specs = _data_specs(
        pick(ev, "data_versions", "datasets") or [p.get("data_version") for p in parts if p.get("data_version")]
    )
    uses: dict[str, str] = {}
    for role, part in zip(("features", "labels"), parts, strict=True):
        spec = part.get("data_version")
        if spec:
            text = _use(part, role)
            uses[spec] = text if uses.get(spec) in (None, text) else f"{uses[spec]}; {text}"
    unversioned = None
    if not data_specs and (data.get("digest") or parts[0].get("rows")):
        unversioned = _unversioned(parts[0], data.get("digest"))
    return {
        "id": pick(ev, "eval_id", "evaluation_id", "id", "report_id"),
        "ts": pick(ev, "created", "ts", "evaluated_at"),
        "author": pick(ev, "actor", "author", "evaluated_by"),
        "task": pick(ev, "task"),
        "n_rows": pick(ev, "n_rows", "n", "rows"),
        "ci_method": _ci_method(ev),
        "passed": ev.get("passed"),
        "metrics": metrics,
        "thresholds": limits,
        "threshold_results": [as_dict(t) for t in ev.get("thresholds") or [] if as_dict(t)],
        "fairness": _fairness(ev),
        "baseline": {"spec": base_ref, "metrics": base_metrics} if base_ref and base_metrics else None,
        "data": data_specs,
        "data_use": {k: v for k, v in uses.items() if v},
        "unversioned_data": unversioned,
        "warnings": [str(w) for w in ev.get("warnings") or []],
    }


def _use(part: Mapping[str, Any], role: str) -> str:
    """How an evaluation used a data version: whole, as features and target, or a derived part of it."""
    from ..data.origin import derivation_text

    if part.get("target"):
        return f"features and target {part['target']!r}"
    if part.get("derived"):
        return f"{role}: {derivation_text(part)}"
    return f"{role}: as versioned"


def _unversioned(x: Mapping[str, Any], digest: Any) -> dict[str, Any]:
    """The card's entry for evaluation rows that match no data version: their own fingerprint."""
    fingerprint = x.get("fingerprint")
    shown = f"{fingerprint} (blake3-canonical-v1)" if fingerprint else (f"{digest} (sha256 of the rows)" if digest else None)
    return {"spec": "not versioned", "fingerprint": shown, "rows": x.get("rows"), "columns": x.get("columns")}


def _ci_method(ev: Mapping[str, Any]) -> Any:
    rounds = pick(ev, "n_bootstrap", "bootstrap_rounds", "bootstrap")
    level = pick(ev, "confidence", "ci_level", "confidence_level")
    if rounds is None and level is None:
        return None
    rounds_text = "unknown" if rounds is None else rounds
    level_text = "unknown" if level is None else level
    return f"percentile bootstrap, {rounds_text} rounds, level {level_text}"


def _environment(src: Sources, run_id: str | None, run: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not run_id:
        return None
    tags = (run or {}).get("tags") or {}
    env: dict[str, Any] = {}
    text = None
    try:
        text = src.ctx.tracking.read_text_artifact(run_id, "mlops/environment.json", max_bytes=2_000_000)
    except MlopsError:
        text = None
    if text:
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, Mapping):
            env.update({k: loaded.get(k) for k in ("python", "implementation", "os")})
            env["packages"] = {str(k).lower(): str(v) for k, v in (loaded.get("packages") or {}).items()}
    env.setdefault("python", tags.get("mlops.python"))
    if tags.get("mlops.environment_sha256"):
        env["sha256"] = tags["mlops.environment_sha256"]
    return env if any(v not in (None, "", {}) for v in env.values()) else None


def _review(src: Sources, info: Mapping[str, Any], ref: str, moves: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Review status, aliases and the review and alias events of this version, oldest first."""
    status = pick(info, "status", "review_status")
    aliases = [str(a) for a in pick(info, "aliases") or []]
    events: list[dict[str, Any]] = []
    for r in src.models.reviews(ref) or ():
        d = as_dict(r) or {}
        events.append(
            {
                "ts": d.get("ts"),
                "actor": d.get("actor"),
                "action": d.get("action"),
                "comment": pick(d, "text", "comment", "note"),
            }
        )
    version = info.get("version")
    for m in moves:
        if version in (m.get("to_version"), m.get("from_version")):
            events.append(
                {
                    "ts": m.get("ts"),
                    "actor": m.get("actor"),
                    "action": _move_text(m),
                    "comment": f"approved by {m['approved_by']}" if m.get("approved_by") else None,
                }
            )
    events.sort(key=lambda e: str(e.get("ts")))
    if status is None and not events and not aliases:
        return None
    return {"status": status, "aliases": aliases, "events": events}


def _move_text(m: Mapping[str, Any]) -> str:
    before = "-" if m.get("from_version") is None else m["from_version"]
    after = "-" if m.get("to_version") is None else m["to_version"]
    return f"alias {m.get('alias')}: {before} -> {after}"


def _lifecycle(src: Sources, name: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Every registered version of ``name`` and every move of its aliases."""
    versions: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    table = as_dict(src.models.list_models(name)) or {}
    for v in table.get("versions") or []:
        d = as_dict(v) or {}
        versions.append(
            {
                k: d.get(k)
                for k in ("version", "created", "author", "status", "aliases", "code_sha256", "manifest_sha256", "run_id")
            }
        )
    try:
        moves = [as_dict(m) or {} for m in (as_dict(src.models.alias_history(name)) or {}).get("moves") or []]
    except NotFound:
        moves = []
    if not versions and not moves:
        return None, moves
    return {"versions": sorted(versions, key=lambda v: int(v.get("version") or 0)), "alias_moves": moves}, moves


def _lineage_sources(src: Sources, dst: tuple[str, str], relations: tuple[str, ...]) -> list[str]:
    from ..lineage.graph import edges_of

    with src.ctx.read() as conn:
        edges = edges_of(conn, dst, direction="in")
    return [e.src_id for e in edges if e.src_type == "data_version" and e.relation in relations]


def _training_use(src: Sources, node_id: str, specs: list[str]) -> list[str | None]:
    """Per training data version, the feature columns the model's input example kept of it."""
    from ..lineage.graph import edges_of

    with src.ctx.read() as conn:
        edges = edges_of(conn, ("model_version", node_id), direction="in")
    kept: dict[str, Any] = {
        e.src_id: (e.payload.get("derived") or {}).get("columns") for e in edges if e.relation == "trained" and e.payload
    }
    return [f"features {', '.join(map(str, kept[s]))}" if kept.get(s) else None for s in specs]


def gather_facts(src: Sources, name: str, version: int, info: Mapping[str, Any]) -> RecordedFacts:
    """Everything recorded about ``name@version``; ``info`` is the registry's record of it."""
    node_id = f"{name}@{version}"
    model = _model_info(info)
    run_id = model.get("run_id")
    run: dict[str, Any] | None = None
    if run_id:
        try:
            run = src.ctx.tracking.get_run(str(run_id))
        except NotFound:
            run = None
    params = dict(run.get("params") or {}) if run else None
    if run and not model.get("code_hash"):
        model["code_hash"] = pick(run.get("tags") or {}, "mlops.source_sha256", "mlops.code_sha256")
    if run and (run.get("tags") or {}).get("mlops.kind") == "log_model":
        # log_model opened this run around itself: it logged the model, it did not fit it.
        model["logged_in_run"], model["run_id"] = run_id, None
    specs = _data_specs(pick(info, "data_versions", "training_data", "datasets"))
    if not specs and run_id:
        specs = _lineage_sources(src, ("run", str(run_id)), ("input_of", "used_by", "read_by"))
    training = [_data_version(src, s) for s in specs]
    for entry, use in zip(training, _training_use(src, node_id, specs), strict=True):
        if use:
            entry["used"] = use
    lifecycle, moves = _lifecycle(src, name)
    evaluation = _evaluation(src.evaluation.latest_for(node_id))
    eval_specs = list((evaluation or {}).get("data") or [])
    eval_data = [_data_version(src, s) for s in eval_specs]
    for spec, entry in zip(eval_specs, eval_data, strict=True):
        use = ((evaluation or {}).get("data_use") or {}).get(spec)
        if use:
            entry["used"] = use
    if not eval_data and evaluation and evaluation.get("unversioned_data"):
        eval_data = [evaluation["unversioned_data"]]
    return RecordedFacts(
        model_name=name,
        model_version=version,
        model=model if any(v is not None for v in model.values()) else None,
        params=params or None,
        environment=_environment(src, str(run_id) if run_id else None, run),
        training_data=training,
        evaluation=evaluation,
        evaluation_data=eval_data,
        review=_review(src, info, node_id, moves),
        lifecycle=lifecycle,
    )
