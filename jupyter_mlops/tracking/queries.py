"""Read queries over runs: the one read path of every front-end, and of the other capabilities.

The experiments dashboard, the REST routes behind the side panel, ``jupyter-mlops runs list|show``
(and ``%mlops runs``) and ``mlops.list_runs`` build their rows here, with one function
(:func:`_run_info`), so a run shows the same start, end, duration, parameters and metrics in each.
Times come from the tracking store when it knows the run (what the MLflow UI shows), else from the
run's record. Listings are filtered, sorted and paged by the tracking store, never by loading every
run; a filter is parsed once, by :mod:`jupyter_mlops.tracking.filters`. A listing first closes the
runs whose owner process is gone (:func:`~jupyter_mlops.tracking.liveness.reap_stale`), so a
dead run is shown KILLED, not RUNNING.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.entities import RunInfo
from ..core.paths import validate_name, validate_object_id
from ..errors import InvalidInput, MlopsError, TrackingError
from .entities import Experiment, NotebookContext, RunDetail, RunPage, RunTable
from .filters import Clause, RunFilter, parse_filter, parse_order
from .schema import runs

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = [
    "count_runs",
    "experiments",
    "get_run",
    "get_run_record",
    "list_runs",
    "metric_history",
    "notebook_context",
    "run_artifact_text",
    "run_detail",
    "search_runs",
]

log = logging.getLogger("jupyter_mlops.workspace")
_HIDDEN_TAGS = ("mlflow.", "mlops.")
_MAX_PAGE = 10_000


def _iso_ms(ms: Any) -> str | None:
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _seconds(started: str | None, ended: str | None) -> float | None:
    if not started or not ended:
        return None
    try:
        delta = datetime.fromisoformat(ended) - datetime.fromisoformat(started)
    except ValueError:
        return None
    return round(delta.total_seconds(), 3)


def _run_info(run: Mapping[str, Any] | None, rec: Any, names: Mapping[str, str]) -> RunInfo:
    """The row of one run, from the store's record of it (``run``) and ours (``rec``), either may be missing."""
    tags: dict[str, str] = dict((run or {}).get("tags") or {})
    if run is not None:
        started = _iso_ms(run.get("start_time")) or (rec.started if rec is not None else "")
        ended = _iso_ms(run.get("end_time"))
        status = str(run.get("status") or (rec.status if rec is not None else ""))
    else:
        started, ended, status = rec.started, rec.ended, rec.status
    exp_id = str((run or {}).get("experiment_id") or (rec.experiment_id if rec is not None else ""))

    def pick(column: str, tag: str) -> Any:
        value = getattr(rec, column, None) if rec is not None else None
        return value if value else tags.get(tag)

    return RunInfo(
        run_id=str(run["run_id"] if run is not None else rec.run_id),
        experiment=(rec.experiment if rec is not None else None) or names.get(exp_id) or exp_id,
        name=str((run or {}).get("name") or (rec.name if rec is not None else "") or ""),
        actor=str(tags.get("mlops.actor") or tags.get("mlflow.user") or (rec.actor if rec is not None else "") or ""),
        status=status,
        started=started,
        ended=ended,
        notebook=pick("notebook", "mlops.notebook"),
        cell_id=pick("cell_id", "mlops.cell_id"),
        source_sha256=pick("source_sha256", "mlops.source_sha256"),
        parent_run_id=pick("parent_run_id", "mlflow.parentRunId"),
        error=pick("error", "mlops.error"),
        params=dict((run or {}).get("params") or {}),
        metrics=dict((run or {}).get("metrics") or {}),
        audit_seqs=tuple(s for s in (rec.start_seq, rec.end_seq) if s is not None) if rec is not None else (),
        experiment_id=exp_id,
        duration_s=_seconds(started, ended),
        tags={k: v for k, v in tags.items() if not k.startswith(_HIDDEN_TAGS)},
    )


def _records(ctx: Context, run_ids: Iterable[str]) -> dict[str, Any]:
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return {}
    with ctx.read() as conn:
        return {r.run_id: r for r in conn.execute(sa.select(runs).where(runs.c.run_id.in_(ids)))}


def _from_store(ctx: Context, rows: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """The tracking store's record of each recorded run (one search per experiment)."""
    by_exp: dict[str, list[str]] = {}
    for r in rows:
        by_exp.setdefault(r.experiment_id, []).append(r.run_id)
    found: dict[str, dict[str, Any]] = {}
    for exp_id, ids in by_exp.items():
        flt = RunFilter((Clause("attributes", "run_id", "IN", tuple(ids)),))
        page, _ = ctx.tracking.search_runs([exp_id], filter_string=flt.to_mlflow(), max_results=len(ids))
        found.update({d["run_id"]: d for d in page})
    return found


def experiments(ctx: Context) -> tuple[Experiment, ...]:
    """Every experiment with tracked runs, by name, with its number of runs (one grouped query)."""
    q = (
        sa.select(runs.c.experiment_id, runs.c.experiment, sa.func.count())
        .group_by(runs.c.experiment_id, runs.c.experiment)
        .order_by(runs.c.experiment)
    )
    with ctx.read() as conn:
        return tuple(Experiment(str(i), str(n), int(c)) for i, n, c in conn.execute(q))


def count_runs(ctx: Context, experiment: str, status: str | None = None) -> int:
    """How many tracked runs ``experiment`` has (of one status, if given)."""
    q = sa.select(sa.func.count()).select_from(runs).where(runs.c.experiment == experiment)
    if status and status.lower() != "any":
        q = q.where(runs.c.status == status.upper())
    with ctx.read() as conn:
        return int(conn.execute(q).scalar_one())


def search_runs(
    ctx: Context,
    filter: str | RunFilter | None = None,
    *,
    experiment: str | None = None,
    order_by: str | None = None,
    page_size: int = 50,
    page_token: str | None = None,
) -> RunPage:
    """One page of runs, filtered, sorted and paged by the tracking store.

    Parameters
    ----------
    ctx
        The workspace context.
    filter
        A filter in the grammar of :mod:`~jupyter_mlops.tracking.filters` (text, parsed here, or a
        :class:`~jupyter_mlops.tracking.filters.RunFilter`).
    experiment
        One experiment by name (default: every experiment with tracked runs).
    order_by
        ``KEY [ASC|DESC]``, e.g. ``metrics.accuracy DESC`` (default: newest first).
    page_size, page_token
        The page: at most ``page_size`` runs, after the page ``page_token`` (a previous page's
        ``next_page_token``) ends.

    Raises
    ------
    InvalidInput
        A bad filter or sort key (naming the bad token), an invalid page token.
    NotFound
        An unknown experiment.
    """
    from .liveness import reap_stale

    flt = filter if isinstance(filter, RunFilter) else parse_filter(filter)
    order = parse_order(order_by)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= _MAX_PAGE:
        raise InvalidInput(f"page_size must be between 1 and {_MAX_PAGE}, got {page_size!r}", value=page_size, field="page_size")
    reap_stale(ctx)
    known = experiments(ctx)
    names = {e.id: e.name for e in known}
    if experiment:
        validate_name(experiment, kind="experiment")
        ids = [ctx.tracking.experiment_id(experiment, create=False)]
        names.setdefault(ids[0], experiment)
    else:
        ids = sorted(names)
    if not ids:
        return RunPage((), None, known)
    try:
        found, token = ctx.tracking.search_runs(
            ids, filter_string=flt.to_mlflow(), order_by=order, max_results=page_size, page_token=page_token or None
        )
    except TrackingError:
        if page_token:
            raise InvalidInput(
                "invalid page token", field="page_token", hint="pass next_page_token from the previous page"
            ) from None
        raise
    records = _records(ctx, (r["run_id"] for r in found))
    token_text = (token.decode("ascii") if isinstance(token, bytes) else token) or None
    return RunPage(tuple(_run_info(r, records.get(r["run_id"]), names) for r in found), token_text, known)


def list_runs(
    ctx: Context,
    *,
    experiment: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
    with_metrics: bool = True,
) -> RunTable:
    """Recorded runs newest first; with the tracking store's parameters, metrics and times unless ``with_metrics=False``.

    This is the record of what ran (a run the store lost is still listed); :func:`search_runs`
    is the store's view, filtered and sorted there.
    """
    from .liveness import reap_stale

    if isinstance(limit, bool) or not 1 <= int(limit) <= _MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {_MAX_PAGE}, got {limit}", value=limit, field="limit")
    try:
        reap_stale(ctx)
    except MlopsError as err:  # an unreachable tracking server must not stop a listing of what was recorded
        log.warning("jupyter-mlops: could not close runs left open by processes that are gone: %s", err)
    q = sa.select(runs).order_by(runs.c.started.desc()).limit(int(limit)).offset(max(0, int(offset)))
    if experiment:
        q = q.where(runs.c.experiment == experiment)
    if status:
        q = q.where(runs.c.status == status.upper())
    with ctx.read() as conn:
        rows = conn.execute(q).all()
    details = _from_store(ctx, rows) if with_metrics and rows else {}
    names = {r.experiment_id: r.experiment for r in rows}
    return RunTable(tuple(_run_info(details.get(r.run_id), r, names) for r in rows))


def get_run(ctx: Context, run_id: str) -> RunInfo:
    """One run's row (the store's view, with its record).

    Raises
    ------
    NotFound
        When the tracking store has no such run.
    """
    validate_object_id(run_id)
    run = ctx.tracking.get_run(run_id)
    return _run_info(run, _records(ctx, [run_id]).get(run_id), {})


def run_detail(ctx: Context, run_id: str) -> RunDetail:
    """A run in full: its row, every tag, its record (source, actor, error), direct lineage and audit events.

    ``run_id`` is an MLflow run id (a front-end resolves a ``stage_run_id`` first, with
    :meth:`jupyter_mlops.workspace.Workspace.resolve_run_id`).
    """
    from ..audit.chain import list_events
    from ..lineage.graph import edges_of

    validate_object_id(run_id)
    run = ctx.tracking.get_run(run_id)
    with ctx.read() as conn:
        rec = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
        edges = tuple(edges_of(conn, ("run", run_id)))
        events = list_events(conn, object_type="run", object_id=run_id, newest_first=False, limit=10_000)
    names = {e.id: e.name for e in experiments(ctx)}
    return RunDetail(
        run=_run_info(run, rec, names),
        all_tags=dict(run.get("tags") or {}),
        record=None if rec is None else dict(rec._mapping),
        lineage=edges,
        inputs=tuple(f"{e.src_type}:{e.src_id}" for e in edges if e.dst_type == "run" and e.dst_id == run_id),
        outputs=tuple(f"{e.dst_type}:{e.dst_id}" for e in edges if e.src_type == "run" and e.src_id == run_id),
        audit_events=tuple(e.seq for e in events),
        artifact_uri=run.get("artifact_uri"),
    )


def run_artifact_text(ctx: Context, run_id: str, path: str, *, max_bytes: int = 200_000) -> str | None:
    """The text of one artifact of a run (``mlops/cell.py``, ``mlops/environment.json``), or ``None``."""
    validate_object_id(run_id)
    return ctx.tracking.read_text_artifact(run_id, path, max_bytes=max_bytes)


def metric_history(ctx: Context, run_id: str, key: str) -> list[tuple[int, float]]:
    """``(step, value)`` pairs of one metric of a run, in step order."""
    validate_object_id(run_id)
    return ctx.tracking.metric_history(run_id, key)


def notebook_context(ctx: Context, notebooks: Iterable[str], path: str, *, limit: int = 50) -> NotebookContext:
    """Runs recorded from a notebook (newest first) and the data and model versions they read or produced.

    ``notebooks`` are the names the notebook may have been recorded under (relative, absolute);
    a recorded name ending in ``/path`` matches too.
    """
    from ..lineage.graph import edges_of

    wanted = set(notebooks)
    with ctx.read() as conn:
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
    details = _from_store(ctx, rows) if rows else {}
    names = {r.experiment_id: r.experiment for r in rows}
    return NotebookContext(
        notebook=path,
        matched=tuple(matches),
        runs=tuple(_run_info(details.get(r.run_id), r, names) for r in rows),
        data_versions=tuple(related["data_version"]),
        model_versions=tuple(related["model_version"]),
    )


def get_run_record(ctx: Context, run_id: str) -> RunInfo | None:
    """The jupyter-mlops record of run ``run_id`` (provenance, no store metrics), or ``None``.

    Parameters
    ----------
    ctx
        The workspace context.
    run_id
        The MLflow run id.
    """
    rec = _records(ctx, [run_id]).get(run_id)
    return None if rec is None else _run_info(None, rec, {})
