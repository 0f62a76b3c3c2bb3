"""What an evaluation leaves in the tracked run: the run it belongs to, the data it read, its metrics, plots and report files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .report import EvaluationReport

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = []


def _active_run(ctx: Context) -> Any:
    from ..tracking.runs import run_for

    return run_for(ctx)


def _read_by(ctx: Context, run: Any) -> list[str]:
    """The data versions the evaluating run read (in it, or in its stage), for the record."""
    if run is None:
        return []
    from ..lineage.graph import data_read_by
    from ..tracking.runs import reading_runs

    with ctx.read() as conn:
        return data_read_by(conn, reading_runs(ctx, run))


def _plots(prepared: Any, fairness: dict[str, Any] | None) -> dict[str, bytes]:
    from .plots import evaluation_plots

    return evaluation_plots(prepared, fairness)


def _run_metrics(report: EvaluationReport) -> dict[str, float]:
    out = {f"eval_{k}": float(v) for k, m in report.metrics.items() if (v := m.get("value")) is not None}
    if report.fairness:
        for name, worst in report.fairness.get("worst", {}).items():
            out[f"eval_{name}"] = float(worst["value"])
    if report.passed is not None:
        out["eval_passed"] = 1.0 if report.passed else 0.0
    return out


def _log_artifacts(ctx: Context, run_id: str, report: EvaluationReport, report_json: str, pngs: dict[str, bytes]) -> None:
    import tempfile
    from pathlib import Path

    folder = f"evaluation/{report.eval_id[:12]}"
    ctx.tracking.log_batch(run_id, tags={"mlops.evaluation": report.eval_id})
    ctx.tracking.log_text(run_id, report_json, f"{folder}/report.json")
    ctx.tracking.log_text(run_id, report.to_html(), f"{folder}/report.html")
    if pngs:
        with tempfile.TemporaryDirectory(prefix="mlops-eval-") as tmp:
            for name, png in pngs.items():
                path = Path(tmp) / f"{name}.png"
                path.write_bytes(png)
                ctx.tracking.log_artifact(run_id, path, f"{folder}/plots")
