"""Compliance of a model version against a written policy: each rule, pass or fail, with its evidence.

``ws.compliance.check("model@3", policy)`` (``mlops.check_compliance``, ``jupyter-mlops
compliance check``) re-reads what was recorded (the latest evaluation, the model card, the
training data versions and their quality reports, the review trail, the audit chain, the
recorded impact level), judges each rule of the :class:`~.policy.Policy`, stores the
:class:`ComplianceReport` with a ``compliance.check`` audit event, and returns it. Nothing is
guessed: a rule whose evidence is missing fails and says what is missing.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.entities import Entity
from ..errors import InvalidInput, NotFound
from .policy import REFERENCES, Policy, load_policy
from .schema import compliance_reports

if TYPE_CHECKING:
    from pathlib import Path

    from ..cards.service import CardService
    from ..core.context import Context
    from ..data.service import DataService
    from ..evaluation.service import EvaluationService
    from ..quality.service import QualityService
    from ..registry.service import ModelRegistry

__all__ = ["DADM_LEVELS", "ComplianceReport", "ComplianceService", "RuleResult"]

#: Canada's Directive on Automated Decision-Making impact levels.
DADM_LEVELS = ("I", "II", "III", "IV")


@dataclasses.dataclass(frozen=True)
class RuleResult(Entity):
    """One rule: what the policy asks, what was found, and where it was found (``evidence``)."""

    rule: str
    passed: bool
    expected: str
    actual: str
    evidence: tuple[dict[str, Any], ...] = ()
    references: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ComplianceReport(Entity):
    """A model version checked against a policy; ``passed`` when every rule passed."""

    report_id: str
    model_version: str
    policy: str
    policy_sha256: str
    passed: bool
    rules: tuple[RuleResult, ...]
    actor: str
    ts: str
    audit_seq: int | None = None

    def __bool__(self) -> bool:
        return self.passed

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if not r.passed)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComplianceReport:
        rules = tuple(
            RuleResult(**{**r, "evidence": tuple(r["evidence"]), "references": tuple(r["references"])}) for r in data["rules"]
        )
        return cls(**{**{k: v for k, v in data.items() if k != "rules"}, "rules": rules})

    def to_markdown(self) -> str:
        from .render import markdown

        return markdown(self)

    def to_html(self) -> str:
        from .render import html

        return html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


def _ev(kind: str, ident: Any, **more: Any) -> dict[str, Any]:
    return {"type": kind, "id": str(ident), **more}


def _bound(value: float | None, bound: dict[str, float]) -> bool:
    if value is None:
        return False
    return all((value >= v) if b == "min" else (value <= v) for b, v in bound.items())


def _disparity(fairness: dict[str, Any], metric: str) -> tuple[float | None, str | None]:
    """``name[feature]``: that feature's (or ``a x b`` intersection's) disparity; ``name``: the worst of all."""
    if metric.endswith("]") and "[" in metric:
        name, feature = metric[:-1].split("[", 1)
        found = (fairness.get("by_feature", {}).get(feature) or {}).get("disparities", {}).get(name)
        return found, feature
    worst = fairness.get("worst", {}).get(metric) or {}
    return worst.get("value"), worst.get("feature")


def _show_bound(bound: dict[str, float]) -> str:
    return " and ".join(f"{'>=' if b == 'min' else '<='} {v:g}" for b, v in bound.items())


class ComplianceService:
    """Compliance checks and reports of one workspace (``ws.compliance``)."""

    def __init__(
        self,
        ctx: Context,
        *,
        models: ModelRegistry,
        evaluation: EvaluationService,
        cards: CardService,
        data: DataService,
        quality: QualityService,
    ) -> None:
        self.ctx = ctx
        self.models = models
        self.evaluation = evaluation
        self.cards = cards
        self.data = data
        self.quality = quality

    # -- impact level (Canada DADM) --------------------------------------------------------------
    def set_impact_level(self, spec: str, level: str, *, reason: str = "") -> dict[str, Any]:
        """Record the version's DADM impact level (``"I"`` ... ``"IV"``) as an audit event."""
        level = str(level).strip().upper()
        if level not in DADM_LEVELS:
            raise InvalidInput(f"unknown impact level {level!r}", value=level, hint="one of I, II, III, IV", field="level")
        ref = self.models.resolve(spec)
        with self.ctx.transaction() as conn:
            event = self.ctx.record(conn, "compliance.impact_level", "model_version", ref, {"level": level, "reason": reason})
        return {"model_version": ref, "level": level, "audit_seq": event.seq}

    def impact_level(self, spec: str) -> tuple[str, int] | None:
        """``(level, audit seq)`` last recorded for a version, or ``None``."""
        from ..audit.queries import events

        found = events(
            self.ctx, action="compliance.impact_level", object_type="model_version", object_id=self.models.resolve(spec), limit=1
        )
        return (str(found[0].payload.get("level")), found[0].seq) if found else None

    def attestation(self, spec: str) -> dict[str, Any]:
        """The in-toto Statement of a version (:func:`jupyter_mlops.governance.intoto.statement`)."""
        from .intoto import statement

        return statement(self.ctx, self.models, self.data, spec)

    # -- checking ----------------------------------------------------------------------------
    def check(self, spec: str, policy: Policy | str | Path) -> ComplianceReport:
        """Judge every rule of ``policy`` on version ``spec``, store the report and audit it."""
        pol = policy if isinstance(policy, Policy) else load_policy(policy)
        mv = self.models.get(spec)
        ref = mv.ref
        rules: list[RuleResult] = []
        rules += self._metrics(ref, pol)
        rules += self._card(ref, pol)
        rules += self._data(mv.data_versions, pol)
        rules += self._approvals(ref, mv.author, pol)
        rules += self._oversight_retention_impact(ref, pol)
        passed = all(r.passed for r in rules)
        report_id = uuid.uuid4().hex
        failed = [r.rule for r in rules if not r.passed]
        with self.ctx.transaction() as conn:
            event = self.ctx.record(
                conn,
                "compliance.check",
                "model_version",
                ref,
                {"report_id": report_id, "policy": pol.name, "policy_sha256": pol.sha256, "passed": passed, "failed": failed},
            )
            report = ComplianceReport(
                report_id, ref, pol.name, pol.sha256, passed, tuple(rules), self.ctx.actor, event.ts, event.seq
            )
            conn.execute(
                sa.insert(compliance_reports).values(
                    report_id=report_id,
                    model_name=mv.name,
                    model_version=mv.version,
                    policy=pol.name,
                    policy_sha256=pol.sha256,
                    passed=passed,
                    report=json.dumps(report.to_dict(), sort_keys=True),
                    actor=self.ctx.actor,
                    ts=event.ts,
                    audit_seq=event.seq,
                )
            )
            self.ctx.link(conn, ("model_version", ref), "checked", ("compliance_report", report_id))
        return report

    def latest_for(self, spec: str, *, policy_sha256: str | None = None) -> ComplianceReport | None:
        """The newest stored report of a version (against one policy's content, if given), or ``None``."""
        mv = self.models.get(spec)
        t = compliance_reports
        q = sa.select(t.c.report).where((t.c.model_name == mv.name) & (t.c.model_version == mv.version))
        if policy_sha256 is not None:
            q = q.where(t.c.policy_sha256 == policy_sha256)
        with self.ctx.read() as conn:
            row = conn.execute(q.order_by(t.c.ts.desc()).limit(1)).first()
        return None if row is None else ComplianceReport.from_dict(json.loads(row.report))

    def get(self, report_id: str) -> ComplianceReport:
        """A stored report by id."""
        with self.ctx.read() as conn:
            row = conn.execute(sa.select(compliance_reports.c.report).where(compliance_reports.c.report_id == report_id)).first()
        if row is None:
            raise NotFound(f"no compliance report {report_id!r}", value=report_id)
        return ComplianceReport.from_dict(json.loads(row.report))

    # -- rule families -----------------------------------------------------------------------
    def _metrics(self, ref: str, pol: Policy) -> list[RuleResult]:
        wanted = [("metrics", m, b) for m, b in pol.rules.get("metrics", {}).items()]
        wanted += [("fairness", m, b) for m, b in pol.rules.get("fairness", {}).items()]
        if not wanted:
            return []
        report = self.evaluation.latest_for(ref)
        out = []
        for family, metric, bound in wanted:
            value: float | None = None
            feature: str | None = None
            evidence: tuple[dict[str, Any], ...] = ()
            if report is not None:
                if family == "metrics":
                    value = (report.metrics.get(metric) or {}).get("value")
                else:
                    value, feature = _disparity(report.fairness or {}, metric)
                where = {"feature": feature} if family == "fairness" else {}
                data_version = report.data.get("X", {}).get("data_version")
                evidence = (_ev("evaluation", report.eval_id, run=report.run_id, data=data_version, **where),)
            actual = "no evaluation of this version" if report is None else ("not computed" if value is None else f"{value:.4g}")
            out.append(
                RuleResult(f"{family}.{metric}", _bound(value, bound), _show_bound(bound), actual, evidence, REFERENCES[family])
            )
        return out

    def _card(self, ref: str, pol: Policy) -> list[RuleResult]:
        required = pol.rules.get("card", {}).get("required", [])
        if not required:
            return []
        card = self.cards.latest_for(ref)
        out = []
        for key in required:
            written = card is not None and key in card.written()
            section = None if card is None else next((s for s in card.sections if s.key == key), None)
            refs = REFERENCES["card"] + tuple(f"EU AI Act Annex IV({p})" for p in (section.annex_iv if section else ()))
            evidence = () if card is None else (_ev("card_section", f"{ref}#{key}", card_version=card.card_version),)
            actual = "no model card" if card is None else ("written" if written else "not written")
            out.append(RuleResult(f"card.{key}", written, "written by a person", actual, evidence, tuple(dict.fromkeys(refs))))
        return out

    def _data(self, data_versions: tuple[str, ...], pol: Policy) -> list[RuleResult]:
        rules = pol.rules.get("data", {})
        out = []
        if "quality" in rules:
            evidence, ok, found = [], bool(data_versions), []
            for dv in data_versions:
                reports = self.quality.reports_for(dv, limit=1)
                passed = bool(reports) and reports[0].passed
                ok = ok and passed
                found.append(f"{dv}: {'passed' if passed else ('failed' if reports else 'not checked')}")
                if reports:
                    evidence.append(_ev("quality_report", reports[0].id, data_version=dv))
            actual = "; ".join(found) or "no training data version recorded"
            out.append(
                RuleResult(
                    "data.quality",
                    ok,
                    "every training data version passed its quality checks",
                    actual,
                    tuple(evidence),
                    REFERENCES["data"],
                )
            )
        if rules.get("sensitive_declared"):
            versions = [self.data.get(dv) for dv in data_versions]
            ok = bool(versions) and all(v.sensitive for v in versions)
            actual = "; ".join(f"{v.spec}: {', '.join(v.sensitive) or 'none declared'}" for v in versions) or "no training data"
            ev = tuple(_ev("data_version", v.spec, fingerprint=v.fingerprint) for v in versions)
            out.append(RuleResult("data.sensitive_declared", ok, "sensitive columns declared", actual, ev, REFERENCES["data"]))
        return out

    def _approvals(self, ref: str, author: str, pol: Policy) -> list[RuleResult]:
        if "approvals" not in pol.rules:
            return []
        need = int(pol.rules["approvals"].get("min", 1))
        approvals = [r for r in self.models.reviews(ref) if r.action == "approve" and r.actor != author]
        approvers = sorted({r.actor for r in approvals})
        ev = tuple(_ev("audit_event", r.audit_seq, actor=r.actor) for r in approvals)
        actual = f"{len(approvers)} ({', '.join(approvers) or 'none'})"
        return [
            RuleResult(
                "approvals.min",
                len(approvers) >= need,
                f">= {need} distinct reviewers, not the author",
                actual,
                ev,
                REFERENCES["approvals"],
            )
        ]

    def _oversight_retention_impact(self, ref: str, pol: Policy) -> list[RuleResult]:
        out = []
        if pol.rules.get("oversight", {}).get("stop_procedure_documented"):
            card = self.cards.latest_for(ref)
            written = card is not None and "risk_management" in card.written()
            ev = () if card is None else (_ev("card_section", f"{ref}#risk_management", card_version=card.card_version),)
            out.append(
                RuleResult(
                    "oversight.stop_procedure_documented",
                    written,
                    "the stop procedure (`jupyter-mlops serve stop`) documented in the card's Risk Management section",
                    "written" if written else "not written",
                    ev,
                    REFERENCES["oversight"],
                )
            )
        if "retention" in pol.rules:
            need = int(pol.rules["retention"].get("audit_log_days", 0))
            audit = self.ctx.settings.extra.get("audit", {})
            kept = audit.get("retention_days") if isinstance(audit, dict) else None
            ok = kept is None or int(kept) >= need
            actual = "never pruned (append-only chain)" if kept is None else f"{kept} days"
            out.append(
                RuleResult(
                    "retention.audit_log_days", ok, f">= {need} days", actual, (_ev("audit_event", 1),), REFERENCES["retention"]
                )
            )
        if pol.rules.get("impact_level", {}).get("recorded"):
            found = self.impact_level(ref)
            ev = () if found is None else (_ev("audit_event", found[1]),)
            actual = "not recorded" if found is None else f"level {found[0]}"
            out.append(
                RuleResult(
                    "impact_level.recorded",
                    found is not None,
                    "a DADM impact level (I-IV)",
                    actual,
                    ev,
                    REFERENCES["impact_level"],
                )
            )
        return out
