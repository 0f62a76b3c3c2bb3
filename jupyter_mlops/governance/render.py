"""A compliance report as Markdown or as one self-contained HTML page that prints well."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.entities import escape

if TYPE_CHECKING:
    from .compliance import ComplianceReport, RuleResult

__all__ = ["html", "markdown"]


def _evidence(rule: RuleResult) -> str:
    parts = []
    for e in rule.evidence:
        extra = ", ".join(f"{k} {v}" for k, v in e.items() if k not in ("type", "id") and v not in (None, ""))
        parts.append(f"{e['type']} {e['id']}" + (f" ({extra})" if extra else ""))
    return "; ".join(parts) or "none recorded"


def markdown(report: ComplianceReport) -> str:
    """The report as Markdown (a table of rules, then the references)."""
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [
        f"# Compliance report: {report.model_version} against {report.policy}",
        "",
        f"**{verdict}** ({len(report.rules) - len(report.failed)} of {len(report.rules)} rules), "
        f"checked by {report.actor} at {report.ts[:19]} UTC, audit event #{report.audit_seq}, "
        f"policy sha256 `{report.policy_sha256[:16]}`.",
        "",
        "| rule | result | expected | found | evidence | references |",
        "|---|---|---|---|---|---|",
    ]
    for r in report.rules:
        cells = [f"`{r.rule}`", "pass" if r.passed else "**FAIL**", r.expected, r.actual, _evidence(r), "; ".join(r.references)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


_CSS = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1f2328}table{border-collapse:collapse;width:100%}"
    "th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}"
    ".pass{color:#1a7f37}.fail{color:#cf222e;font-weight:bold}small{color:#57606a}"
    "@media print{body{margin:0}tr{break-inside:avoid}th{background:none}}"
)


def html(report: ComplianceReport) -> str:
    """The report as one HTML page (inline CSS, no scripts, no external resources)."""
    rows = "".join(
        f"<tr><td><code>{escape(r.rule)}</code></td><td class='{'pass' if r.passed else 'fail'}'>"
        f"{'pass' if r.passed else 'FAIL'}</td><td>{escape(r.expected)}</td><td>{escape(r.actual)}</td>"
        f"<td>{escape(_evidence(r))}</td><td><small>{escape('; '.join(r.references))}</small></td></tr>"
        for r in report.rules
    )
    verdict = "<span class='pass'>PASSED</span>" if report.passed else "<span class='fail'>FAILED</span>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Compliance report {escape(report.model_version)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Compliance report: {escape(report.model_version)}</h1>"
        f"<p>{verdict} against policy <b>{escape(report.policy)}</b> "
        f"<small>(sha256 {escape(report.policy_sha256[:16])}&hellip;)</small>, checked by {escape(report.actor)} "
        f"at {escape(report.ts[:19])} UTC, audit event #{report.audit_seq}.</p>"
        "<table><tr><th>rule</th><th>result</th><th>expected</th><th>found</th><th>evidence</th><th>references</th></tr>"
        f"{rows}</table></body></html>"
    )
