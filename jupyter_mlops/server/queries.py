"""Read queries the REST routes need that are more than one service call.

Run listings are paged, sorted and filtered by the tracking store (MLflow's ``search_runs``), never
by loading every run into the server. Filters arrive as separate, validated query parameters and are
turned into an MLflow filter string here, so a client never writes MLflow's filter syntax (and
cannot inject into it). The notebook context walks the lineage graph two steps from the runs of
one notebook to the data and model versions they read or produced.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.paths import validate_name
from ..errors import InvalidInput, NotFound, TrackingError

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["SORT_KEY_PATTERN", "experiments", "notebook_context", "run_detail", "search_runs"]

#: ``start_time``, ``name``, ``status`` or ``metrics.<key>`` / ``params.<key>``.
SORT_KEY_PATTERN = r"(start_time|end_time|name|status|(metrics|params)\.[A-Za-z0-9_.\-/ ]{1,250})"
RUN_ID_PATTERN = r"[0-9a-f]{32}"
_SAFE_VALUE = re.compile(r"^[^'\"\\`\x00-\x1f]{1,256}$")
_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED")
_HIDDEN_TAGS = ("mlflow.", "mlops.")


def _quoted(value: str, field: str) -> str:
    if not _SAFE_VALUE.match(value):
        raise InvalidInput(f"{field} may not contain quotes, backslashes or control characters", field=field)
    return "'" + value + "'"


def _iso(ms: Any) -> str | None:
    if not isinstance(ms, (int, float)):
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def run_summary(run: dict[str, Any], experiment_names: dict[str, str]) -> dict[str, Any]:
    """The fields the run tables show (user tags only; MLflow and capture tags stay in detail)."""
    tags = dict(run.get("tags", {}))
    return {
        "run_id": run["run_id"],
        "name": run.get("name") or "",
        "experiment_id": run.get("experiment_id"),
        "experiment": experiment_names.get(str(run.get("experiment_id")), str(run.get("experiment_id"))),
        "status": run.get("status"),
        "started": _iso(run.get("start_time")),
        "ended": _iso(run.get("end_time")),
        "actor": tags.get("mlops.actor") or tags.get("mlflow.user"),
        "notebook": tags.get("mlops.notebook"),
        "params": run.get("params", {}),
        "metrics": run.get("metrics", {}),
        "tags": {k: v for k, v in tags.items() if not k.startswith(_HIDDEN_TAGS)},
    }


def experiments(ws: Workspace) -> dict[str, str]:
    """Experiment id -> name for every experiment that has a jupyter-mlops run."""
    from ..tracking.schema import runs

    ws._ensure_schema()
    with ws.db.read() as conn:
        rows = conn.execute(sa.select(runs.c.experiment_id, runs.c.experiment).distinct()).all()
    return {str(r.experiment_id): str(r.experiment) for r in rows}


def search_runs(
    ws: Workspace,
    *,
    experiment: str | None = None,
    status: str | None = None,
    name: str | None = None,
    actor: str | None = None,
    notebook: str | None = None,
    sort: str = "start_time",
    order: str = "desc",
    limit: int = 50,
    page_token: str | None = None,
) -> dict[str, Any]:
    """One page of runs, filtered, sorted and paged by the tracking store (runs whose process died are reaped first)."""
    ws.reap()
    clauses = []
    if status:
        if status.upper() not in _STATUSES:
            raise InvalidInput("unknown run status", field="status", hint="one of " + ", ".join(_STATUSES))
        clauses.append(f"attributes.status = '{status.upper()}'")
    if name:
        clauses.append(f"attributes.run_name LIKE {_quoted('%' + name + '%', 'name')}")
    if actor:
        clauses.append(f"tags.`mlops.actor` = {_quoted(actor, 'actor')}")
    if notebook:
        clauses.append(f"tags.`mlops.notebook` = {_quoted(notebook, 'notebook')}")
    if not re.fullmatch(SORT_KEY_PATTERN, sort) or "`" in sort:
        raise InvalidInput("unknown sort key", field="sort", hint="start_time, name, status or metrics.<key>")
    direction = "ASC" if order.lower() == "asc" else "DESC"
    if sort in ("start_time", "end_time", "status"):
        order_by = [f"attributes.{sort} {direction}"]
    elif sort == "name":
        order_by = [f"attributes.run_name {direction}"]
    else:
        kind, _, key = sort.partition(".")
        order_by = [f"{kind}.`{key}` {direction}", "attributes.start_time DESC"]
    names = experiments(ws)
    if experiment:
        validate_name(experiment, kind="experiment")
        ids = [ws.tracking.experiment_id(experiment, create=False)]
        names.setdefault(ids[0], experiment)
    else:
        ids = sorted(names)
    if not ids:
        return {"runs": [], "next_page_token": None, "experiments": []}
    try:
        found, token = ws.tracking.search_runs(
            ids, filter_string=" and ".join(clauses), order_by=order_by, max_results=limit, page_token=page_token or None
        )
    except TrackingError:
        if page_token:
            raise InvalidInput(
                "invalid page token", field="page_token", hint="pass next_page_token from the previous page"
            ) from None
        raise
    return {
        "runs": [run_summary(r, names) for r in found],
        "next_page_token": (token.decode("ascii") if isinstance(token, bytes) else token) or None,
        "experiments": [{"id": k, "name": v} for k, v in sorted(names.items(), key=lambda kv: kv[1])],
    }


def run_detail(ws: Workspace, run_id: str) -> dict[str, Any]:
    """A run's MLflow record, its jupyter-mlops record (source, actor, error) and its direct lineage."""
    from ..lineage.graph import edges_of
    from ..tracking.schema import runs

    if not re.fullmatch(RUN_ID_PATTERN, run_id):
        raise InvalidInput("a run id is 32 lower-case hex characters", field="run_id")
    run_id = ws.resolve_run_id(run_id)  # a stage_run_id names its run too
    with ws.db.read() as conn:
        row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
        edges = edges_of(conn, ("run", run_id))
    run = ws.tracking.get_run(run_id)
    names = experiments(ws)
    out = run_summary(run, names)
    out["all_tags"] = run.get("tags", {})
    out["record"] = None if row is None else {k: v for k, v in row._mapping.items()}
    out["lineage"] = [e.to_dict() for e in edges]
    out["inputs"] = [f"{e.src_type}:{e.src_id}" for e in edges if e.dst_type == "run" and e.dst_id == run_id]
    out["outputs"] = [f"{e.dst_type}:{e.dst_id}" for e in edges if e.src_type == "run" and e.src_id == run_id]
    return out


def _notebook_candidates(ws: Workspace, root_dir: str, path: str) -> set[str]:
    absolute = (Path(root_dir) / path).resolve()
    out = {path, str(absolute), absolute.as_posix()}
    try:
        out.add(absolute.relative_to(ws.settings.root).as_posix())
    except ValueError:
        pass
    return out


def notebook_context(ws: Workspace, root_dir: str, path: str, *, limit: int = 50) -> dict[str, Any]:
    """Runs recorded from notebook ``path`` (newest first) and the data and model versions they touched."""
    from ..lineage.graph import edges_of
    from ..tracking.schema import runs

    ws._ensure_schema()
    wanted = _notebook_candidates(ws, root_dir, path)
    with ws.db.read() as conn:
        stored = [r[0] for r in conn.execute(sa.select(runs.c.notebook).where(runs.c.notebook.is_not(None)).distinct())]
        matches = [nb for nb in stored if nb in wanted or nb.endswith("/" + path)]
        rows = (
            conn.execute(sa.select(runs).where(runs.c.notebook.in_(matches)).order_by(runs.c.started.desc()).limit(limit)).all()
            if matches
            else []
        )
        related: dict[str, list[str]] = {"data_version": [], "model_version": []}
        for r in rows:
            for e in edges_of(conn, ("run", r.run_id)):
                for node_type, node_id in ((e.src_type, e.src_id), (e.dst_type, e.dst_id)):
                    if node_type in related and node_id not in related[node_type]:
                        related[node_type].append(node_id)
    return {
        "notebook": path,
        "matched": matches,
        "runs": [
            {
                "run_id": r.run_id,
                "name": r.name,
                "experiment": r.experiment,
                "status": r.status,
                "actor": r.actor,
                "started": r.started,
                "notebook": r.notebook,
            }
            for r in rows
        ],
        "data_versions": related["data_version"],
        "model_versions": related["model_version"],
    }


def require(found: Any, what: str, field: str) -> Any:
    """``found``, or NotFound naming ``what``."""
    if found is None:
        raise NotFound(f"no such {what}", field=field)
    return found
