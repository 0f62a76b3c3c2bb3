"""``ws.evaluation``: evaluate a model with intervals, group fairness, a baseline and thresholds, and keep the evidence.

Order of work, so that bad input writes nothing: resolve the model and data references, validate
every input and threshold, compute everything (metrics, intervals, fairness, baseline, plots),
store the plots and the report in the object store and the active run's artifacts, then write
the ``evaluations`` row, the ``model.evaluate`` audit event and the lineage edges in one
transaction. Model cards and the review read the result back with :meth:`EvaluationService.get`
and :meth:`EvaluationService.latest_for`.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..core.hashing import canonical_json
from ..errors import InvalidInput
from . import sources
from .evidence import _active_run, _log_artifacts, _plots, _read_by, _run_metrics
from .fairness import MIN_GROUP_SIZE, group_fairness
from .inputs import prepare, sensitive_frame
from .metrics import LOWER_IS_BETTER, bootstrap, point_metrics
from .report import EvaluationReport
from .thresholds import check, parse_thresholds

if TYPE_CHECKING:
    from ..core.context import Context
    from ..data.service import DataService
    from ..registry.service import ModelRegistry

__all__ = ["EvaluationService"]

_MAX_BOOTSTRAP = 10_000


class EvaluationService:
    """Evaluations of one workspace (reached as ``ws.evaluation``).

    Parameters
    ----------
    ctx
        What the workspace gives a capability (:class:`~jupyter_mlops.core.context.Context`).
    data, models
        The data service (frames and data versions evaluated) and the model registry (versions
        evaluated and compared with), which evaluation builds on.
    """

    def __init__(self, ctx: Context, data: DataService, models: ModelRegistry) -> None:
        self.ctx = ctx
        self.data = data
        self.models = models

    # -- evaluate ---------------------------------------------------------------------------
    def evaluate(
        self,
        model: Any,
        X: Any,
        y: Any = None,
        *,
        target: str | None = None,
        sensitive_features: Any = None,
        baseline: Any = None,
        thresholds: dict[str, Any] | None = None,
        model_version: str | None = None,
        n_bootstrap: int = 200,
        seed: int = 0,
        plots: bool = True,
        min_group_size: int = MIN_GROUP_SIZE,
    ) -> EvaluationReport:
        """Evaluate ``model`` on ``X``/``y``, store the result and return the report.

        Parameters
        ----------
        model:
            A fitted estimator, or a registered version spec (``"name@3"``, ``"name@champion"``).
        X, y:
            Test features and labels (frames, arrays, data versions or data specs). ``X`` may
            hold the labels too, named by ``target``: ``evaluate(model, "arrests-test@1",
            target="released")``.
        target:
            The label column of ``X`` (instead of ``y``); the other columns are the features.
        sensitive_features:
            Column names of ``X`` (list or ``"colour,sex"``), a Series, a DataFrame or a dict.
            Each feature and each pair of features gets per-group metrics and disparities.
        baseline:
            A fitted estimator or a version spec to compare with; by default the version of the
            same model that holds the serving alias (``champion``); ``False`` turns it off.
        thresholds:
            ``{"accuracy": 0.7, "equalized_odds_difference": ("<=", 0.1), ...}``.
        model_version:
            The registered version ``model`` is (when ``model`` is an estimator object). Without
            it, an estimator loaded from the registry is that version, and one logged in the same
            run (same content hash) is the version logged from it; an evaluation made before the
            model is logged attaches to the version when it is.
        n_bootstrap, seed:
            Bootstrap rounds for the 95% intervals (0 turns them off) and the random seed.
        plots:
            Draw ROC, calibration and per-group plots.
        min_group_size:
            Groups with fewer rows are flagged as too small to trust.

        Raises
        ------
        InvalidInput
            Mismatched lengths, a label column of the wrong type, an unknown sensitive column or
            threshold; nothing is written.
        NotFound
            An unknown model version or alias.
        """
        ctx = self.ctx
        if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or not 0 <= n_bootstrap <= _MAX_BOOTSTRAP:
            raise InvalidInput(
                f"n_bootstrap must be an integer from 0 to {_MAX_BOOTSTRAP}", value=n_bootstrap, field="n_bootstrap"
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidInput("seed must be an integer", value=repr(seed)[:40], field="seed")
        if isinstance(model, str):
            model_obj, ref = sources.load_model(self.models, model)
        else:
            model_obj, ref = model, None
        if model_version is not None:
            declared = sources.resolve_ref(self.models, model_version)
            if ref is not None and declared != ref:
                raise InvalidInput(
                    f"model {model!r} is {ref}, but model_version says {declared}",
                    value=model_version,
                    hint="leave model_version out when model is a version spec",
                    field="model_version",
                )
            ref = declared
        X_val, x_info = sources.resolve_data(self.data, X, "X")
        if target is not None:
            if y is not None:
                raise InvalidInput(
                    "give the labels either as y or as target='column' of X, not both", field="target", hint="drop y"
                )
            X_val, y_val = sources.split_target(X_val, target)
            x_info = {**x_info, "target": target}
            y_info = {**x_info}
        elif y is None:
            raise InvalidInput(
                "evaluate needs the labels",
                hint="pass y, or target='column' when X holds the labels (e.g. a data version spec)",
                field="y",
            )
        else:
            y_val, y_info = sources.resolve_data(self.data, y, "y")
        # Frames handed in directly: the version they were loaded as (or derived from), else their fingerprint.
        x_info = x_info or self.data.origin(X_val)
        y_info = y_info or self.data.origin(y_val)
        prepared = prepare(model_obj, X_val, y_val)
        run = _active_run(ctx)
        model_sha = sources.model_sha256(model_obj)
        if ref is None:
            ref = self.models.version_of(model_obj, run.run_id if run is not None else None)
        sens = None if sensitive_features is None else sensitive_frame(sensitive_features, X_val, prepared.n)
        checks = parse_thresholds(thresholds, prepared.task, [] if sens is None else list(sens.columns))
        base_model, base_info = self._baseline(baseline, ref)

        point = point_metrics(prepared)
        intervals = bootstrap(prepared, n_bootstrap=n_bootstrap, seed=seed)
        metrics = {
            k: {"value": v, "ci_low": intervals.get(k, (None, None))[0], "ci_high": intervals.get(k, (None, None))[1]}
            for k, v in point.items()
        }
        fairness = None if sens is None else group_fairness(prepared, sens, min_group_size=min_group_size)
        warnings: list[str] = []
        if fairness is not None:
            for res in fairness["by_feature"].values():
                warnings.extend(res["warnings"])
        if base_model is not None:
            base_info.update(self._compare(base_model, X_val, y_val, prepared, point, sens, fairness, min_group_size, warnings))
        results, passed = check(checks, point, fairness)
        pngs = {} if not plots else _plots(prepared, fairness)

        eval_id = uuid.uuid4().hex
        data = {
            "X": {"rows": prepared.n, **x_info},
            "y": y_info,
            "digest": sources.data_digest(X_val, y_val),
            "read": _read_by(ctx, run),
        }
        import base64

        plot_objects = {name: ctx.objects.put_bytes(png).object_id for name, png in pngs.items()}
        report = EvaluationReport(
            eval_id=eval_id,
            task=prepared.task,
            n_rows=prepared.n,
            model_type=sources.describe_model(model_obj),
            metrics=metrics,
            model_version=ref,
            classes=tuple(str(c) for c in prepared.classes),
            positive_label=str(prepared.classes[1]) if prepared.task == "binary" else None,
            n_bootstrap=n_bootstrap,
            seed=seed,
            fairness=fairness,
            baseline=base_info,
            thresholds=tuple(results),
            passed=passed,
            warnings=tuple(dict.fromkeys(warnings)),
            data=data,
            run_id=run.run_id if run is not None else None,
            actor=ctx.actor,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            plots={name: base64.b64encode(png).decode("ascii") for name, png in pngs.items()},
            plot_objects=plot_objects,
        )
        report_json = canonical_json(report.to_dict())
        report_object = ctx.objects.put_bytes(report_json.encode("utf-8")).object_id
        if run is not None:
            _log_artifacts(ctx, run.run_id, report, report_json, pngs)
        self._store(report, report_object, x_info, y_info, model_sha)
        if run is not None:
            run.log_metrics(_run_metrics(report))
        return report

    def _baseline(self, baseline: Any, ref: str | None) -> tuple[Any, dict[str, Any]]:
        if baseline is False:
            return None, {"ref": None, "note": "no baseline: comparison turned off"}
        if isinstance(baseline, str):
            model, base_ref = sources.load_model(self.models, baseline)
            return model, {"ref": base_ref, "label": base_ref}
        if baseline is not None:
            if not hasattr(baseline, "predict"):
                raise InvalidInput(
                    f"baseline of type {type(baseline).__name__} is not a model",
                    hint="pass a fitted estimator, a version spec such as 'name@2', or False",
                    field="baseline",
                )
            return baseline, {"ref": None, "label": f"given model ({sources.describe_model(baseline)})"}
        alias = self.ctx.settings.serving_alias
        if ref is None:
            return None, {
                "ref": None,
                "note": f"no baseline: the model is not a registered version, so it has no '{alias}' to compare with",
            }
        champion = sources.serving_version(self.models, alias, ref)
        name = ref.partition("@")[0]
        if champion is None:
            return None, {"ref": None, "note": f"no baseline: no version of {name} holds the alias '{alias}'"}
        if champion == ref:
            return None, {"ref": None, "note": f"no baseline: {ref} is itself the '{alias}'"}
        model, base_ref = sources.load_model(self.models, champion)
        return model, {"ref": base_ref, "label": f"{base_ref} ({alias})"}

    def _compare(
        self,
        base_model: Any,
        X: Any,
        y: Any,
        candidate: Any,
        point: dict[str, float | None],
        sens: Any,
        fairness: dict[str, Any] | None,
        min_group_size: int,
        warnings: list[str],
    ) -> dict[str, Any]:
        try:
            base = prepare(base_model, X, y)
        except InvalidInput as err:
            warnings.append(f"the baseline could not be evaluated on this data: {err.message}")
            return {"metrics": {}, "deltas": {}, "error": err.message}
        if base.task != candidate.task:
            warnings.append(f"the baseline is a {base.task} model, the candidate {candidate.task}: not compared")
            return {"metrics": {}, "deltas": {}, "error": "different task"}
        base_point = point_metrics(base)
        deltas: dict[str, float | None] = {}
        improved: dict[str, bool] = {}
        for name, value in point.items():
            b = base_point.get(name)
            if value is None or b is None:
                deltas[name] = None
                continue
            deltas[name] = value - b
            improved[name] = value < b if name in LOWER_IS_BETTER else value > b
        out: dict[str, Any] = {"metrics": base_point, "deltas": deltas, "improved": improved}
        if sens is not None and fairness is not None:
            base_fair = group_fairness(base, sens, min_group_size=min_group_size)
            out["disparities"] = {k: v["value"] for k, v in base_fair["worst"].items()}
            out["disparity_deltas"] = {
                k: v["value"] - out["disparities"][k] for k, v in fairness["worst"].items() if k in out["disparities"]
            }
        return out

    def _store(
        self, report: EvaluationReport, report_object: str, x_info: dict[str, Any], y_info: dict[str, Any], model_sha: str
    ) -> None:
        import sqlalchemy as sa

        from .schema import evaluations

        ctx = self.ctx
        headline = {k: m.get("value") for k, m in report.metrics.items()}
        fairness_row: dict[str, Any] = {}
        if report.fairness:
            fairness_row = {
                "worst": report.fairness.get("worst", {}),
                "by_feature": {k: r.get("disparities", {}) for k, r in report.fairness.get("by_feature", {}).items()},
            }
        node = ("evaluation", report.eval_id)
        with ctx.transaction() as conn:
            event = ctx.record(
                conn,
                "model.evaluate",
                "evaluation",
                report.eval_id,
                {
                    "model_version": report.model_version,
                    "task": report.task,
                    "n_rows": report.n_rows,
                    "metrics": headline,
                    "disparities": {k: v.get("value") for k, v in fairness_row.get("worst", {}).items()},
                    "passed": report.passed,
                    "baseline": report.baseline.get("ref"),
                    "run_id": report.run_id,
                    "data_digest": report.data.get("digest"),
                    "data": {k: report.data.get(k) for k in ("X", "y", "read")},
                    "model_sha256": model_sha,
                    "report_object": report_object,
                },
            )
            conn.execute(
                sa.insert(evaluations).values(
                    id=report.eval_id,
                    seq=event.seq,
                    model_version=report.model_version,
                    run_id=report.run_id,
                    task=report.task,
                    n_rows=report.n_rows,
                    metrics=canonical_json(report.metrics),
                    fairness=canonical_json(fairness_row),
                    passed=report.passed,
                    baseline=report.baseline.get("ref"),
                    data_digest=report.data.get("digest"),
                    actor=ctx.actor,
                    ts=event.ts,
                    report_object=report_object,
                    model_sha256=model_sha,
                )
            )
            if report.model_version:
                ctx.link(conn, node, "evaluates", ("model_version", report.model_version))
            if report.baseline.get("ref"):
                ctx.link(conn, node, "compared_with", ("model_version", report.baseline["ref"]))
            if report.run_id:
                ctx.link(conn, ("run", report.run_id), "produced", node)
            for info in (x_info, y_info):
                if info.get("data_version"):
                    edge = {k: info[k] for k in ("fingerprint", "derived", "target") if info.get(k) is not None}
                    ctx.link(conn, ("data_version", info["data_version"]), "input_of", node, edge)

    def attach(self, model_version: str, model_sha: str, run_id: str | None) -> list[str]:
        """Attach evaluations of a model made before it was logged to the version logged from it.

        Attached are the evaluations with no model version whose model has content hash
        ``model_sha``, made in run ``run_id`` (``None``: outside any tracked run, by this actor).
        Each gets a new stored report naming the version, a ``model.evaluation_attach`` audit
        event (the report before and after) and an ``evaluates`` lineage edge. Returns their ids.
        """
        import sqlalchemy as sa

        from .schema import evaluations

        ctx = self.ctx
        t = evaluations
        q = sa.select(t.c.id, t.c.report_object).where(t.c.model_version.is_(None), t.c.model_sha256 == model_sha)
        q = q.where(t.c.run_id == run_id) if run_id is not None else q.where(t.c.run_id.is_(None), t.c.actor == ctx.actor)
        with ctx.read() as conn:
            rows = conn.execute(q.order_by(t.c.seq)).all()
        attached = []
        for row in rows:
            report = dataclasses.replace(self.get(row.id), model_version=model_version)
            new_object = ctx.objects.put_bytes(canonical_json(report.to_dict()).encode("utf-8")).object_id
            with ctx.transaction() as conn:
                done = conn.execute(
                    sa.update(t)
                    .where(t.c.id == row.id, t.c.model_version.is_(None))
                    .values(model_version=model_version, report_object=new_object)
                ).rowcount
                if not done:  # attached meanwhile by another process
                    continue
                ctx.record(
                    conn,
                    "model.evaluation_attach",
                    "evaluation",
                    row.id,
                    {
                        "model_version": model_version,
                        "model_sha256": model_sha,
                        "run_id": run_id,
                        "report_before": row.report_object,
                        "report_after": new_object,
                    },
                )
                ctx.link(conn, ("evaluation", row.id), "evaluates", ("model_version", model_version), {"attached": True})
            attached.append(row.id)
        return attached

    # -- reading ----------------------------------------------------------------------------
    def get(self, eval_id: str) -> EvaluationReport:
        """The stored report of evaluation ``eval_id`` (its bytes re-verified against their hash)."""
        from .queries import report

        return report(self.ctx, eval_id)

    def latest_for(self, model_version: str) -> EvaluationReport | None:
        """The most recent evaluation of ``model_version`` (``"name@3"`` or an alias), or ``None``."""
        rows = self.history(model_version, limit=1)
        return self.get(rows[0]["id"]) if rows else None

    def history(self, model_version: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
        """Evaluations newest first (all, or of one model version): id, version, task, passed, metrics, actor, ts."""
        from .queries import history

        return history(self.ctx, None if model_version is None else sources.resolve_ref(self.models, model_version), limit=limit)
