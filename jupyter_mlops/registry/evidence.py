"""Everything a reviewer needs beside Approve, in one typed bundle.

:func:`review_evidence` gathers, for one model version: the card summary, the metrics with their
intervals and pass/fail per threshold, per-group fairness, the data versions with their quality
results, the lineage story, the review history and why the acting user may or may not decide. The
models dashboard's review page and the side panel's review page (through REST) both render it, so
a reviewer sees the same evidence wherever they approve. It reads the metadata database and the
object store only, never MLflow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..core.direction import lower_is_better
from ..core.entities import Entity
from .entities import ModelVersion, Review

if TYPE_CHECKING:
    from ..core.context import Context
    from ..lineage.story import LineageStory

__all__ = [
    "CardLine",
    "DataEvidence",
    "FairnessEvidence",
    "MetricEvidence",
    "ReviewEvidence",
    "build_evidence",
    "review_blockers",
    "review_evidence",
]


@dataclasses.dataclass(frozen=True)
class CardLine(Entity):
    """One section of the model card in a line: its title and what it says (``unknown`` if nothing)."""

    key: str
    title: str
    text: str
    known: bool


@dataclasses.dataclass(frozen=True)
class MetricEvidence(Entity):
    """One metric: value, interval, which way is better, and its threshold with pass/fail (if one was set)."""

    name: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    lower_is_better: bool
    threshold: str | None = None
    passed: bool | None = None


@dataclasses.dataclass(frozen=True)
class FairnessEvidence(Entity):
    """Per-group results for one sensitive feature (or pair): group rows and disparities.

    ``groups`` rows hold ``group`` (the label), ``n`` (count), ``small`` (too few to trust) and
    one value per group metric; ``metrics`` names those metric columns in order.
    """

    feature: str
    metrics: tuple[str, ...]
    groups: tuple[dict[str, Any], ...]
    disparities: dict[str, Any]
    warnings: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class DataEvidence(Entity):
    """A data version the model was trained on, with its latest quality result."""

    spec: str
    n_rows: int
    n_cols: int
    sensitive: tuple[str, ...]
    quality: str
    quality_checks: int | None = None
    quality_failed: int | None = None
    quality_report: str | None = None
    checked: str | None = None


@dataclasses.dataclass(frozen=True)
class ReviewEvidence(Entity):
    """The review page of one model version (see the module docstring).

    ``blockers`` says why the acting user may not decide now (empty: they may); ``may_decide`` is
    ``not blockers``. ``evaluation`` holds the evaluation's id, task, size, verdict, who and when.
    """

    version: ModelVersion
    card: tuple[CardLine, ...]
    card_version: int | None
    evaluation: dict[str, Any] | None
    metrics: tuple[MetricEvidence, ...]
    fairness: tuple[FairnessEvidence, ...]
    data: tuple[DataEvidence, ...]
    story: LineageStory
    reviews: tuple[Review, ...]
    actor: str
    blockers: tuple[str, ...]

    @property
    def ref(self) -> str:
        """``name@version``."""
        return self.version.ref

    @property
    def may_decide(self) -> bool:
        """Whether the acting user may approve or reject now."""
        return not self.blockers

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict, with ``ref`` and ``may_decide``."""
        out = super().to_dict()
        out.update(ref=self.ref, may_decide=self.may_decide)
        return out


def review_blockers(ref: str, author: str, status: str, actor: str, roles: Iterable[str]) -> tuple[str, ...]:
    """Why ``actor`` (holding ``roles``) may not approve or reject ``ref`` now; empty when they may.

    The same rules the registry enforces when deciding (pending review, four eyes, reviewer role),
    said before the click. ``author`` and ``status`` are the version's.
    """
    reasons = []
    if status != "pending":
        reasons.append(
            f"{ref} is not waiting for review (status: {status})"
            + ("; its author submits it with mlops.request_review" if status == "none" else "")
        )
    if actor == author:
        reasons.append(f"you ({actor}) are the author of {ref}: the four-eyes rule needs a different reviewer")
    if "reviewer" not in set(roles):
        reasons.append(f"you ({actor}) are not in the reviewers list ([review] reviewers in .mlops/config.toml)")
    return tuple(reasons)


def _card_lines(card: Any) -> tuple[CardLine, ...]:
    lines = []
    for s in card.sections:
        if s.text and s.text != "unknown":
            text = s.text
        elif s.facts:
            text = "; ".join(f"{k}: {v}" for k, v in s.facts[:3] if v not in (None, "", "unknown"))
        else:
            text = ""
        lines.append(CardLine(s.key, s.title, (text or "unknown")[:300], bool(s.known)))
    return tuple(lines)


def _metrics(report: Any) -> tuple[MetricEvidence, ...]:
    limits = {str(t.get("name")): t for t in report.thresholds}
    out = []
    for name, m in report.metrics.items():
        t = limits.get(name)
        out.append(
            MetricEvidence(
                name,
                m.get("value"),
                m.get("ci_low"),
                m.get("ci_high"),
                lower_is_better(name),
                f"{t.get('op')} {t.get('limit')}" if t else None,
                t.get("passed") if t else None,
            )
        )
    for name, t in limits.items():  # thresholds on disparities are not among the metrics
        if name not in report.metrics:
            out.append(
                MetricEvidence(
                    name, t.get("value"), None, None, lower_is_better(name), f"{t.get('op')} {t.get('limit')}", t.get("passed")
                )
            )
    return tuple(out)


def _fairness(report: Any) -> tuple[FairnessEvidence, ...]:
    out = []
    for feature, res in ((report.fairness or {}).get("by_feature") or {}).items():
        groups = res.get("groups") or []
        metrics = tuple(c for c in (groups[0].keys() if groups else ()) if c not in ("group", "label", "small", "count"))
        prefix = f"{feature}="
        rows = tuple(
            {
                "group": str(g.get("label", g.get("group"))).removeprefix(prefix),
                "n": g.get("count"),
                "small": bool(g.get("small")),
                **{c: g.get(c) for c in metrics},
            }
            for g in groups
        )
        out.append(
            FairnessEvidence(
                str(feature), metrics, rows, dict(res.get("disparities") or {}), tuple(str(w) for w in res.get("warnings") or ())
            )
        )
    return tuple(out)


def _data(ctx: Context, story: LineageStory) -> tuple[DataEvidence, ...]:
    from ..data import queries as data_queries
    from ..errors import MlopsError
    from ..quality import queries as quality_queries

    out = []
    for step in story.of_kind("data"):
        if step.status == "unknown" and not step.details:
            continue
        try:
            dv = data_queries.show(ctx, step.label)
        except MlopsError:
            continue
        reports = quality_queries.reports_for(ctx, dv.spec, limit=1)
        q = reports[0] if reports else None
        out.append(
            DataEvidence(
                dv.spec,
                dv.n_rows,
                dv.n_cols,
                tuple(dv.sensitive),
                "not checked" if q is None else ("passed" if q.passed else "failed"),
                None if q is None else q.n_checks,
                None if q is None else q.n_failed_checks,
                None if q is None else q.id,
                None if q is None else q.ts,
            )
        )
    return tuple(out)


def build_evidence(ctx: Context, spec: str, roles: Iterable[str] = ()) -> ReviewEvidence:
    """The :class:`ReviewEvidence` of ``spec``; ``roles`` are the acting user's roles (for ``blockers``)."""
    from ..cards import queries as card_queries
    from ..evaluation import queries as eval_queries
    from ..lineage.story import build_story
    from . import queries

    version = queries.get(ctx, spec)
    story = build_story(ctx, version.ref)
    card = card_queries.latest(ctx, version.name, version.version)
    report = eval_queries.latest(ctx, version.ref)
    evaluation = None
    if report is not None:
        evaluation = {
            "eval_id": report.eval_id,
            "task": report.task,
            "n_rows": report.n_rows,
            "passed": report.passed,
            "confidence": report.confidence,
            "n_bootstrap": report.n_bootstrap,
            "actor": report.actor,
            "created": report.created,
            "warnings": list(report.warnings),
        }
    return ReviewEvidence(
        version=version,
        card=() if card is None else _card_lines(card),
        card_version=None if card is None else card.card_version,
        evaluation=evaluation,
        metrics=() if report is None else _metrics(report),
        fairness=() if report is None else _fairness(report),
        data=_data(ctx, story),
        story=story,
        reviews=queries.reviews(ctx, version.ref),
        actor=ctx.actor,
        blockers=review_blockers(version.ref, version.author, version.status, ctx.actor, roles),
    )


def review_evidence(ctx: Context, spec: str, *, roles: Iterable[str] = ()) -> ReviewEvidence:
    """Everything the review page shows of ``spec``, in one typed bundle (no MLflow import).

    The card summary, metrics with intervals and pass/fail per threshold, per-group fairness, the
    data versions with their quality results, the lineage story, the review history, and
    ``blockers``: why the acting user (holding ``roles``) may not decide now.

    Parameters
    ----------
    ctx
        The workspace context (its ``actor`` is the would-be reviewer).
    spec
        ``name@3``, ``name@latest``, ``name@champion``.
    roles
        The acting user's roles (``ws.roles_of()``); without ``"reviewer"`` a blocker says so.

    Returns
    -------
    ReviewEvidence
        See :class:`ReviewEvidence`; ``to_dict()`` is its JSON form.

    Raises
    ------
    NotFound
        An unknown model, version or alias.
    """
    return build_evidence(ctx, spec, roles)
