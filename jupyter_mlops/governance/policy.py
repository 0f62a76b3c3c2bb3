"""A written compliance policy (YAML), parsed strictly: an unknown key is refused with a "did you mean".

::

    name: public-sector-high-impact
    metrics: {accuracy: {min: 0.75}, roc_auc: {min: 0.7}}
    fairness: {demographic_parity_ratio: {min: 0.8}, equalized_odds_difference: {max: 0.1}}
    card: {required: [intended_use, out_of_scope_uses, ethical_considerations]}
    data: {quality: passed, sensitive_declared: true}
    approvals: {min: 1}
    oversight: {stop_procedure_documented: true}
    retention: {audit_log_days: 180}
    impact_level: {recorded: true}

A fairness metric alone (``equalized_odds_difference``) is the worst over every sensitive
feature and pair of features; ``equalized_odds_difference[colour]`` is one feature's.
Each rule carries its regulatory references (:data:`REFERENCES`): EU AI Act articles and Annex IV
points, NIST AI RMF subcategories, Canada's Directive on Automated Decision-Making.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.hashing import sha256_json
from ..core.paths import validate_file
from ..errors import InvalidInput

__all__ = ["REFERENCES", "Policy", "load_policy", "parse_policy"]

#: Which keys each table takes; ``None``: any metric name, each ``{min|max: number}``.
_TABLES: dict[str, tuple[str, ...] | None] = {
    "metrics": None,
    "fairness": None,
    "card": ("required",),
    "data": ("quality", "sensitive_declared"),
    "approvals": ("min",),
    "oversight": ("stop_procedure_documented",),
    "retention": ("audit_log_days",),
    "impact_level": ("recorded",),
}
_TOP = ("name", "description", *_TABLES)

#: The references every rule family carries (EU AI Act 2024/1689, NIST AI RMF 1.0, Canada DADM).
REFERENCES: dict[str, tuple[str, ...]] = {
    "metrics": ("EU AI Act Art. 15", "EU AI Act Annex IV(2)(g)", "NIST AI RMF MEASURE 2.4"),
    "fairness": ("EU AI Act Art. 10(2)(f)", "EU AI Act Annex IV(2)(g)", "NIST AI RMF MEASURE 2.11"),
    "card": ("EU AI Act Art. 11", "EU AI Act Annex IV(1)", "EU AI Act Annex IV(3)", "NIST AI RMF MAP 1.1"),
    "data": ("EU AI Act Art. 10", "EU AI Act Annex IV(2)(d)", "NIST AI RMF MEASURE 2.4"),
    "approvals": ("EU AI Act Art. 14", "NIST AI RMF GOVERN 1.6"),
    "oversight": ("EU AI Act Art. 14", "EU AI Act Annex IV(2)(e)", "NIST AI RMF MANAGE 4.1"),
    "retention": ("EU AI Act Art. 12", "EU AI Act Art. 19", "EU AI Act Art. 26(6)"),
    "impact_level": ("Canada DADM Appendix B (impact levels I-IV)", "NIST AI RMF MAP 1.1"),
}


@dataclass(frozen=True)
class Policy:
    """A parsed policy; ``sha256`` identifies its content (a report names the policy it was checked against)."""

    name: str
    rules: dict[str, Any]
    sha256: str
    description: str = ""
    source: str = field(default="")


def _refuse(key: str, allowed: tuple[str, ...], where: str) -> InvalidInput:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(allowed)}"
    return InvalidInput(f"unknown key {key!r} in {where} of the compliance policy", value=key, hint=hint, field=where)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{where} must be a number, got {value!r}", value=repr(value)[:80], field=where)
    return float(value)


def parse_policy(data: Any, *, source: str = "") -> Policy:
    """Validate a policy mapping (what YAML gives); every problem names the key and the fix."""
    if not isinstance(data, dict):
        raise InvalidInput("a compliance policy is a YAML mapping", value=type(data).__name__, hint="see docs/compliance.md")
    for key in data:
        if key not in _TOP:
            raise _refuse(str(key), _TOP, "the policy")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a compliance policy needs a name", value=repr(name), hint="add `name: my-policy`", field="name")
    rules: dict[str, Any] = {}
    for table, keys in _TABLES.items():
        body = data.get(table)
        if body is None:
            continue
        if not isinstance(body, dict):
            raise InvalidInput(f"{table} must be a mapping", value=repr(body)[:80], field=table)
        if keys is None:
            for metric, bound in body.items():
                if not isinstance(bound, dict) or not bound or any(b not in ("min", "max") for b in bound):
                    bad = next((str(b) for b in (bound if isinstance(bound, dict) else {}) if b not in ("min", "max")), "")
                    if bad:
                        raise _refuse(bad, ("min", "max"), f"{table}.{metric}")
                    raise InvalidInput(f"{table}.{metric} must be {{min: X}} or {{max: X}}", value=repr(bound)[:80])
                rules.setdefault(table, {})[str(metric)] = {b: _number(v, f"{table}.{metric}.{b}") for b, v in bound.items()}
            continue
        for key in body:
            if key not in keys:
                raise _refuse(str(key), keys, table)
        rules[table] = dict(body)
    required = rules.get("card", {}).get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise InvalidInput("card.required must be a list of section keys", value=repr(required)[:80], field="card.required")
    return Policy(name.strip(), rules, sha256_json(data), str(data.get("description") or ""), source)


def load_policy(path: str | Path) -> Policy:
    """Read and parse a policy file."""
    import yaml

    file = validate_file(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{file.name} is not valid YAML: {exc}", value=file.name, field="policy") from exc
    return parse_policy(data, source=file.name)
