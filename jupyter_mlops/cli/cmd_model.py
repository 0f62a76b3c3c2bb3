"""Model registry commands: ``model log VAR --name N``, ``model list``, ``model show SPEC``,
``model request-review SPEC --note``, ``model approve|reject SPEC --comment``,
``model promote SPEC [--alias A]``, ``model history NAME [--alias A]`` and ``model check-aliases``.

Shared by ``jupyter-mlops model ...`` and ``%mlops model ...``; each command only parses, calls
:class:`~jupyter_mlops.registry.service.ModelRegistry` and returns a :class:`Result`.
"""

from __future__ import annotations

import argparse
from typing import Any

from .commands import Context, Result

__all__ = ["register"]

_SPEC = "model version: NAME@NUMBER, NAME@latest or NAME@ALIAS, e.g. arrests-clf@3"


def register(subs: Any) -> None:
    verbs = subs.add_parser("model", help="log, list, review and promote model versions").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    p = verbs.add_parser("log", help="log a fitted scikit-learn model from a notebook variable (in %%mlops only)")
    p.add_argument("var", help="the notebook variable holding the fitted model")
    p.add_argument("--name", required=True, help="registered model name, e.g. arrests-clf")
    p.add_argument("--example", required=True, help="notebook variable with a few training rows (signature and input example)")
    p.add_argument(
        "--serialization", choices=("skops", "cloudpickle"), default="skops", help="default skops (no code runs on load)"
    )
    p.set_defaults(func=_log)

    p = verbs.add_parser("list", help="registered model versions with author, review status and aliases")
    p.add_argument("name", nargs="?", help="only this model")
    p.set_defaults(func=_list)

    p = verbs.add_parser("show", help="one version: run, data versions, code hash, artifact hashes")
    p.add_argument("spec", help=_SPEC)
    p.set_defaults(func=_show)

    p = verbs.add_parser("request-review", help="submit a version for review (needs an evaluation and a model card)")
    p.add_argument("spec", help=_SPEC)
    p.add_argument("--note", default="", help="what the reviewers should know")
    p.set_defaults(func=_request)

    for verb, func, what in (("approve", _approve, "approve"), ("reject", _reject, "reject")):
        p = verbs.add_parser(verb, help=f"{what} a pending review (a reviewer other than the author)")
        p.add_argument("spec", help=_SPEC)
        p.add_argument("--comment", default="", help="the reason, kept in the audit trail")
        p.set_defaults(func=func)

    p = verbs.add_parser("promote", help="point an alias at a version (serving aliases need an approval)")
    p.add_argument("spec", help=_SPEC)
    p.add_argument(
        "--alias",
        help="default: [review] serving_alias of config.toml ('champion'); aliases are case-insensitive, and "
        "[review] serving_aliases (champion, production, prod, live) take approved versions only",
    )
    p.set_defaults(func=_promote)

    p = verbs.add_parser(
        "check-aliases", help="report aliases not in lower case (in MLflow or the alias history); exit 7 when any exist"
    )
    p.set_defaults(func=_check_aliases)

    p = verbs.add_parser("history", help="who moved which alias to which version, when, approved by whom")
    p.add_argument("name", help="registered model name")
    p.add_argument("--alias", help="only this alias")
    p.set_defaults(func=_history)


def _log(ctx: Context, args: argparse.Namespace) -> Result:
    model = ctx.resolve_var(args.var)
    example = ctx.resolve_var(args.example)
    mv = ctx.workspace().models.log_model(model, args.name, X_example=example, serialization=args.serialization)
    return Result(mv, f"logged {mv.ref} ({mv.model_type}, {len(mv.manifest)} files, manifest {mv.manifest_sha256[:16]})")


def _list(ctx: Context, args: argparse.Namespace) -> Result:
    from ..registry import queries

    table = queries.versions(ctx.workspace(), args.name)
    return Result(table, str(table))


def _show(ctx: Context, args: argparse.Namespace) -> Result:
    from ..registry import queries

    mv = queries.get(ctx.workspace(), args.spec)
    return Result(mv, str(mv))


def _with_evidence(ctx: Context, review: Any) -> str:
    """The review line, then the evaluation it rests on: pass or fail per declared threshold."""
    report = ctx.workspace().evaluation.latest_for(f"{review.name}@{review.version}")
    lines = [str(review)]
    if report is not None:
        verdict = {True: "passed", False: "FAILED", None: "no thresholds declared"}[report.passed]
        lines.append(f"  evaluation {report.eval_id[:12]} ({report.n_rows} rows): {verdict}")
        for t in report.thresholds:
            value = "n/a" if t.get("value") is None else f"{float(t['value']):.4g}"
            lines.append(f"    {'PASS' if t['passed'] else 'FAIL'}  {t['name']} {t['op']} {t['limit']:g}  (value {value})")
    return "\n".join(lines)


def _request(ctx: Context, args: argparse.Namespace) -> Result:
    review = ctx.workspace().models.request_review(args.spec, args.note)
    return Result(review, _with_evidence(ctx, review))


def _approve(ctx: Context, args: argparse.Namespace) -> Result:
    review = ctx.workspace().models.approve(args.spec, args.comment)
    return Result(review, _with_evidence(ctx, review))


def _reject(ctx: Context, args: argparse.Namespace) -> Result:
    review = ctx.workspace().models.reject(args.spec, args.comment)
    return Result(review, _with_evidence(ctx, review))


def _promote(ctx: Context, args: argparse.Namespace) -> Result:
    move = ctx.workspace().models.promote(args.spec, args.alias)
    return Result(move, str(move))


def _check_aliases(ctx: Context, args: argparse.Namespace) -> Result:
    check = ctx.workspace().models.check_aliases()
    return Result(check, str(check), exit_code=check.exit_code)


def _history(ctx: Context, args: argparse.Namespace) -> Result:
    from ..registry import queries

    history = queries.alias_history(ctx.workspace(), args.name, args.alias)
    return Result(history, str(history))
