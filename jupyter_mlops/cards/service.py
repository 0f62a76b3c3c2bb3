"""Building, editing, storing and reading model cards: :class:`CardService` (``ws.cards``).

Every card version is one row of ``model_cards``, its rendered JSON in the object store and a
lineage edge ``card -describes-> model_version``, written with its audit event (``card.build``
or ``card.edit``, with the sha256 before and after) in one transaction. Input is checked before
anything is written, so a bad section name or an unknown version leaves the cards, the object
store and the audit chain as they were.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.entities import Entity, escape
from ..core.paths import parse_version_spec
from ..errors import IntegrityError, InvalidInput, NotFound
from .assemble import assemble_card
from .card import WRITTEN_SECTIONS, CardSection, ModelCard
from .gather import Sources, gather_facts
from .schema import model_cards
from .spec import check_text, normalize_section_key

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..core.context import Context
    from ..data.service import DataService
    from ..evaluation.service import EvaluationService
    from ..quality.service import QualityService
    from ..registry.entities import ModelVersion
    from ..registry.service import ModelRegistry

__all__ = ["CardHistory", "CardService", "CardVersion"]

#: Registry methods that return the record of one model version, tried in order.


@dataclasses.dataclass(frozen=True)
class CardVersion(Entity):
    """One entry of a card's history."""

    card_version: int
    sha256: str
    author: str
    ts: str
    action: str
    section: str | None = None
    audit_seq: int | None = None


@dataclasses.dataclass(frozen=True)
class CardHistory(Entity):
    """Every version of the card of one model version, oldest first."""

    model: str
    versions: tuple[CardVersion, ...]

    def __len__(self) -> int:
        return len(self.versions)

    def __str__(self) -> str:
        lines = [f"card history of {self.model}"]
        lines += [
            f"  v{v.card_version}  {v.ts[:19]}  {v.author}  {v.action}{' ' + v.section if v.section else ''}  {v.sha256[:12]}"
            for v in self.versions
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{v.card_version}</td><td>{escape(v.ts[:19])}</td><td>{escape(v.author)}</td>"
            f"<td>{escape(v.action)}</td><td>{escape(v.section or '')}</td><td><code>{escape(v.sha256[:12])}</code></td></tr>"
            for v in self.versions
        )
        return (
            f"<div><b>Card history of {escape(self.model)}</b><table><tr><th>version</th><th>time (UTC)</th>"
            f"<th>author</th><th>action</th><th>section</th><th>sha256</th></tr>{rows}</table></div>"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class CardService:
    """Model cards of the registered model versions of one workspace."""

    def __init__(
        self,
        ctx: Context,
        *,
        data: DataService,
        quality: QualityService,
        evaluation: EvaluationService,
        models: ModelRegistry,
    ) -> None:
        self.ctx = ctx
        self.sources = Sources(ctx, data=data, quality=quality, evaluation=evaluation, models=models)
        self.models = models

    # -- resolving a model version ----------------------------------------------------------
    def _record(self, spec: str) -> tuple[str, int, ModelVersion]:
        """``(name, version, registry record)`` of ``spec``; refuses unknown versions and aliases."""
        parsed = parse_version_spec(spec, kind="model version")
        if parsed.fingerprint is not None:
            raise InvalidInput(
                f"a model card is addressed by version or alias, not by hash: {spec!r}",
                value=spec,
                hint="write NAME@NUMBER or NAME@ALIAS, e.g. 'arrests-clf@3' or 'arrests-clf@champion'",
                field="spec",
            )
        version = self.models.get(str(parsed))
        return version.name, version.version, version

    # -- reading ----------------------------------------------------------------------------
    def _rows(self, conn: Connection, name: str, version: int) -> list[Any]:
        q = (
            sa.select(model_cards)
            .where(model_cards.c.model_name == name, model_cards.c.model_version == version)
            .order_by(model_cards.c.card_version)
        )
        return list(conn.execute(q).all())

    def _latest_row(self, conn: Connection, name: str, version: int) -> Any:
        q = (
            sa.select(model_cards)
            .where(model_cards.c.model_name == name, model_cards.c.model_version == version)
            .order_by(model_cards.c.card_version.desc())
            .limit(1)
        )
        return conn.execute(q).first()

    @staticmethod
    def _card(row: Any) -> ModelCard:
        sections = tuple(CardSection.from_dict(s) for s in json.loads(row.sections))
        card = ModelCard(row.model_name, row.model_version, sections, row.card_version, row.author, row.ts)
        if card.sha256 != row.sha256:
            raise IntegrityError(
                f"card version {row.card_version} of {row.model_name}@{row.model_version} does not match its recorded sha256",
                value=row.sha256,
                hint="the model_cards table was changed outside jupyter-mlops; restore it from a backup",
            )
        return card

    def latest_for(self, spec: str) -> ModelCard | None:
        """The current card of ``spec`` (``"name@3"``, ``"name@champion"``), or ``None`` if none was built."""
        name, version, _ = self._record(spec)
        with self.ctx.read() as conn:
            row = self._latest_row(conn, name, version)
        return None if row is None else self._card(row)

    def get_card(self, spec: str, version: int | None = None) -> ModelCard:
        """Card version ``version`` (default: the latest) of ``spec``; :class:`NotFound` if absent."""
        name, model_version, _ = self._record(spec)
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            raise InvalidInput(f"card version must be a positive integer, got {version!r}", value=repr(version), field="version")
        with self.ctx.read() as conn:
            rows = self._rows(conn, name, model_version)
        if not rows:
            ref = f"{name}@{model_version}"
            raise NotFound(
                f"{ref} has no model card yet",
                value=spec,
                hint=f"build one with mlops.build_card('{ref}') or `jupyter-mlops card build {ref}`",
            )
        if version is None:
            return self._card(rows[-1])
        for row in rows:
            if row.card_version == version:
                return self._card(row)
        raise NotFound(
            f"{name}@{model_version} has no card version {version}",
            value=version,
            hint=f"it has card versions 1 to {rows[-1].card_version}",
        )

    def history(self, spec: str) -> CardHistory:
        """Every version of the card of ``spec``, oldest first (empty if none was built)."""
        name, version, _ = self._record(spec)
        with self.ctx.read() as conn:
            rows = self._rows(conn, name, version)
        return CardHistory(
            f"{name}@{version}",
            tuple(CardVersion(r.card_version, r.sha256, r.author, r.ts, r.action, r.section, r.audit_seq) for r in rows),
        )

    # -- writing ----------------------------------------------------------------------------
    def _store(self, conn: Connection, card: ModelCard, *, action: str, section: str | None, before: str | None) -> ModelCard:
        """Write ``card`` as the next card version with its object, audit event and lineage edge."""
        ctx = self.ctx
        latest = self._latest_row(conn, card.model_name, card.model_version)
        number = 1 if latest is None else latest.card_version + 1
        card = dataclasses.replace(card, card_version=number, author=ctx.actor, ts=_now())
        stored = ctx.objects.put_bytes(card.to_json().encode("utf-8"))
        payload: dict[str, Any] = {
            "model": card.spec,
            "card_version": number,
            "object_id": stored.object_id,
            "sha256_before": before,
            "sha256_after": card.sha256,
        }
        if section is not None:
            payload["section"] = section
        event = ctx.record(conn, f"card.{action}", "card", card.card_id, payload)
        conn.execute(
            sa.insert(model_cards).values(
                model_name=card.model_name,
                model_version=card.model_version,
                card_version=number,
                sections=json.dumps([s.to_dict() for s in card.sections], sort_keys=True, ensure_ascii=False),
                sha256=card.sha256,
                object_id=stored.object_id,
                author=ctx.actor,
                ts=card.ts,
                action=action,
                section=section,
                audit_seq=event.seq,
            )
        )
        ctx.link(conn, ("card", card.card_id), "describes", ("model_version", card.spec), {"object_id": stored.object_id})
        if latest is not None:
            ctx.link(conn, ("card", card.card_id), "revises", ("card", f"{card.spec}/card-{latest.card_version}"))
        return card

    def build_card(self, spec: str) -> ModelCard:
        """Build the card of ``spec`` from what the workspace recorded, keeping the written sections.

        A new card version is stored (audited as ``card.build``) only when the card would say
        something different from the current one; otherwise the current card is returned as is.
        """
        name, version, record = self._record(spec)
        facts = gather_facts(self.sources, record)
        with self.ctx.transaction() as conn:
            latest = self._latest_row(conn, name, version)
            current = None if latest is None else self._card(latest)
            card = assemble_card(facts, current.written() if current else None)
            if current is not None and current.sha256 == card.sha256:
                return current
            return self._store(conn, card, action="build", section=None, before=current.sha256 if current else None)

    def edit_card(self, spec: str, section: str, text: str) -> ModelCard:
        """Rewrite the human-written ``section`` of the card of ``spec``; stores a new card version.

        Only written sections can be edited (:data:`~jupyter_mlops.cards.card.WRITTEN_SECTIONS`);
        recorded sections change only when what they record changes (rebuild the card).
        """
        key = _editable_key(section)
        body = check_text(text)
        name, version, _ = self._record(spec)
        with self.ctx.transaction() as conn:
            latest = self._latest_row(conn, name, version)
            if latest is None:
                raise NotFound(
                    f"{name}@{version} has no model card to edit",
                    value=spec,
                    hint=f"build it first: mlops.build_card('{name}@{version}') or `jupyter-mlops card build {name}@{version}`",
                )
            current = self._card(latest)
            if current.section(key).text == body:
                return current
            return self._store(conn, current.with_text(key, body), action="edit", section=key, before=current.sha256)


def _editable_key(section: object) -> str:
    from .card import SECTIONS

    key = normalize_section_key(section, allowed=[s.key for s in SECTIONS], listed=WRITTEN_SECTIONS)
    if key not in WRITTEN_SECTIONS:
        raise InvalidInput(
            f"section {key!r} is built from recorded facts and cannot be edited",
            value=key,
            field="section",
            hint=f"edit one of {', '.join(WRITTEN_SECTIONS)}; rebuild the card to refresh recorded sections",
        )
    return key
