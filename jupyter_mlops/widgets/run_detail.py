"""One run's detail view as escaped HTML (parameters, metrics, lineage, environment) with its metric histories."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..core.direction import is_internal_metric
from ..core.entities import RunInfo, escape
from ..tracking import queries
from .common import badge, html_table, iso_time, kv_table, plural, pre, section

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["run_detail_html", "short_payload"]


def _when(iso: str | None) -> str:
    """A run time as the dashboards show it: ISO 8601 with the viewer's offset (the instant the REST API and CLI give)."""
    return iso_time(iso)


KEY_PACKAGES = (
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "fairlearn",
    "mlflow",
    "jupyter-mlops",
    "torch",
    "xgboost",
    "lightgbm",
)


def run_detail_html(ws: Workspace, run_id: str) -> tuple[str, dict[str, list[tuple[int, float]]]]:
    """The detail view of one run as escaped HTML, plus metric histories for the charts."""
    detail = queries.run_detail(ws, run_id)
    r, tags, rec = detail.run, detail.all_tags, detail.record or {}
    tone = {"FINISHED": "good", "FAILED": "bad", "KILLED": "warn", "RUNNING": "info"}.get(r.status, "none")
    outcome: list[tuple[str, Any]] = [
        ("status", r.status),
        ("started", _when(r.started)),
        ("ended", _when(r.ended)),
        ("duration (s)", "" if r.duration_s is None else r.duration_s),
        ("by", r.actor),
        ("run id", run_id),
    ]
    if r.parent_run_id:
        outcome.append(("parent run", r.parent_run_id))
    if tags.get("mlops.notes"):
        outcome.append(("notes", tags["mlops.notes"]))
    me = f"run:{run_id}"
    lineage_rows = []
    data_rows = []
    for e in detail.lineage:
        src, dst = f"{e.src_type}:{e.src_id}", f"{e.dst_type}:{e.dst_id}"
        if me not in (src, dst):
            continue
        other_type, other_id, direction = (e.src_type, e.src_id, "in") if dst == me else (e.dst_type, e.dst_id, "out")
        lineage_rows.append([direction, e.relation, other_type, other_id])
        if other_type.startswith("data") and direction == "in":
            data_rows.append([other_id, e.relation, short_payload(e.payload)])
    source_rows = [
        ("notebook", r.notebook or "unknown"),
        ("cell id", r.cell_id or "unknown"),
        ("source sha256", tags.get("mlops.source_sha256", "unknown")),
        ("execution count", tags.get("mlops.execution_count", "unknown")),
    ]
    cell = queries.run_artifact_text(ws, run_id, "mlops/cell.py")
    env_rows = [
        ("python", tags.get("mlops.python", "unknown")),
        ("git commit", tags.get("mlops.git.commit", "unknown")),
        ("git branch", tags.get("mlops.git.branch", "unknown")),
        ("uncommitted changes", tags.get("mlops.git.dirty", "unknown")),
        ("environment sha256", tags.get("mlops.environment_sha256", "unknown")),
    ]
    env_text = queries.run_artifact_text(ws, run_id, "mlops/environment.json")
    packages = ""
    if env_text:
        try:
            env = json.loads(env_text)
            pk = env.get("packages") if isinstance(env, dict) else None
            if isinstance(pk, dict) and pk:
                key = [(n, pk[n]) for n in KEY_PACKAGES if n in pk]
                packages = (
                    kv_table([("os", env.get("os", "unknown")), *key])
                    + f"<details><summary class='mlops-muted'>all {len(pk)} installed packages</summary>"
                    + html_table(["package", "version"], sorted(pk.items()))
                    + "</details>"
                )
        except ValueError:
            packages = pre(env_text[:4000])
    history = {key: queries.metric_history(ws, run_id, key) for key in sorted(r.metrics)[:4]}
    error = r.error or rec.get("error")
    html = (
        f"<div><span class='mlops-title'>{escape(r.name)}</span> {badge(r.status, tone)}</div>"
        + (f"<div class='mlops-note tone-bad'><b>error:</b> {escape(error)}</div>" if error else "")
        + section("Outcome", kv_table(outcome))
        + section("Parameters", kv_table(sorted(r.params.items())))
        + section("Metrics", kv_table(sorted((k, v) for k, v in r.metrics.items() if not is_internal_metric(k))) + _internal(r))
        + section(
            "Data versions used",
            html_table(["data version", "relation", "details"], data_rows)
            if data_rows
            else "<div class='mlops-muted'>no data version was recorded for this run</div>",
        )
        + section("Lineage", html_table(["direction", "relation", "type", "id"], lineage_rows))
        + section(
            "Source", kv_table(source_rows) + (pre(cell) if cell else "<div class='mlops-muted'>cell source not stored</div>")
        )
        + section("Environment", kv_table(env_rows) + packages)
    )
    return html, history


def _internal(r: RunInfo) -> str:
    """jupyter-mlops' own bookkeeping metrics (``mlops.*``), folded away."""
    internal = sorted((k, v) for k, v in r.metrics.items() if is_internal_metric(k))
    if not internal:
        return ""
    return (
        f"<details><summary class='mlops-muted'>{escape(plural(len(internal), 'bookkeeping metric'))} (mlops.*)</summary>"
        + kv_table(internal)
        + "</details>"
    )


def short_payload(payload: dict[str, Any]) -> str:
    """A few payload fields as ``k=v`` text."""
    return ", ".join(f"{k}={v}" for k, v in list(payload.items())[:4])
