"""``compliance check SPEC --policy FILE [--format md|html] [--out FILE]`` and ``compliance impact-level SPEC LEVEL``."""

from __future__ import annotations

import argparse
from typing import Any

from .commands import Context, Result


def register(subs: Any) -> None:
    noun = subs.add_parser("compliance", help="compliance against a written policy")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = verbs.add_parser("check", help="check a model version against a policy; exit 1 when a rule fails")
    p.add_argument("spec", help="a model version: name@3, name@champion")
    p.add_argument("--policy", required=True, help="the policy YAML file")
    p.add_argument("--format", choices=["text", "md", "html"], default="text", help="how to print the report")
    p.add_argument("--out", help="write the report (md or html) to this file instead of printing it")
    p.set_defaults(func=_check)
    p = verbs.add_parser("impact-level", help="record a version's impact level (Canada DADM: I, II, III, IV)")
    p.add_argument("spec")
    p.add_argument("level", choices=["I", "II", "III", "IV"])
    p.add_argument("--reason", default="")
    p.set_defaults(func=_impact)
    p = verbs.add_parser("attest", help="print the in-toto Statement of a model version (artifact digests, run, data, approvals)")
    p.add_argument("spec")
    p.set_defaults(func=_attest)


def _check(ctx: Context, args: argparse.Namespace) -> Result:
    from ..core.paths import validate_file

    report = ctx.workspace().compliance.check(args.spec, args.policy)
    if args.format == "html":
        text = report.to_html()
    elif args.format == "md":
        text = report.to_markdown()
    else:
        lines = [f"{'pass' if r.passed else 'FAIL'}  {r.rule}: {r.actual} (expected {r.expected})" for r in report.rules]
        text = "\n".join([f"{report.model_version} against {report.policy}: {'PASSED' if report.passed else 'FAILED'}", *lines])
    if args.out:
        out = validate_file(args.out, must_exist=False)
        out.write_text(text, encoding="utf-8")
        text = f"compliance report written to {out} ({'PASSED' if report.passed else 'FAILED'})"
    return Result(report, text, exit_code=0 if report.passed else 1)


def _impact(ctx: Context, args: argparse.Namespace) -> Result:
    done = ctx.workspace().compliance.set_impact_level(args.spec, args.level, reason=args.reason)
    return Result(done, f"{done['model_version']}: impact level {done['level']} recorded (audit event #{done['audit_seq']})")


def _attest(ctx: Context, args: argparse.Namespace) -> Result:
    import json

    found = ctx.workspace().compliance.attestation(args.spec)
    return Result(found, json.dumps(found, indent=2, sort_keys=True))
