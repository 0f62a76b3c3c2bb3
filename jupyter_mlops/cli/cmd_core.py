"""Core commands: ``init``, ``audit verify|log`` (other audit verbs: :mod:`.cmd_audit`), ``runs``, ``config show``."""

from __future__ import annotations

import argparse
from typing import Any

from . import cmd_audit
from .commands import CommandUsageError, Context, Result, format_table


def register(subs: Any) -> None:
    p = subs.add_parser("init", help="create the .mlops/ workspace in a folder")
    p.add_argument("path", nargs="?", default=".", help="project folder (default: the working directory)")
    p.add_argument(
        "--config",
        dest="team_config",
        help="a team configuration (TOML with [tracking], [metadata], [objects], [executor]): the workspace uses those "
        "services and no local store is made for them",
    )
    p.set_defaults(func=_init)

    audit = subs.add_parser("audit", help="the audit trail").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = audit.add_parser("verify", help="recompute the hash chain against its signed checkpoints; exit 7 when broken")
    cmd_audit.add_verify_arguments(p)
    p.set_defaults(func=_audit_verify)
    p = audit.add_parser("log", help="list audit events, newest first")
    p.add_argument("--actor")
    p.add_argument("--action", help="an action, or a prefix ending in * (run.*)")
    p.add_argument("--object-type")
    p.add_argument("--object-id")
    p.add_argument("--since", help="ISO time")
    p.add_argument("--until", help="ISO time")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p.set_defaults(func=_audit_log)
    cmd_audit.register_verbs(audit)

    runs_parser = subs.add_parser("runs", help="tracked runs (`runs` alone lists them)")
    _list_options(runs_parser)
    runs_parser.set_defaults(func=_runs_list)
    runs = runs_parser.add_subparsers(dest="verb", metavar="VERB")
    p = runs.add_parser("list", help="list runs, newest first")
    _list_options(p)
    p.set_defaults(func=_runs_list)
    p = runs.add_parser("show", help="one run's parameters, metrics and provenance")
    p.add_argument("run_id", help="a run id, or the stage_run_id of a pipeline stage")
    p.set_defaults(func=_runs_show)

    cfg = subs.add_parser("config", help="settings").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = cfg.add_parser("show", help="the resolved settings")
    p.set_defaults(func=_config_show)


def _list_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--experiment")
    p.add_argument("--status", choices=["RUNNING", "FINISHED", "FAILED", "KILLED"])
    p.add_argument("--filter", help="e.g. \"metrics.accuracy > 0.8 and params.C = '1'\" (the run filter grammar)")
    p.add_argument("--sort", help="KEY [ASC|DESC], e.g. 'metrics.accuracy DESC' (default: newest first)")
    p.add_argument("--limit", type=int, default=20)


def _init(ctx: Context, args: argparse.Namespace) -> Result:
    from ..config import load_team_file
    from ..core.urls import mask_url
    from ..create import init

    services = load_team_file(args.team_config) if args.team_config else None
    ws = init(args.path, user=getattr(args, "user", None), services=services)
    home = ws.settings.home
    s = ws.settings
    browse = f"open {s.tracking_uri}" if s.tracking_uri.startswith("http") else f"mlflow ui --backend-store-uri {s.tracking_uri}"
    text = (
        f"workspace ready in {home}\n"
        f"  tracking: {mask_url(s.tracking_uri)}\n"
        f"  metadata: {mask_url(s.metadata_url)}\n"
        f"  objects:  {mask_url(s.object_store)}\n"
        f"  browse runs: {browse}"
    )
    return Result(ws.settings, text)


def _audit_verify(ctx: Context, args: argparse.Namespace) -> Result:
    from ..audit import queries

    if getattr(args, "folder", None):
        return cmd_audit.verify_export(args)
    result = queries.verify(ctx.workspace())
    if result.ok:
        return Result(result, f"audit chain intact: {result.checked} events, head #{result.head_seq}")
    where = f" at event #{result.first_bad_seq}" if result.first_bad_seq is not None else ""
    return Result(result, f"audit chain BROKEN{where}: {result.reason}", exit_code=7)


class _Events(list[Any]):
    def _repr_html_(self) -> str:
        from ..core.entities import escape

        rows = "".join(
            f"<tr><td>{e.seq}</td><td>{escape(e.ts[:19])}</td><td>{escape(e.actor)}</td><td>{escape(e.action)}</td>"
            f"<td>{escape(e.object_type)}:{escape(e.object_id)}</td></tr>"
            for e in self
        )
        return f"<table><tr><th>#</th><th>time (UTC)</th><th>actor</th><th>action</th><th>object</th></tr>{rows}</table>"

    def to_dict(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self]


def _audit_log(ctx: Context, args: argparse.Namespace) -> Result:
    from ..audit import queries

    events = _Events(
        queries.events(
            ctx.workspace(),
            actor=args.actor,
            action=args.action,
            object_type=args.object_type,
            object_id=args.object_id,
            since=args.since,
            until=args.until,
            limit=args.limit,
            offset=args.offset,
        )
    )
    text = format_table(
        [(e.seq, e.ts[:19], e.actor, e.action, f"{e.object_type}:{e.object_id}") for e in events],
        ["#", "time (UTC)", "actor", "action", "object"],
    )
    return Result(events, text)


def _runs_list(ctx: Context, args: argparse.Namespace) -> Result:
    from ..tracking import queries
    from ..tracking.filters import run_filter

    if not 1 <= args.limit <= 10_000:
        raise CommandUsageError(f"--limit must be between 1 and 10000, got {args.limit}")
    flt = run_filter(getattr(args, "filter", None), status=args.status)
    page = queries.search_runs(
        ctx.workspace(), flt, experiment=args.experiment, order_by=getattr(args, "sort", None), page_size=args.limit
    )
    text = format_table(
        [
            (
                r.run_id,
                r.name,
                r.experiment,
                r.status,
                r.actor,
                r.started[:19],
                "" if r.duration_s is None else f"{r.duration_s:g}",
                _audit_refs(r.audit_seqs),
                ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items()) if not k.startswith("mlops.")),
            )
            for r in page
        ],
        ["run id", "name", "experiment", "status", "actor", "started (UTC)", "seconds", "audit", "metrics"],
    )
    return Result(page, text)


def _audit_refs(seqs: tuple[int, ...]) -> str:
    return ",".join(f"#{s}" for s in seqs)


def _runs_show(ctx: Context, args: argparse.Namespace) -> Result:
    from ..tracking import queries

    ws = ctx.workspace()
    detail = queries.run_detail(ws, ws.resolve_run_id(args.run_id))  # a stage_run_id works too
    r = detail.run
    facts = [
        ("run_id", r.run_id),
        ("name", r.name),
        ("experiment", f"{r.experiment} ({r.experiment_id})"),
        ("status", r.status),
        ("actor", r.actor),
        ("started", r.started),
        ("ended", r.ended),
        ("duration_s", r.duration_s),
        ("notebook", r.notebook),
        ("cell_id", r.cell_id),
        ("parent_run_id", r.parent_run_id),
        ("error", r.error),
        ("audit_events", _audit_refs(detail.audit_events)),
        ("artifact_uri", detail.artifact_uri),
    ]
    lines = [f"{k}: {v}" for k, v in facts if v not in (None, "")]
    lines += [f"param {k} = {v}" for k, v in sorted(r.params.items())]
    lines += [f"metric {k} = {v}" for k, v in sorted(r.metrics.items())]
    lines += [f"tag {k} = {v}" for k, v in sorted(detail.all_tags.items()) if k.startswith("mlops.")]
    return Result(detail, "\n".join(lines))


def _config_show(ctx: Context, args: argparse.Namespace) -> Result:
    from ..config import resolve_settings

    settings = resolve_settings(args.root, user=args.user)  # settings only: shown even when a service is down
    return Result(settings, "\n".join(f"{k} = {v}" for k, v in settings.to_dict().items()))
