"""Collecting what the workspace recorded about a model version, for its card.

A card reads other capabilities only through their public services on the workspace
(``ws.models``, ``ws.evaluation``, ``ws.data``, ``ws.quality``), the tracking back-end
(parameters, the ``mlops/environment.json`` artifact), the lineage graph and the audit trail.
Each source is read through its typed entity (:class:`~jupyter_mlops.registry.entities.ModelVersion`,
:class:`~jupyter_mlops.data.entities.DataVersion`, :class:`~jupyter_mlops.quality.report.QualityReport`,
:class:`~jupyter_mlops.evaluation.report.EvaluationReport`, reviews and alias moves) and turned
into plain JSON-safe data here, so the card's rules (:mod:`~jupyter_mlops.cards.sections`) never
depend on another package's entity classes. A source that has nothing for this version leaves
its part of the facts empty, which the card shows as "unknown"; an error of the registry itself
(unknown version or alias) is raised.
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
    from ..evaluation.report import EvaluationReport
    from ..evaluation.service import EvaluationService
    from ..quality.report import QualityReport
    from ..quality.service import QualityService
    from ..registry.entities import AliasMove, ModelVersion
    from ..registry.service import ModelRegistry

__all__ = ["Sources", "gather_facts"]


@dataclasses.dataclass(frozen=True)
class Sources:
    """What a card is built from: the context and the capabilities cards build on."""

    ctx: Context
    data: DataService
    quality: QualityService
    evaluation: EvaluationService
    models: ModelRegistry


def _model_info(mv: ModelVersion) -> dict[str, Any]:
    return {
        "type": mv.model_type or None,
        "format": mv.serialization or mv.flavor or None,
        "author": mv.author or None,
        "created": mv.created or None,
        "updated": None,
        "run_id": mv.run_id or None,
        "logged_in_run": None,
        "code_hash": mv.code_sha256 or None,
        "description": None,
        "signature": _short(mv.signature or None),
        "license": None,
        "artifacts": _artifacts(mv.manifest or None),
        "manifest_sha256": mv.manifest_sha256 or None,
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


def _data_version(src: Sources, spec: str) -> dict[str, Any]:
    """A data version's card facts: fingerprint, size, profile, sensitive column names, quality."""
    entry: dict[str, Any] = {"spec": spec}
    try:
        dv = src.data.get(spec)
    except MlopsError:
        return entry
    entry.update(
        spec=dv.spec,
        fingerprint=f"{dv.fingerprint} ({dv.scheme})" if dv.fingerprint and dv.scheme else (dv.fingerprint or None),
        rows=dv.n_rows,
        columns=dv.n_cols,
        created=dv.created,
        sensitive_columns=[str(c) for c in dv.sensitive],
        profile=dict(dv.profile) if dv.profile is not None else None,
    )
    try:
        entry["quality"] = [_quality(r) for r in src.quality.reports_for(entry["spec"])]
    except MlopsError:
        entry["quality"] = []
    return entry


def _quality(report: QualityReport) -> dict[str, Any]:
    return {
        "id": report.id or None,
        "ts": report.ts or None,
        "passed": report.passed,
        "failures": len(report.failures),
        "suite": report.rules_source or None,
    }


def _metrics(report: EvaluationReport) -> dict[str, dict[str, Any]]:
    return {
        str(name): {"value": m.get("value"), "ci_low": m.get("ci_low"), "ci_high": m.get("ci_high"), "passed": m.get("passed")}
        for name, m in report.metrics.items()
    }


def _fairness(report: EvaluationReport) -> list[dict[str, Any]]:
    """Per sensitive feature (and pair): its groups, disparities and warnings, as the card shows them."""
    out = []
    for feature, result in ((report.fairness or {}).get("by_feature") or {}).items():
        groups = []
        for g in result.get("groups") or []:
            row = {
                k: v for k, v in g.items() if k not in ("group", "label", "count", "small") and not isinstance(v, (Mapping, list))
            }
            row.update(group=g.get("label"), n=g.get("count"))
            if g.get("small"):
                row["note"] = "small group: rates not reliable"
            groups.append(row)
        out.append(
            {
                "feature": feature,
                "groups": groups,
                "disparities": {k: v for k, v in (result.get("disparities") or {}).items() if not isinstance(v, (Mapping, list))},
                "warnings": [str(w) for w in result.get("warnings") or []],
            }
        )
    return out


def _evaluation(report: EvaluationReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    checks = [dict(t) for t in report.thresholds]
    metrics = _metrics(report)
    for t in checks:
        name = str(t.get("name"))
        if name in metrics and metrics[name].get("passed") is None:
            metrics[name]["passed"] = t.get("passed")
    base_ref = report.baseline.get("ref")
    base_metrics = dict(report.baseline.get("metrics") or {})
    parts = [dict(report.data.get(k) or {}) for k in ("X", "y")]
    data_specs = list(dict.fromkeys(str(p["data_version"]) for p in parts if p.get("data_version")))
    uses: dict[str, str] = {}
    for role, part in zip(("features", "labels"), parts, strict=True):
        spec = part.get("data_version")
        if spec:
            text = _use(part, role)
            uses[spec] = text if uses.get(spec) in (None, text) else f"{uses[spec]}; {text}"
    digest = report.data.get("digest")
    unversioned = None
    if not data_specs and (digest or parts[0].get("rows")):
        unversioned = _unversioned(parts[0], digest)
    return {
        "id": report.eval_id or None,
        "ts": report.created or None,
        "author": report.actor or None,
        "task": report.task or None,
        "n_rows": report.n_rows,
        "ci_method": f"percentile bootstrap, {report.n_bootstrap} rounds, level {report.confidence}",
        "passed": report.passed,
        "metrics": metrics,
        "thresholds": {str(t["name"]): f"{t.get('op', '')} {t.get('limit')}".strip() for t in checks if t.get("name")},
        "threshold_results": checks,
        "fairness": _fairness(report),
        "baseline": {"spec": base_ref, "metrics": base_metrics} if base_ref and base_metrics else None,
        "data": data_specs,
        "data_use": {k: v for k, v in uses.items() if v},
        "unversioned_data": unversioned,
        "warnings": [str(w) for w in report.warnings],
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


def _review(src: Sources, mv: ModelVersion, moves: tuple[AliasMove, ...]) -> dict[str, Any] | None:
    """Review status, aliases and the review and alias events of this version, oldest first."""
    events: list[dict[str, Any]] = [
        {"ts": r.ts, "actor": r.actor, "action": r.action, "comment": r.text or None} for r in src.models.reviews(mv.ref)
    ]
    for m in moves:
        if mv.version in (m.to_version, m.from_version):
            events.append(
                {
                    "ts": m.ts,
                    "actor": m.actor,
                    "action": _move_text(m),
                    "comment": f"approved by {m.approved_by}" if m.approved_by else None,
                }
            )
    events.sort(key=lambda e: str(e.get("ts")))
    status = mv.status or None
    aliases = [str(a) for a in mv.aliases]
    if status is None and not events and not aliases:
        return None
    return {"status": status, "aliases": aliases, "events": events}


def _move_text(m: AliasMove) -> str:
    before = "-" if m.from_version is None else m.from_version
    after = "-" if m.to_version is None else m.to_version
    return f"alias {m.alias}: {before} -> {after}"


def _lifecycle(src: Sources, name: str) -> tuple[dict[str, Any] | None, tuple[AliasMove, ...]]:
    """Every registered version of ``name`` and every move of its aliases."""
    versions = [
        {
            "version": v.version,
            "created": v.created,
            "author": v.author,
            "status": v.status,
            "aliases": list(v.aliases),
            "code_sha256": v.code_sha256,
            "manifest_sha256": v.manifest_sha256,
            "run_id": v.run_id,
        }
        for v in src.models.list_models(name).versions
    ]
    try:
        moves = src.models.alias_history(name).moves
    except NotFound:
        moves = ()
    if not versions and not moves:
        return None, moves
    return {"versions": sorted(versions, key=lambda v: v["version"]), "alias_moves": [m.to_dict() for m in moves]}, moves


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


def gather_facts(src: Sources, mv: ModelVersion) -> RecordedFacts:
    """Everything recorded about the registered version ``mv``."""
    node_id = mv.ref
    model = _model_info(mv)
    run_id = model.get("run_id")
    run: dict[str, Any] | None = None
    if run_id:
        try:
            run = src.ctx.tracking.get_run(str(run_id))
        except NotFound:
            run = None
    params = dict(run.get("params") or {}) if run else None
    tags = (run or {}).get("tags") or {}
    if run and not model.get("code_hash"):
        model["code_hash"] = tags.get("mlops.source_sha256") or tags.get("mlops.code_sha256") or None
    if run and tags.get("mlops.kind") == "log_model":
        # log_model opened this run around itself: it logged the model, it did not fit it.
        model["logged_in_run"], model["run_id"] = run_id, None
    specs = list(dict.fromkeys(mv.data_versions))
    if not specs and run_id:
        specs = _lineage_sources(src, ("run", str(run_id)), ("input_of", "used_by", "read_by"))
    training = [_data_version(src, s) for s in specs]
    for entry, use in zip(training, _training_use(src, node_id, specs), strict=True):
        if use:
            entry["used"] = use
    lifecycle, moves = _lifecycle(src, mv.name)
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
        model_name=mv.name,
        model_version=mv.version,
        model=model if any(v is not None for v in model.values()) else None,
        params=params or None,
        environment=_environment(src, str(run_id) if run_id else None, run),
        training_data=training,
        evaluation=evaluation,
        evaluation_data=eval_data,
        review=_review(src, mv, moves),
        lifecycle=lifecycle,
    )
