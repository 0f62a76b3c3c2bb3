"""Rendering a model card as self-contained HTML, escaped Markdown and JSON.

Every value that reaches a rendering may be user text (a section someone wrote, a model or
column name, a parameter value), so every value goes through one escaping function per format:
:func:`~jupyter_mlops.core.entities.escape` for HTML and :func:`md_escape` for Markdown (which
HTML-escapes and backslash-escapes Markdown syntax, so neither raw HTML nor a
``[link](javascript:...)`` survives). The HTML has its style inline and loads nothing: it shows
the same offline, in a notebook, in a reviewer's browser or in an archived report. A full
document also carries a Content-Security-Policy that forbids scripts as a second line of defence.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import TYPE_CHECKING, Any

from ..core.entities import escape
from .spec import UNKNOWN

if TYPE_CHECKING:
    from .card import CardSection, ModelCard, Table

__all__ = ["fmt", "md_escape", "render_html", "render_json", "render_markdown"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~>])")
_MD_LINE_START = re.compile(r"^(\s*)([-=+]|\d+(?=[.)]))", re.MULTILINE)

_STYLE = "".join(
    (
        ".mlops-card{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.45;",
        "color:#1f2328;max-width:1100px}",
        ".mlops-card h2{font-size:18px;margin:4px 0 2px}",
        ".mlops-card h3{font-size:15px;margin:14px 0 4px;border-bottom:1px solid #d0d7de}",
        ".mlops-card .meta{color:#57606a;font-size:12px}",
        ".mlops-card .annex{color:#57606a;font-size:11px;font-weight:normal;margin-left:6px}",
        ".mlops-card table{border-collapse:collapse;margin:4px 0 8px}",
        ".mlops-card th,.mlops-card td{border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:top}",
        ".mlops-card th{background:#f6f8fa}.mlops-card .unknown{color:#9a6700;font-style:italic}",
        ".mlops-card .written{white-space:pre-wrap;margin:4px 0}.mlops-card .origin{font-size:11px;color:#57606a}",
        ".mlops-card code{font-size:12px;word-break:break-all}",
    )
)


def fmt(value: Any) -> str:
    """A value as display text: floats to 4 significant digits, booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def md_escape(value: Any, *, table: bool = False) -> str:
    """Markdown-safe text: HTML-escaped, Markdown syntax backslash-escaped, one line in tables."""
    text = html.escape(fmt(value), quote=False)  # quotes are harmless outside attributes
    text = _MD_SPECIAL.sub(r"\\\1", text)
    if table:
        return " ".join(text.splitlines())
    return _MD_LINE_START.sub(_escape_line_start, text)


def _escape_line_start(m: re.Match[str]) -> str:
    """``- x`` / ``+ x`` / ``= x`` / ``1. x`` at a line start would become a list or heading."""
    indent, mark = m.group(1), m.group(2)
    return indent + (mark + "\\" if mark[0].isdigit() else "\\" + mark)


def _h(value: Any) -> str:
    text = fmt(value)
    if text == UNKNOWN:
        return f"<span class='unknown'>{UNKNOWN}</span>"
    return escape(text)


def _annex_label(section: CardSection) -> str:
    return "EU AI Act Annex IV: " + ", ".join(section.annex_iv)


# -- HTML ---------------------------------------------------------------------------------------
def _html_table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in table.rows)
    return f"<div><b>{escape(table.title)}</b><table><tr>{head}</tr>{body}</table></div>"


def _html_section(section: CardSection) -> str:
    origin = "written by people" if section.origin == "written" else "built from recorded facts"
    parts = [
        f"<h3 id='{escape(section.key)}'>{escape(section.title)}<span class='annex'>{escape(_annex_label(section))}</span></h3>",
        f"<div class='origin'>{escape(origin)}</div>",
    ]
    if section.origin == "written":
        parts.append(f"<div class='written'>{_h(section.text)}</div>")
    elif not section.known:
        parts.append(f"<p>{_h(UNKNOWN)}</p>")
    if section.facts:
        rows = "".join(f"<tr><th>{escape(k)}</th><td>{_h(v)}</td></tr>" for k, v in section.facts)
        parts.append(f"<table>{rows}</table>")
    parts.extend(_html_table(t) for t in section.tables)
    return "<section>" + "".join(parts) + "</section>"


def _html_annex(card: ModelCard) -> str:
    rows = "".join(
        f"<tr><td>{escape(r['point'])}</td><td>{escape(r['title'])}</td><td>{escape(', '.join(r['sections']))}</td>"
        f"<td>{_h(r['status'])}</td></tr>"
        for r in card.annex_iv()
    )
    return (
        "<section><h3 id='annex-iv'>EU AI Act Annex IV mapping</h3>"
        "<table><tr><th>point</th><th>technical documentation</th><th>card sections</th><th>status</th></tr>"
        f"{rows}</table></section>"
    )


def render_html(card: ModelCard, *, full_document: bool = False) -> str:
    """The card as HTML: a ``<div>`` for notebooks, or a complete document with a strict CSP."""
    body = (
        f"<div class='mlops-card'><style>{_STYLE}</style>"
        f"<h2>Model card: {escape(card.spec)}</h2>"
        f"<div class='meta'>card version {escape(card.card_version)} &middot; by {escape(card.author)} &middot; "
        f"{escape(card.ts)} &middot; sha256 <code>{escape(card.sha256)}</code></div>"
        + "".join(_html_section(s) for s in card.sections)
        + _html_annex(card)
        + "</div>"
    )
    if not full_document:
        return body
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>Model card {escape(card.spec)}</title></head><body>{body}</body></html>"
    )


# -- Markdown -----------------------------------------------------------------------------------
def _md_table(columns: tuple[str, ...] | list[str], rows: Any) -> list[str]:
    lines = ["| " + " | ".join(md_escape(c, table=True) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(md_escape(c, table=True) for c in row) + " |" for row in rows]
    return lines


def render_markdown(card: ModelCard) -> str:
    """The card as Markdown; user text cannot inject HTML, links or structure."""
    out = [
        f"# Model card: {md_escape(card.spec)}",
        "",
        f"card version {md_escape(card.card_version)} · by {md_escape(card.author)} · {md_escape(card.ts)} · "
        f"sha256 {md_escape(card.sha256)}",
    ]
    for s in card.sections:
        out += [
            "",
            f"## {md_escape(s.title)}",
            "",
            f"*{md_escape(_annex_label(s))}; {'written by people' if s.origin == 'written' else 'built from recorded facts'}*",
            "",
        ]
        if s.origin == "written":
            out += [md_escape(line) for line in s.text.splitlines()] or [UNKNOWN]
        elif not s.known:
            out.append(UNKNOWN)
        if s.facts:
            out += ["", *_md_table(("fact", "value"), s.facts)]
        for t in s.tables:
            out += ["", f"**{md_escape(t.title)}**", "", *_md_table(t.columns, t.rows)]
    out += ["", "## EU AI Act Annex IV mapping", ""]
    out += _md_table(
        ("point", "technical documentation", "card sections", "status"),
        [(r["point"], r["title"], ", ".join(r["sections"]), r["status"]) for r in card.annex_iv()],
    )
    return "\n".join(out) + "\n"


# -- JSON ---------------------------------------------------------------------------------------
def render_json(card: ModelCard) -> str:
    """Indented, key-sorted JSON of the card (the form stored with the model version)."""
    return json.dumps(card.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, default=fmt) + "\n"
