"""A model version's lineage told as a story: the short left-to-right line a reviewer reads.

``notebook cell -> data versions -> training run -> model version -> evaluation -> card -> reviews
-> aliases -> deployments``. Each step is labelled by name and version (``arrests@2``,
``train-final in arrests``), never by a bare hex id; ids, hashes and object ids sit in the
step's ``details``. Notebook paths are shown relative to the project. The story reads the metadata
database only (each capability through its own queries), so it paints before MLflow is imported.
The full graph stays available from :func:`jupyter_mlops.lineage.queries.graph`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.entities import Entity, escape
from ..errors import MlopsError
from .graph import edges_of

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["STEP_KINDS", "LineageStory", "StoryStep", "build_story", "project_path"]

#: The kinds of step, in the order the story tells them.
STEP_KINDS = ("cell", "data", "run", "model", "evaluation", "card", "review", "alias", "deployment")
_TONE = {"passed": "good", "approved": "good", "FINISHED": "good", "failed": "bad", "rejected": "bad", "FAILED": "bad"}


@dataclasses.dataclass(frozen=True)
class StoryStep(Entity):
    """One step of a lineage story.

    Attributes
    ----------
    kind:
        One of :data:`STEP_KINDS`.
    label:
        What the step is, by name and version (``"arrests@2"``, ``"train-final (arrests)"``).
    detail:
        One short line of what matters about it (``"1500 rows · quality passed"``).
    node:
        The lineage node (``"data_version:arrests@2"``) to open the full graph at.
    status:
        ``passed``/``failed``, ``approved``/``rejected``, a run status, or ``""``; ``unknown`` when
        nothing was recorded for this step.
    actor, ts:
        Who made it and when (ISO 8601, UTC), when recorded.
    details:
        Ids, hashes and paths behind the step (shown on request).
    """

    kind: str
    label: str
    detail: str = ""
    node: str = ""
    status: str = ""
    actor: str = ""
    ts: str = ""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class LineageStory(Entity):
    """The story of one model version: its steps in order and a one-sentence answer.

    ``summary`` answers "what data trained this model, and who approved it?".
    """

    model: str
    steps: tuple[StoryStep, ...]
    summary: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LineageStory:
        """Rebuild from :meth:`to_dict` output."""
        steps = tuple(s if isinstance(s, StoryStep) else StoryStep.from_dict(s) for s in data.get("steps") or ())
        return cls(str(data["model"]), steps, str(data.get("summary", "")))

    def of_kind(self, kind: str) -> tuple[StoryStep, ...]:
        """The steps of one kind (``"data"``, ``"review"`` ...)."""
        return tuple(s for s in self.steps if s.kind == kind)

    def __str__(self) -> str:
        return " \u2192 ".join(s.label for s in self.steps)

    def _repr_html_(self) -> str:
        boxes = []
        for s in self.steps:
            tone = _TONE.get(s.status, "unknown" if s.status == "unknown" else "")
            boxes.append(
                f"<div class='mlops-step mlops-step-{escape(s.kind)} {('tone-' + tone) if tone else ''}' "
                f"title='{escape(s.node)}'><div class='mlops-step-kind'>{escape(s.kind)}</div>"
                f"<div class='mlops-step-label'>{escape(s.label)}</div>"
                f"<div class='mlops-step-detail'>{escape(s.detail)}</div></div>"
            )
        line = "<span class='mlops-step-arrow'>\u2192</span>".join(boxes)
        return (
            f"<div class='mlops-story'><div class='mlops-story-summary'>{escape(self.summary)}</div>"
            f"<div class='mlops-story-line'>{line}</div></div>"
        )


def project_path(root: Path, path: str | None) -> str:
    """``path`` relative to the project ``root`` when it lies inside it, else its file name."""
    if not path:
        return ""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return Path(os.path.relpath(p, root)).as_posix() if p.resolve().is_relative_to(root.resolve()) else p.name
    except (OSError, ValueError):
        return p.name


def _cell_step(ctx: Context, run: Any) -> StoryStep:
    if run is None or not (run.notebook or run.cell_id):
        return StoryStep("cell", "unknown cell", "no notebook cell was recorded for the training run", status="unknown")
    notebook = project_path(ctx.settings.root, run.notebook) or "unknown notebook"
    cell = f"cell {run.cell_id[:8]}" if run.cell_id else "a cell"
    return StoryStep(
        "cell",
        f"{notebook} \u00b7 {cell}",
        "source hash recorded" if run.source_sha256 else "",
        node=f"notebook:{run.notebook}" if run.notebook else "",
        actor=run.actor,
        ts=run.started,
        details={"notebook": notebook, "cell_id": run.cell_id, "source_sha256": run.source_sha256},
    )


def _data_steps(ctx: Context, specs: list[str]) -> list[StoryStep]:
    from ..data import queries as data_queries
    from ..quality import queries as quality_queries

    steps = []
    for spec in specs:
        try:
            dv = data_queries.show(ctx, spec)
        except MlopsError:
            steps.append(StoryStep("data", spec, "not in the data catalog", node=f"data_version:{spec}", status="unknown"))
            continue
        reports = quality_queries.reports_for(ctx, dv.spec, limit=1)
        if reports:
            q = reports[0]
            quality = "quality passed" if q.passed else f"quality failed ({q.n_failed_checks} of {q.n_checks} checks)"
            status = "passed" if q.passed else "failed"
        else:
            quality, status = "no quality check", "unknown"
        shape = f"{dv.n_rows:,} rows \u00d7 {dv.n_cols} columns" if dv.kind in ("frame", "series") else dv.kind
        steps.append(
            StoryStep(
                "data",
                dv.spec,
                f"{shape} \u00b7 {quality}",
                node=f"data_version:{dv.spec}",
                status=status,
                actor=dv.creator,
                ts=str(dv.created),
                details={
                    "fingerprint": dv.fingerprint,
                    "object_id": dv.object_id,
                    "quality_report": reports[0].id if reports else None,
                    "sensitive": list(dv.sensitive),
                },
            )
        )
    return steps


def _trained_on(ctx: Context, ref: str, run_id: str, recorded: tuple[str, ...]) -> list[str]:
    with ctx.read() as conn:
        into_model = [e.src_id for e in edges_of(conn, ("model_version", ref), direction="in") if e.src_type == "data_version"]
        into_run = [
            e.src_id
            for e in edges_of(conn, ("run", run_id), direction="in")
            if e.src_type == "data_version" and e.relation == "input_of"
        ]
    return list(dict.fromkeys([*recorded, *into_model, *into_run]))


def _deployments(ctx: Context, ref: str) -> list[StoryStep]:
    with ctx.read() as conn:
        edges = [e for e in edges_of(conn, ("model_version", ref), direction="out") if e.relation == "deployed_to"]
    latest: dict[str, Any] = {}
    for e in edges:
        latest[e.dst_id] = e
    return [
        StoryStep(
            "deployment",
            name,
            f"role: {e.payload.get('role', '?')}",
            node=f"{e.dst_type}:{name}",
            actor=e.actor,
            ts=e.ts,
            details={"revision": e.payload.get("revision")},
        )
        for name, e in latest.items()
    ]


def build_story(ctx: Context, spec: str) -> LineageStory:
    """The lineage story of model version ``spec`` (``name@3``, ``name@champion``, ``name@latest``).

    Raises
    ------
    NotFound
        An unknown model, version or alias.
    """
    from ..cards import queries as card_queries
    from ..evaluation import queries as eval_queries
    from ..registry import queries as registry_queries
    from ..tracking import queries as run_queries

    mv = registry_queries.get(ctx, spec)
    ref = mv.ref
    run = run_queries.get_run_record(ctx, mv.run_id)
    steps = [_cell_step(ctx, run)]
    data = _data_steps(ctx, _trained_on(ctx, ref, mv.run_id, mv.data_versions))
    steps += data or [StoryStep("data", "unknown data", "no data version was recorded as read", status="unknown")]
    if run is not None:
        run_label = f"{run.name or 'run'} ({run.experiment})" if run.experiment else run.name or "run"
        steps.append(
            StoryStep(
                "run",
                run_label,
                f"{run.status.lower()} \u00b7 by {run.actor}",
                node=f"run:{run.run_id}",
                status=run.status,
                actor=run.actor,
                ts=run.started,
                details={"run_id": run.run_id, "ended": run.ended},
            )
        )
    else:
        steps.append(StoryStep("run", "unknown run", "the training run is not recorded here", status="unknown"))
    steps.append(
        StoryStep(
            "model",
            ref,
            f"{mv.model_type.rsplit('.', 1)[-1]} \u00b7 review {mv.status}",
            node=f"model_version:{ref}",
            status=mv.status if mv.status in ("approved", "rejected") else "",
            actor=mv.author,
            ts=mv.created,
            details={"manifest_sha256": mv.manifest_sha256, "model_sha256": mv.model_sha256, "run_id": mv.run_id},
        )
    )
    report = eval_queries.latest(ctx, ref)
    if report is None:
        steps.append(StoryStep("evaluation", "not evaluated", "no evaluation recorded", status="unknown"))
    else:
        verdict = {True: "passed", False: "failed"}.get(report.passed, "")  # type: ignore[arg-type]
        headline = next(iter(report.metrics), None)
        value = report.metric(headline) if headline else None
        shown = f"{headline} {value:.3g}" if headline and isinstance(value, (int, float)) else ""
        steps.append(
            StoryStep(
                "evaluation",
                f"evaluation on {report.n_rows:,} rows",
                " \u00b7 ".join(p for p in (shown, f"thresholds {verdict}" if verdict else "no thresholds") if p),
                node=f"evaluation:{report.eval_id}",
                status=verdict,
                actor=report.actor,
                ts=report.created,
                details={"eval_id": report.eval_id},
            )
        )
    card = card_queries.latest(ctx, mv.name, mv.version)
    if card is None:
        steps.append(StoryStep("card", "no model card", "not built yet", status="unknown"))
    else:
        steps.append(
            StoryStep(
                "card",
                f"card v{card.card_version}",
                f"by {card.author}",
                node=f"card:{card.card_id}",
                actor=card.author,
                ts=card.ts,
                details={"sha256": card.sha256},
            )
        )
    reviews = registry_queries.reviews(ctx, ref)
    for r in reviews:
        done = {"request": "review requested", "approve": "approved", "reject": "rejected"}.get(r.action, r.action)
        steps.append(
            StoryStep(
                "review",
                f"{done} by {r.actor}",
                r.text[:80],
                node=f"model_version:{ref}",
                status=r.status_after if r.action != "request" else "",
                actor=r.actor,
                ts=r.ts,
                details={"audit_seq": r.audit_seq},
            )
        )
    moves = {m.alias: m for m in registry_queries.alias_history(ctx, mv.name).moves if m.to_version == mv.version}
    for alias in mv.aliases:
        m = moves.get(alias)
        steps.append(
            StoryStep(
                "alias",
                f"{mv.name}@{alias}",
                f"set by {m.actor}" if m else "",
                node=f"model_version:{ref}",
                actor=m.actor if m else "",
                ts=m.ts if m else "",
                details={"approved_by": m.approved_by if m else None},
            )
        )
    steps += _deployments(ctx, ref)
    return LineageStory(ref, tuple(steps), _summary(ref, data, reviews))


def _summary(ref: str, data: list[StoryStep], reviews: tuple[Any, ...]) -> str:
    trained = ", ".join(s.label for s in data) if data else "unknown data"
    decided = [r for r in reviews if r.action in ("approve", "reject")]
    if decided:
        last = decided[-1]
        verdict = f"{'approved' if last.action == 'approve' else 'rejected'} by {last.actor} on {last.ts[:10]}"
    elif any(r.action == "request" for r in reviews):
        verdict = "waiting for review"
    else:
        verdict = "not submitted for review"
    return f"{ref} was trained on {trained}; {verdict}."
