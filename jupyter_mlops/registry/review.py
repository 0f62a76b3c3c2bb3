"""Four-eyes review and alias promotion: the rules, checked before anything is written.

- A version can be submitted only with a completed evaluation and a model card (asked of the
  registry's ``evaluation_of(ref)`` and ``card_of(ref)``, which the workspace wires to
  ``ws.evaluation.latest_for`` and ``ws.cards.latest_for``; ``None`` when absent).
- An approval or rejection needs a pending review, an actor who is not the version's author and
  who holds the reviewer role (``ctx.authorize("model.approve", ...)``); approving twice is refused.
- Aliases are case-insensitive: every alias is stored, compared and set in MLflow in lower case,
  so ``CHAMPION`` cannot dodge the rule for ``champion``. Every serving alias
  (``[review] serving_aliases``: ``champion``, ``production``, ``prod``, ``live`` by default)
  moves only to an approved version; other aliases move freely. Every move is an alias-history
  row. :func:`check_aliases` reports mixed-case aliases made before (in MLflow or the history).

Each operation validates first, then writes its rows and audit event (with the state before and
after) in one transaction, re-checking the state inside it; an MLflow alias is set last, inside
that transaction, so an MLflow failure rolls the metadata back. A refused operation leaves the
registry, the reviews and the audit chain unchanged (a missing role is itself audited as
``access.denied`` by the workspace).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import Conflict, InvalidInput, MlopsError, ReviewRuleViolation
from . import queries
from .entities import AliasCheck, AliasMove, Review
from .queries import validate_alias
from .schema import model_alias_history, model_reviews, model_versions

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..core.context import Context

__all__ = ["check_aliases", "decide", "promote", "request_review", "validate_alias"]

_MAX_TEXT = 10_000
_ACTIONS = {"request": "model.review_request", "approve": "model.approve", "reject": "model.reject"}
_TEXT_KEY = {"request": "note", "approve": "comment", "reject": "comment"}
_MISSING_EVAL = "completed evaluation (run mlops.evaluate(...) on it)"
_MISSING_CARD = "model card (run mlops.build_card(...) for it)"


def _text(value: object, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value or len(value) > _MAX_TEXT:
        raise InvalidInput(f"{field} must be text of at most {_MAX_TEXT} characters", value=repr(value)[:80], field=field)
    return value.strip()


def _recorded(lookup: Callable[[str], Any] | None, ref: str) -> Any:
    """What ``lookup(ref)`` found, or ``None`` when nothing (complete) was recorded or there is no lookup."""
    if lookup is None:
        return None
    found = lookup(ref)
    status = getattr(found, "status", None)
    if found is not None and isinstance(status, str) and status.lower() in ("running", "failed", "error", "incomplete"):
        return None
    return found


def _status_in_txn(conn: Connection, name: str, version: int) -> str:
    return str(
        conn.execute(
            sa.select(model_versions.c.status).where(model_versions.c.name == name, model_versions.c.version == version)
        ).scalar()
    )


def _write_review(ctx: Context, row: Any, action: str, before: str, after: str, text: str, extra: dict[str, Any]) -> Review:
    ref = f"{row.name}@{row.version}"
    with ctx.transaction() as conn:
        now = _status_in_txn(conn, row.name, row.version)
        if now != before:
            raise Conflict(f"{ref} changed state while you acted: it is now {now}", value=ref, hint="look at it again and retry")
        event = ctx.record(
            conn,
            _ACTIONS[action],
            "model_version",
            ref,
            {"before": {"status": before}, "after": {"status": after}, _TEXT_KEY[action]: text, "author": row.author, **extra},
        )
        inserted = conn.execute(
            sa.insert(model_reviews).values(
                name=row.name,
                version=row.version,
                action=action,
                actor=ctx.actor,
                ts=event.ts,
                text=text,
                status_before=before,
                status_after=after,
                audit_seq=event.seq,
            )
        ).inserted_primary_key
        review_id = inserted[0] if inserted else None
        conn.execute(
            sa.update(model_versions)
            .where(model_versions.c.name == row.name, model_versions.c.version == row.version)
            .values(status=after)
        )
        ctx.link(conn, ("model_version", ref), f"review_{action}", ("review", str(review_id)))
    return Review(row.name, row.version, action, ctx.actor, event.ts, text, before, after, event.seq)


def _last_decider(conn: Connection, name: str, version: int, action: str) -> str | None:
    r = model_reviews
    q = (
        sa.select(r.c.actor)
        .where(r.c.name == name, r.c.version == version, r.c.action == action)
        .order_by(r.c.id.desc())
        .limit(1)
    )
    value = conn.execute(q).scalar()
    return None if value is None else str(value)


def request_review(
    ctx: Context,
    spec: str,
    note: str,
    *,
    evaluation_of: Callable[[str], Any] | None,
    card_of: Callable[[str], Any] | None,
) -> Review:
    """Submit ``spec`` for review (see the module docstring for the rules)."""
    text = _text(note, "note")
    with ctx.read() as conn:
        row = queries.row(conn, spec)
    ref = f"{row.name}@{row.version}"
    if row.status == "pending":
        raise Conflict(f"{ref} is already waiting for review", value=ref, hint="a reviewer can approve or reject it")
    if row.status == "approved":
        raise Conflict(f"{ref} is already approved", value=ref, hint=f"promote it with `jupyter-mlops model promote {ref}`")
    evaluation = _recorded(evaluation_of, ref)
    card = _recorded(card_of, ref)
    missing = [what for what, found in ((_MISSING_EVAL, evaluation), (_MISSING_CARD, card)) if found is None]
    if missing:
        raise ReviewRuleViolation(
            f"{ref} cannot be submitted for review: it has no {' and no '.join(missing)}",
            value=ref,
            hint="reviewers decide on recorded evidence; create what is missing, then request the review again",
            missing=missing,
        )
    extra = {"evaluation": _ident(evaluation), "card": _ident(card)}
    return _write_review(ctx, row, "request", row.status, "pending", text, extra)


def _ident(found: Any) -> dict[str, Any]:
    """What identifies the evaluation or card the request relied on (for the audit event)."""
    out: dict[str, Any] = {}
    for attr in ("eval_id", "card_version", "sha256", "passed"):
        value = getattr(found, attr, None)
        if isinstance(value, (str, int, bool)):
            out[attr] = value
    checks = getattr(found, "thresholds", None)
    if isinstance(checks, (list, tuple)) and checks:  # what the reviewer is asked to accept, line by line
        out["thresholds"] = [
            {k: t.get(k) for k in ("name", "op", "limit", "value", "passed")} for t in checks if isinstance(t, dict)
        ]
    return out or {"type": type(found).__name__}


def decide(ctx: Context, spec: str, comment: str, *, approve: bool) -> Review:
    """Approve or reject a pending review (four eyes, reviewer role, no double approval)."""
    text = _text(comment, "comment")
    verb = "approve" if approve else "reject"
    with ctx.read() as conn:
        row = queries.row(conn, spec)
        approver = _last_decider(conn, row.name, row.version, "approve")
        rejecter = _last_decider(conn, row.name, row.version, "reject")
    ref = f"{row.name}@{row.version}"
    if ctx.actor == row.author:
        raise ReviewRuleViolation(
            f"{ctx.actor} logged {ref} and cannot {verb} it: four eyes means a reviewer other than the author decides",
            value=ctx.actor,
            hint="ask another member of [review] reviewers in .mlops/config.toml",
            field="actor",
        )
    if row.status == "approved":
        raise ReviewRuleViolation(
            f"{ref} is already approved (by {approver})",
            value=ref,
            hint="an approval is given once; log a new version for a new review",
        )
    if row.status == "rejected":
        raise ReviewRuleViolation(
            f"{ref} was rejected (by {rejecter}); there is no pending review to {verb}",
            value=ref,
            hint=f"the author can request a new review with `jupyter-mlops model request-review {ref}`",
        )
    if row.status != "pending":
        raise ReviewRuleViolation(
            f"{ref} has no pending review to {verb}",
            value=ref,
            hint=f"its author requests one first with `jupyter-mlops model request-review {ref}`",
        )
    ctx.authorize("model.approve", ref)
    if not approve:
        return _write_review(ctx, row, verb, "pending", "rejected", text, {})
    need = approvals_required(ctx)
    earlier = _approvers_this_round(ctx, ref)
    if ctx.actor in earlier:
        raise ReviewRuleViolation(
            f"{ctx.actor} already approved {ref} in this review; it needs {need} distinct approvers",
            value=ctx.actor,
            hint=f"another reviewer (not {', '.join(sorted(earlier))}, not the author) approves next",
            field="actor",
        )
    after = "approved" if len(earlier) + 1 >= need else "pending"
    return _write_review(ctx, row, verb, "pending", after, text, {"approvals": len(earlier) + 1, "approvals_required": need})


def approvals_required(ctx: Context) -> int:
    """``[review] approvals_required`` (default 1): distinct reviewers, none of them the author."""
    review = ctx.settings.extra.get("review", {})
    value = review.get("approvals_required", 1) if isinstance(review, dict) else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(
            f"[review] approvals_required must be a whole number of at least 1, got {value!r}",
            value=repr(value),
            hint="e.g. approvals_required = 2 in .mlops/config.toml",
            field="approvals_required",
        )
    return value


def _approvers_this_round(ctx: Context, ref: str) -> set[str]:
    """Who approved since the latest review request."""
    approvers: set[str] = set()
    for review in queries.reviews(ctx, ref):
        if review.action == "request":
            approvers = set()
        elif review.action == "approve":
            approvers.add(review.actor)
    return approvers


def promote(ctx: Context, spec: str, alias: str | None, *, gate: Callable[[str, str], object] | None = None) -> AliasMove:
    """Move ``alias`` to ``spec``; the serving alias only to an approved version."""
    from ..tracking import models as mlf

    alias = validate_alias(alias if alias is not None else ctx.settings.serving_alias)
    guarded = alias in {a.lower() for a in ctx.settings.serving_aliases} or alias == ctx.settings.serving_alias.lower()
    with ctx.read() as conn:
        row = queries.row(conn, spec)
        current = queries.aliases(conn, row.name).get(alias)
        approved_by = _last_decider(conn, row.name, row.version, "approve") if row.status == "approved" else None
        rejecter = _last_decider(conn, row.name, row.version, "reject")
    ref = f"{row.name}@{row.version}"
    if guarded and row.status != "approved":
        needs = "an approval by a reviewer other than its author"
        reason = {
            "none": "it was never reviewed: it needs a review request (with a completed evaluation and a model card) "
            f"and {needs}",
            "pending": f"its review is still pending: it needs {needs}",
            "rejected": f"it was rejected by {rejecter}: it needs a new review request and {needs}",
        }.get(row.status, f"its review status is {row.status}")
        raise ReviewRuleViolation(
            f"{ref} cannot take the serving alias {alias!r}: {reason}",
            value=ref,
            hint=f"`jupyter-mlops model request-review {ref}`, then a reviewer runs `jupyter-mlops model approve {ref}`",
            missing=["approval"],
        )
    if current == row.version:
        raise Conflict(f"{row.name}@{alias} already points at version {row.version}", value=ref)
    if guarded and gate is not None:
        gate(ref, "promote")
    ctx.authorize("model.promote", ref, owner=row.author)
    mlflow_set = False
    try:
        with ctx.transaction() as conn:
            if queries.aliases(conn, row.name).get(alias) != current or (
                guarded and _status_in_txn(conn, row.name, row.version) != "approved"
            ):
                raise Conflict(f"{row.name}@{alias} or {ref} changed while you acted", value=ref, hint="look again and retry")
            event = ctx.record(
                conn,
                "model.promote",
                "model_version",
                ref,
                {
                    "alias": alias,
                    "serving": guarded,
                    "before": {"version": current},
                    "after": {"version": row.version},
                    "status": row.status,
                    "approved_by": approved_by,
                },
            )
            conn.execute(
                sa.insert(model_alias_history).values(
                    name=row.name,
                    alias=alias,
                    from_version=current,
                    to_version=row.version,
                    actor=ctx.actor,
                    ts=event.ts,
                    approved_by=approved_by,
                    audit_seq=event.seq,
                )
            )
            mlf.set_alias(ctx.tracking, row.name, alias, row.version)
            mlflow_set = True
    except BaseException:
        if mlflow_set:  # the metadata did not commit: put MLflow's alias back
            try:
                if current is None:
                    mlf.delete_alias(ctx.tracking, row.name, alias)
                else:
                    mlf.set_alias(ctx.tracking, row.name, alias, current)
            except MlopsError:
                pass
        raise
    return AliasMove(row.name, alias, current, row.version, ctx.actor, event.ts, approved_by, event.seq)


def check_aliases(ctx: Context) -> AliasCheck:
    """Every alias not in lower case, in MLflow or in the alias history (made before aliases were normalised).

    Such an alias could be read as a different alias than its lower-case form: ``CHAMPION`` next to
    ``champion``, pointing at a version that was never approved.
    """
    from ..tracking import models as mlf

    findings: list[dict[str, Any]] = []
    serving = {a.lower() for a in ctx.settings.serving_aliases}
    with ctx.read() as conn:
        names = [r[0] for r in conn.execute(sa.select(model_versions.c.name).distinct().order_by(model_versions.c.name))]
        for name in names:
            for alias, version in sorted(queries.aliases(conn, name).items()):
                if alias != alias.lower():
                    findings.append({"model": name, "alias": alias, "version": version, "where": "alias history"})
    for name, alias, version in mlf.list_aliases(ctx.tracking):
        if alias != alias.lower():
            findings.append({"model": name, "alias": alias, "version": version, "where": "MLflow"})
    for f in findings:
        f["serving"] = f["alias"].lower() in serving
        f["fix"] = (
            f"point {f['model']}@{f['alias'].lower()} at an approved version with `jupyter-mlops model promote "
            f"{f['model']}@VERSION --alias {f['alias'].lower()}`, then delete {f['alias']!r} "
            f"(MlflowClient().delete_registered_model_alias({f['model']!r}, {f['alias']!r}))"
        )
    return AliasCheck(tuple(findings))
