"""Model card commands: ``card build SPEC``, ``card show SPEC [--format html|md|json]``,
``card edit SPEC --section S --text T`` and ``card history SPEC``.

Shared by ``jupyter-mlops card ...`` and ``%mlops card ...``; each command only parses, calls
:class:`~jupyter_mlops.cards.service.CardService` and returns a :class:`Result`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..core.entities import escape
from .commands import Context, Result

if TYPE_CHECKING:
    from ..cards.card import ModelCard

__all__ = ["RenderedCard", "register"]

_FORMATS = ("html", "md", "json")


class RenderedCard:
    """A card rendered in one format: HTML in notebooks, the text itself in terminals."""

    def __init__(self, card: ModelCard, fmt: str) -> None:
        self.card = card
        self.format = fmt
        if fmt == "html":
            self.text = card.to_html(full_document=True)
        elif fmt == "json":
            self.text = card.to_json()
        else:
            self.text = card.to_markdown()

    def _repr_html_(self) -> str:
        if self.format == "html":
            return self.card.to_html()
        return f"<pre style='white-space:pre-wrap'>{escape(self.text)}</pre>"

    def to_dict(self) -> dict[str, Any]:
        return self.card.to_dict()

    def __str__(self) -> str:
        return self.text


def register(subs: Any) -> None:
    verbs = subs.add_parser("card", help="model cards built from recorded lineage").add_subparsers(
        dest="verb", metavar="VERB", required=True
    )
    p = verbs.add_parser("build", help="build (or refresh) the card of a model version from what was recorded")
    p.add_argument("spec", help="model version: NAME@NUMBER or NAME@ALIAS, e.g. arrests-clf@3")
    p.set_defaults(func=_build)

    p = verbs.add_parser("show", help="show a card as HTML, Markdown or JSON")
    p.add_argument("spec", help="model version: NAME@NUMBER or NAME@ALIAS, e.g. arrests-clf@champion")
    p.add_argument("--format", choices=_FORMATS, help="html, md or json (default: html in notebooks, md in a terminal)")
    p.add_argument("--version", type=int, help="card version (default: the latest)")
    p.set_defaults(func=_show)

    p = verbs.add_parser("edit", help="rewrite a human-written section (a new, audited card version)")
    p.add_argument("spec", help="model version: NAME@NUMBER or NAME@ALIAS")
    p.add_argument("--section", required=True, help="e.g. intended_use, out_of_scope_uses, ethical_considerations")
    p.add_argument("--text", required=True, help="what the section says (shown as text, never as HTML)")
    p.set_defaults(func=_edit)

    p = verbs.add_parser("export", help="export a card's record for another standard (atrs: the UK ATRS, tiers 1 and 2)")
    p.add_argument("spec", help="model version: NAME@NUMBER or NAME@ALIAS")
    p.add_argument("--format", choices=["atrs"], default="atrs")
    p.set_defaults(func=_export)

    p = verbs.add_parser("history", help="every version of a card: who changed what, when")
    p.add_argument("spec", help="model version: NAME@NUMBER or NAME@ALIAS")
    p.set_defaults(func=_history)


def _summary(card: ModelCard, verb: str) -> str:
    unknown = [s.key for s in card.sections if not s.known]
    return (
        f"{verb} card version {card.card_version} of {card.spec} (sha256 {card.sha256[:12]})\n"
        f"  unknown sections: {', '.join(unknown) if unknown else 'none'}\n"
        f"  show it: jupyter-mlops card show {card.spec} --format md"
    )


def _build(ctx: Context, args: argparse.Namespace) -> Result:
    card = ctx.workspace().cards.build_card(args.spec)
    return Result(card, _summary(card, "built"))


def _show(ctx: Context, args: argparse.Namespace) -> Result:
    fmt = args.format or ("html" if ctx.interactive else "md")
    card = ctx.workspace().cards.get_card(args.spec, args.version)
    rendered = RenderedCard(card, fmt)
    return Result(rendered, rendered.text)


def _edit(ctx: Context, args: argparse.Namespace) -> Result:
    card = ctx.workspace().cards.edit_card(args.spec, args.section, args.text)
    return Result(card, _summary(card, "wrote"))


def _history(ctx: Context, args: argparse.Namespace) -> Result:
    history = ctx.workspace().cards.history(args.spec)
    return Result(history, str(history))


def _export(ctx: Context, args: argparse.Namespace) -> Result:
    import json

    from ..governance.atrs import atrs_record

    record = atrs_record(ctx.workspace().compliance, args.spec)
    return Result(record, json.dumps(record, indent=2, sort_keys=True, default=str))
