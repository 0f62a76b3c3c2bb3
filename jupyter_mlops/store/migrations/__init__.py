"""Migrations of the metadata schema, managed by Alembic (``jupyter-mlops db upgrade | status``).

Alembic records the database's revision in a table of its own, ``alembic_version_mlops``: MLflow
keeps ``alembic_version`` for its tracking store and ``alembic_version_auth`` for its basic-auth
app, so all three can live in one PostgreSQL database without touching each other's history.

Revisions are in ``versions/`` (``rev_<id>_<what>.py``), each a plain Alembic revision:

- ``0001`` is the schema of the last release before Alembic (a2d5358), frozen as DDL;
- ``0002`` adds the tables team mode needs (the tracking id map and the migration ledger).

A database that an earlier release made has no Alembic table but a ``schema_versions`` table (one
row per capability, versions counted by the old per-component steps). It is *adopted*: those steps
bring it to the baseline's versions, the baseline is stamped without any DDL (its tables exist),
and the later revisions run as for any database. Rows are never rewritten, so counts, hashes and
the audit chain are exactly what they were. ``SchemaComponent`` steps a capability adds beyond the
baseline's versions still run after Alembic's (a bridge for changes written before this module);
new schema changes are Alembic revisions.

Downgrades are refused: a revision's ``downgrade`` raises, and asking :func:`upgrade` for an older
revision than the database has is a :class:`~jupyter_mlops.errors.Conflict`. Dropping a table of
an audited workspace would lose records the chain vouches for; restore a backup instead. A
database at a revision this release does not know (written by a newer one) is refused with
:class:`~jupyter_mlops.errors.SchemaTooNew`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import Conflict, SchemaTooNew

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

__all__ = [
    "BASELINE",
    "VERSION_TABLE",
    "SchemaStatus",
    "current_revision",
    "describe",
    "head_revision",
    "refuse_downgrade",
    "stamp",
    "status",
    "upgrade",
]

VERSION_TABLE = "alembic_version_mlops"
BASELINE = "0001"
_FOLDER = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class SchemaStatus:
    """Where a metadata database stands.

    Attributes
    ----------
    current:
        Its Alembic revision (``None``: empty, or made before Alembic).
    head:
        The newest revision this release knows.
    pending:
        Revisions an upgrade would apply, oldest first.
    legacy:
        Made by a release before Alembic (``schema_versions`` only): an upgrade adopts it.
    empty:
        No table at all: the first open (or ``init``) creates the schema.
    """

    current: str | None
    head: str
    pending: tuple[str, ...]
    legacy: bool
    empty: bool

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.legacy

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "pending": list(self.pending), "up_to_date": self.up_to_date}


@functools.cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(_FOLDER), version_locations=[str(_FOLDER / "versions")])


def _config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_FOLDER))
    cfg.set_main_option("version_locations", str(_FOLDER / "versions"))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    """The newest revision this release knows."""
    head = _script().get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    """The database's revision (``None`` when Alembic has not stamped it)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def status(conn: Connection, *, where: str = "the metadata database") -> SchemaStatus:
    """The database's revision, the pending revisions and whether it predates Alembic.

    Raises
    ------
    SchemaTooNew
        The database is at a revision this release does not know.
    """
    import sqlalchemy as sa

    tables = set(sa.inspect(conn).get_table_names())
    current = current_revision(conn) if VERSION_TABLE in tables else None
    legacy = current is None and "schema_versions" in tables
    head = head_revision()
    if current is not None:
        _known(current, where)
    start = BASELINE if legacy else (current or "base")
    pending = [] if start == head else [r.revision for r in _script().iterate_revisions(head, start)]
    if legacy:
        pending.append(BASELINE)  # stamped, not run: listed so `db status` says what adoption does
    return SchemaStatus(current, head, tuple(reversed(pending)), legacy, empty=not tables)


def _known(revision: str, where: str) -> None:
    from alembic.util import CommandError

    try:
        found = _script().get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise SchemaTooNew(
            f"{where} is at schema revision {revision}, which this jupyter-mlops does not know "
            f"(it knows up to {head_revision()}): a newer release wrote it",
            value=revision,
            hint="upgrade jupyter-mlops (pip install -U jupyter-mlops) to open this workspace",
        )


def upgrade(conn: Connection, *, target: str = "head", where: str = "the metadata database") -> SchemaStatus:
    """Apply the pending revisions up to ``target`` inside ``conn``'s transaction; refuse to go back."""
    from alembic import command

    before = status(conn, where=where)
    if target != "head":
        _known(target, where)
        if before.current is not None and target != before.current and _is_ancestor(target, before.current):
            raise Conflict(
                f"refusing to downgrade {where} from revision {before.current} to {target}: "
                "downgrades would drop tables the audit chain vouches for",
                value=target,
                hint="restore a backup made before the upgrade instead; `jupyter-mlops db status` shows the revision",
            )
    if before.legacy:
        stamp(conn, BASELINE)
    command.upgrade(_config(conn), target)
    return status(conn, where=where)


def _is_ancestor(older: str, newer: str) -> bool:
    return any(r.revision == older for r in _script().iterate_revisions(newer, "base"))


def stamp(conn: Connection, revision: str) -> None:
    """Record ``revision`` without running it (adopting a database made before Alembic)."""
    from alembic import command

    command.stamp(_config(conn), revision)


def describe(revision: str) -> str:
    """The first line of a revision's docstring."""
    script = _script().get_revision(revision)
    doc = (script.doc if script is not None else "") or ""
    return doc.strip().splitlines()[0] if doc.strip() else revision


def refuse_downgrade(revision: str) -> None:
    """What every revision's ``downgrade`` does."""
    raise Conflict(
        f"revision {revision} of the metadata schema cannot be downgraded: that would drop audited records",
        value=revision,
        hint="restore a backup made before the upgrade instead",
    )


def utc_now() -> str:
    """The time stamp written into ``schema_versions`` rows."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
