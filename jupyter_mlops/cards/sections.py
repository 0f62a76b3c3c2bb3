"""Turning recorded facts into the recorded sections of a card: facts, tables and "unknown".

Kept apart from the entity so the rules that decide what a card may say live in one place:
every value comes from a :class:`~jupyter_mlops.cards.card.RecordedFacts` field; a missing value
becomes ``"unknown"``; for sensitive columns a data profile keeps only value-free statistics
(type, missing and distinct counts), never minimums, maximums, frequent values or examples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .card import Table
from .spec import UNKNOWN

if TYPE_CHECKING:
    from .card import RecordedFacts

__all__ = ["KEY_PACKAGES", "SAFE_SENSITIVE_STATS", "build_recorded", "redact_profile"]

Built = tuple[tuple[tuple[str, Any], ...], tuple[Table, ...]]

#: Packages whose versions a card lists (when the run recorded them).
KEY_PACKAGES = (
    "scikit-learn",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "skops",
    "mlflow",
    "fairlearn",
    "pandera",
    "xgboost",
    "lightgbm",
    "catboost",
    "torch",
    "tensorflow",
    "jupyter-mlops",
)
#: Profile statistics that never reveal a value of a column (allowed for sensitive columns).
SAFE_SENSITIVE_STATS = frozenset(
    {
        "dtype",
        "type",
        "kind",
        "count",
        "non_null",
        "nulls",
        "null_count",
        "missing",
        "missing_count",
        "null_fraction",
        "missing_fraction",
        "n_unique",
        "unique",
        "distinct",
        "distinct_count",
        "cardinality",
    }
)


def _v(value: Any) -> Any:
    """A fact value, or ``"unknown"`` when nothing was recorded."""
    if value is None or (isinstance(value, (str, list, tuple, dict)) and len(value) == 0):
        return UNKNOWN
    return value


def _get(d: Mapping[str, Any] | None, *keys: str) -> Any:
    if not d:
        return None
    for key in keys:
        if d.get(key) not in (None, ""):
            return d[key]
    return None


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def redact_profile(profile: Mapping[str, Any] | None, sensitive: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per-column statistics fit for a card: scalars only; value-free ones only for sensitive columns."""
    secret = set(sensitive)
    columns = _get(profile, "columns") if isinstance(profile, Mapping) and "columns" in profile else profile
    out: dict[str, dict[str, Any]] = {}
    if isinstance(columns, Mapping):
        items: Iterable[tuple[str, Any]] = columns.items()
    elif isinstance(columns, list):
        items = [(str(c.get("name", c.get("column", i))), c) for i, c in enumerate(columns) if isinstance(c, Mapping)]
    else:
        return out
    for name, stats in items:
        if not isinstance(stats, Mapping):
            continue
        keep = {k: v for k, v in stats.items() if _scalar(v) and k not in ("name", "column")}
        if name in secret:
            keep = {k: v for k, v in keep.items() if k in SAFE_SENSITIVE_STATS}
        out[str(name)] = keep
    return out


def _data_tables(label: str, versions: list[dict[str, Any]]) -> Built:
    if not versions:
        return (((label, UNKNOWN),), ())
    facts: list[tuple[str, Any]] = []
    tables: list[Table] = []
    rows = []
    used = any(dv.get("used") for dv in versions)
    for dv in versions:
        sensitive = list(dv.get("sensitive_columns") or [])
        row = (
            _v(dv.get("spec")),
            _v(dv.get("fingerprint")),
            _v(dv.get("rows")),
            _v(dv.get("columns")),
            ", ".join(sensitive) if sensitive else ("none declared" if "sensitive_columns" in dv else UNKNOWN),
            _v(dv.get("created")),
        )
        rows.append((*row, dv.get("used") or "") if used else row)
        if dv.get("spec") == "not versioned":
            continue  # no profile or quality report can exist for rows that were never versioned
        profile = redact_profile(dv.get("profile"), sensitive)
        if profile:
            stat_names = sorted({k for s in profile.values() for k in s})[:8]
            tables.append(
                Table(
                    f"Profile of {dv.get('spec', UNKNOWN)} (sensitive columns: value-free statistics only)",
                    ("column", "sensitive", *stat_names),
                    tuple(
                        (col, "yes" if col in sensitive else "no", *(stats.get(k, "") for k in stat_names))
                        for col, stats in profile.items()
                    ),
                )
            )
        else:
            facts.append((f"Profile of {dv.get('spec', UNKNOWN)}", UNKNOWN))
        quality = dv.get("quality")
        if quality:
            tables.append(
                Table(
                    f"Quality reports of {dv.get('spec', UNKNOWN)}",
                    ("report", "checked", "passed", "failures", "suite"),
                    tuple(
                        (_v(q.get("id")), _v(q.get("ts")), _v(q.get("passed")), _v(q.get("failures")), _v(q.get("suite")))
                        for q in quality
                    ),
                )
            )
        else:
            facts.append((f"Quality reports of {dv.get('spec', UNKNOWN)}", UNKNOWN))
    headers = ("data version", "fingerprint", "rows", "columns", "sensitive columns", "created")
    tables.insert(0, Table(label, (*headers, "used") if used else headers, tuple(rows)))
    return tuple(facts), tuple(tables)


def _model_details(facts: RecordedFacts) -> Built:
    m = facts.model or {}
    out: list[tuple[str, Any]] = [
        ("Name", facts.model_name),
        ("Version", facts.model_version),
        ("Type", _v(_get(m, "type", "model_type", "estimator"))),
        ("Format", _v(_get(m, "format", "flavor"))),
        ("Developed by", _v(_get(m, "author", "created_by", "user"))),
        ("Created", _v(_get(m, "created", "created_at", "ts"))),
        ("Last updated", _v(_get(m, "updated", "last_updated"))),
        ("Training run", _v(_get(m, "run_id"))),
        *((("Logged in run", m["logged_in_run"]),) if m.get("logged_in_run") else ()),
        ("Code hash (sha256)", _v(_get(m, "code_hash", "source_sha256"))),
        ("Artifact manifest hash (sha256)", _v(_get(m, "manifest_sha256"))),
        ("Description", _v(_get(m, "description"))),
        ("Input signature", _v(_get(m, "signature"))),
        ("License", _v(_get(m, "license"))),
    ]
    if not facts.model:
        out = out[:2] + [(k, UNKNOWN) for k, _ in out[2:]]
    tables: list[Table] = []
    artifacts = _get(m, "artifacts", "artifact_hashes", "files")
    if isinstance(artifacts, Mapping) and artifacts:
        tables.append(Table("Artifact files", ("file", "sha256"), tuple(sorted((str(k), str(v)) for k, v in artifacts.items()))))
    if facts.params:
        tables.append(Table("Parameters (from the training run)", ("parameter", "value"), tuple(sorted(facts.params.items()))))
    else:
        out.append(("Parameters", UNKNOWN))
    return tuple(out), tuple(tables)


def _metric_rows(metrics: Mapping[str, Any], thresholds: Mapping[str, Any]) -> tuple[tuple[Any, ...], ...]:
    rows = []
    for name, m in sorted(metrics.items()):
        if isinstance(m, Mapping):
            value, low, high = m.get("value"), _get(m, "ci_low", "low", "lower"), _get(m, "ci_high", "high", "upper")
            passed = m.get("passed")
        else:
            value, low, high, passed = m, None, None, None
        limit = thresholds.get(name)  # no threshold declared is not "unknown": the cell stays empty
        rows.append((name, _v(value), _v(low), _v(high), limit or "", _v(passed) if limit else ""))
    return tuple(rows)


def _metrics(facts: RecordedFacts) -> Built:
    ev = facts.evaluation
    if not ev or not ev.get("metrics"):
        return ((("Evaluation", UNKNOWN), ("Metrics", UNKNOWN)), ())
    out = (
        ("Evaluation", _v(ev.get("id"))),
        ("Evaluated", _v(ev.get("ts"))),
        ("Evaluated by", _v(ev.get("author"))),
        ("Task", _v(ev.get("task"))),
        ("Rows evaluated", _v(ev.get("n_rows"))),
        ("Confidence intervals", _v(ev.get("ci_method"))),
        ("Overall result against thresholds", _v(ev.get("passed"))),
    )
    table = Table(
        "Metrics with confidence intervals",
        ("metric", "value", "CI low", "CI high", "threshold", "passed"),
        _metric_rows(ev["metrics"], ev.get("thresholds") or {}),
    )
    checks = [t for t in ev.get("threshold_results") or [] if isinstance(t, Mapping)]
    if not checks:
        return (*out, ("Thresholds", "none declared")), (table,)
    policy = Table(
        "Thresholds declared for the evaluation (pass or fail each)",
        ("check", "limit", "value", "passed", "note"),
        tuple(
            (
                str(t.get("name")),
                f"{t.get('op')} {t.get('limit')}",
                _v(t.get("value")),
                _v(t.get("passed")),
                t.get("reason") or "",
            )
            for t in checks
        ),
    )
    return out, (policy, table)


def _fairness(ev: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [dict(f) for f in (ev or {}).get("fairness") or [] if isinstance(f, Mapping)]


def _factors(facts: RecordedFacts) -> Built:
    fairness = _fairness(facts.evaluation)
    sensitive = sorted({c for dv in facts.training_data + facts.evaluation_data for c in dv.get("sensitive_columns") or []})
    evaluated = [str(f.get("feature")) for f in fairness]
    out: list[tuple[str, Any]] = [
        ("Sensitive columns in the data", ", ".join(sensitive) if sensitive else UNKNOWN),
        ("Groups evaluated (sensitive features)", ", ".join(evaluated) if evaluated else UNKNOWN),
    ]
    tables = []
    rows = []
    for f in fairness:
        for g in f.get("groups") or []:
            rows.append((f.get("feature"), _v(g.get("group")), _v(g.get("n")), g.get("note") or ""))
    if rows:
        tables.append(Table("Groups and their sizes in the evaluation data", ("feature", "group", "rows", "note"), tuple(rows)))
    return tuple(out), tuple(tables)


def _quantitative(facts: RecordedFacts) -> Built:
    ev = facts.evaluation or {}
    fairness = _fairness(ev)
    tables: list[Table] = []
    for f in fairness:
        groups = [g for g in f.get("groups") or [] if isinstance(g, Mapping)]
        names = sorted({k for g in groups for k, v in g.items() if k not in ("group", "n", "note") and _scalar(v)})
        if groups:
            tables.append(
                Table(
                    f"Per-group results: {f.get('feature')}",
                    ("group", "rows", *names),
                    tuple((_v(g.get("group")), _v(g.get("n")), *(_v(g.get(k)) for k in names)) for g in groups),
                )
            )
        disparities = f.get("disparities") or {}
        if disparities:
            tables.append(
                Table(
                    f"Disparities: {f.get('feature')}",
                    ("measure", "value"),
                    tuple(sorted((k, _v(v)) for k, v in disparities.items())),
                )
            )
    baseline = ev.get("baseline")
    if isinstance(baseline, Mapping) and baseline.get("metrics"):
        tables.append(
            Table(
                f"Comparison with baseline {baseline.get('spec', UNKNOWN)}",
                ("metric", "this version", "baseline", "difference"),
                tuple(
                    (k, _v(_num(ev.get("metrics", {}).get(k))), _v(_num(v)), _v(_diff(ev.get("metrics", {}).get(k), v)))
                    for k, v in sorted(baseline["metrics"].items())
                ),
            )
        )
    warnings = [w for f in fairness for w in f.get("warnings") or []] + list(ev.get("warnings") or [])
    if warnings:
        tables.append(Table("Evaluation warnings", ("warning",), tuple((w,) for w in dict.fromkeys(warnings))))
    out: tuple[tuple[str, Any], ...] = (
        ("Per-group fairness results", "recorded" if fairness else UNKNOWN),
        ("Baseline comparison", _v(baseline.get("spec")) if isinstance(baseline, Mapping) else UNKNOWN),
    )
    return out, tuple(tables)


def _num(m: Any) -> Any:
    return m.get("value") if isinstance(m, Mapping) else m


def _diff(a: Any, b: Any) -> Any:
    a, b = _num(a), _num(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return a - b
    return None


def _review(facts: RecordedFacts) -> Built:
    r = facts.review
    if not r:
        return ((("Review status", UNKNOWN), ("Approvals", UNKNOWN)), ())
    out = [("Review status", _v(r.get("status"))), ("Aliases", ", ".join(r.get("aliases") or []) or "none")]
    tables = []
    events = [e for e in r.get("events") or [] if isinstance(e, Mapping)]
    if events:
        tables.append(
            Table(
                "Review history",
                ("when", "who", "action", "comment"),
                tuple((_v(e.get("ts")), _v(e.get("actor")), _v(e.get("action")), e.get("comment") or "") for e in events),
            )
        )
    approvals = [e for e in events if str(e.get("action", "")).endswith("approve")]
    out.append(("Approvals", len(approvals) if "events" in r else UNKNOWN))
    return tuple(out), tuple(tables)


def _lifecycle(facts: RecordedFacts) -> Built:
    life = facts.lifecycle
    if not life:
        return ((("Registered versions", UNKNOWN), ("Alias moves", UNKNOWN)), ())
    versions = [v for v in life.get("versions") or [] if isinstance(v, Mapping)]
    moves = [m for m in life.get("alias_moves") or [] if isinstance(m, Mapping)]
    tables = []
    if versions:
        tables.append(
            Table(
                f"Registered versions of {facts.model_name}",
                ("version", "this card", "logged", "by", "review", "aliases", "code sha256", "artifact manifest sha256"),
                tuple(
                    (
                        v.get("version"),
                        "yes" if v.get("version") == facts.model_version else "",
                        _v(v.get("created")),
                        _v(v.get("author")),
                        _v(v.get("status")),
                        ", ".join(v.get("aliases") or []),
                        _v(v.get("code_sha256")),
                        _v(v.get("manifest_sha256")),
                    )
                    for v in versions
                ),
            )
        )
    if moves:
        tables.append(
            Table(
                "Alias moves",
                ("when", "alias", "from version", "to version", "by", "approved by"),
                tuple(
                    (
                        _v(m.get("ts")),
                        _v(m.get("alias")),
                        "-" if m.get("from_version") is None else m["from_version"],
                        "-" if m.get("to_version") is None else m["to_version"],
                        _v(m.get("actor")),
                        _v(m.get("approved_by")),
                    )
                    for m in moves
                ),
            )
        )
    out = (("Registered versions", len(versions) if versions else UNKNOWN), ("Alias moves", len(moves)))
    return out, tuple(tables)


def _environment(facts: RecordedFacts) -> Built:
    env = facts.environment
    if not env:
        return ((("Python", UNKNOWN), ("Packages", UNKNOWN)), ())
    out = (
        ("Python", _v(env.get("python"))),
        ("Implementation", _v(env.get("implementation"))),
        ("Operating system", _v(env.get("os"))),
        ("Environment hash (sha256)", _v(env.get("sha256"))),
    )
    packages = env.get("packages") or {}
    rows = tuple((p, packages[p]) for p in KEY_PACKAGES if p in packages)
    return out, ((Table("Key package versions", ("package", "version"), rows),) if rows else ())


def build_recorded(facts: RecordedFacts) -> dict[str, Built]:
    """The facts and tables of every recorded section."""
    return {
        "model_details": _model_details(facts),
        "factors": _factors(facts),
        "metrics": _metrics(facts),
        "evaluation_data": _data_tables("Evaluation data versions", facts.evaluation_data),
        "training_data": _data_tables("Training data versions", facts.training_data),
        "quantitative_analyses": _quantitative(facts),
        "review": _review(facts),
        "lifecycle": _lifecycle(facts),
        "environment": _environment(facts),
    }
