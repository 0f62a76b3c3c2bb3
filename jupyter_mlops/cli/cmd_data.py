"""Data commands: ``data version|list|show|diff|verify|check``.

Shared by ``jupyter-mlops data ...`` and ``%mlops data ...``. In a notebook, ``VAR`` names a
variable of the user's namespace; on the command line (or when it is not a variable name) it is
the path of a file or folder. Each command only parses, calls ``ws.data`` / ``ws.quality`` and
returns a :class:`Result` whose value renders as HTML in notebooks.
"""

from __future__ import annotations

import argparse
from typing import Any

from .commands import Context, Result, split_list

__all__ = ["register"]


def register(subs: Any) -> None:
    verbs = subs.add_parser("data", help="data versions, snapshots, diffs and quality checks").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    p = verbs.add_parser("version", help="fingerprint, profile and snapshot a frame (notebook variable) or a file/folder")
    p.add_argument("var", metavar="VAR", help="a notebook variable (in %%mlops) or the path of a file or folder")
    p.add_argument("--name", required=True, help="data set name, e.g. arrests")
    p.add_argument("--key", help="key column(s) that identify a row, comma-separated")
    p.add_argument("--sensitive", help="columns whose values must never be shown, comma-separated")
    p.add_argument("--description", help="free text kept with the version")
    p.set_defaults(func=_version)

    p = verbs.add_parser("list", help="data versions, newest first")
    p.add_argument("--name", help="only this data set")
    p.add_argument("--limit", type=int, default=200)
    p.set_defaults(func=_list)

    p = verbs.add_parser("show", help="one version: schema, profile, fingerprint, snapshot")
    p.add_argument("spec", help="NAME@NUMBER, NAME@latest or NAME@FINGERPRINT, e.g. arrests@latest")
    p.set_defaults(func=_show)

    p = verbs.add_parser("diff", help="schema, row and profile changes between two versions")
    p.add_argument("a", help="the older version, e.g. arrests@1")
    p.add_argument("b", help="the newer version, e.g. arrests@2")
    p.add_argument("--key", help="key column(s) for a row-level diff (default: the versions' key)")
    p.set_defaults(func=_diff)

    p = verbs.add_parser("verify", help="re-hash the object store; exit 7 when an object is missing or corrupt")
    p.set_defaults(func=_verify)

    p = verbs.add_parser("check", help="check a frame or version against quality rules (pandera)")
    p.add_argument("target", metavar="VAR_OR_SPEC", help="a notebook variable or a data version such as arrests@2")
    p.add_argument("--rules", required=True, help="a YAML rules file")
    p.add_argument("--fail-on", choices=["error"], help="exit 1 (raise QualityCheckFailed) when a check fails")
    p.set_defaults(func=_check)


def _is_variable(ctx: Context, name: str) -> bool:
    return ctx.namespace is not None and name.isidentifier()


def _version(ctx: Context, args: argparse.Namespace) -> Result:
    if _is_variable(ctx, args.var):
        obj, source = ctx.resolve_var(args.var), {"variable": args.var}
    else:
        obj, source = args.var, {}
    version = ctx.workspace().data.version(
        obj,
        args.name,
        key=split_list(args.key) or None,
        sensitive=split_list(args.sensitive),
        description=args.description,
        source=source,
    )
    return Result(version, str(version))


def _list(ctx: Context, args: argparse.Namespace) -> Result:
    from ..data import queries

    versions = queries.versions(ctx.workspace(), args.name, limit=args.limit)
    return Result(versions, str(versions))


def _show(ctx: Context, args: argparse.Namespace) -> Result:
    from ..data import queries

    version = queries.show(ctx.workspace(), args.spec)
    lines = [str(version), f"  snapshot {version.location} ({version.size_bytes} bytes), scheme {version.scheme}"]
    if version.sensitive:
        lines.append(f"  sensitive (masked): {', '.join(version.sensitive)}")
    for col in version.profile.get("columns", []):
        if col.get("masked"):
            stats = "masked"
        else:
            stats = ", ".join(f"{k}={col[k]}" for k in ("min", "max", "mean", "std") if col.get(k) is not None)
            if col.get("top"):
                stats += (", " if stats else "") + "top " + ", ".join(f"{v} ({n})" for v, n in col["top"])
        distinct = ("~" if col.get("distinct_estimated") else "") + str(col.get("distinct"))
        lines.append(f"  {col['name']}: {col['dtype']}, {col['nulls']} nulls, {distinct} distinct; {stats}")
    return Result(version, "\n".join(lines))


def _diff(ctx: Context, args: argparse.Namespace) -> Result:
    diff = ctx.workspace().data.diff(args.a, args.b, key=split_list(args.key) or None)
    return Result(diff, str(diff))


def _verify(ctx: Context, args: argparse.Namespace) -> Result:
    report = ctx.workspace().data.verify()
    return Result(report, str(report), exit_code=0 if report.ok else 7)


def _check(ctx: Context, args: argparse.Namespace) -> Result:
    target = (
        ctx.resolve_var(args.target) if _is_variable(ctx, args.target) and args.target in (ctx.namespace or {}) else args.target
    )
    report = ctx.workspace().quality.check(target, args.rules, fail_on=args.fail_on)
    return Result(report, str(report))
