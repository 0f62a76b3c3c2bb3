"""Signed checkpoints of the audit chain, in the C2SP signed-note / tlog-checkpoint text format.

A checkpoint is three lines (the log's origin, the tree size = the number of events, the base64
hash of the last event) and a ``time`` extension line, signed with the workspace's Ed25519 key
(``.mlops/keys/audit_ed25519.pem``) as a signed note, so transparency-log tooling can read it.
Checkpoints are written inside the transaction of the event they cover, every ``[audit]
checkpoint_every`` events (default 100) and for every action in
:data:`~jupyter_mlops.audit.verifier.CHECKPOINTED_ACTIONS` (an approval, a promotion, the end of a
pipeline run ...); and on demand (``jupyter-mlops audit checkpoint``). Each is kept in the
database and, once its transaction committed, appended to ``.mlops/audit/checkpoints.log`` and to
the ``[audit] witness`` folder when one is set (another disk or share). Verification reads all
three, so an insider must rewrite every copy, and sign with the key, to hide a change.

The key that signs is trusted through ``.mlops/keys/audit.vkeys`` (the key made at ``init``, also
recorded in the ``workspace.init`` event). :func:`rotate_key` announces a new key in a checkpoint
signed with the old one; from then on the old key may sign nothing newer.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import IntegrityError
from . import verifier
from .chain import audit_checkpoints, audit_head

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy.engine import Connection

    from ..core.context import Context, SettingsView
    from ..core.entities import AuditEvent

__all__ = [
    "KEY_FILE",
    "TRUST_FILE",
    "Signer",
    "checkpoint_now",
    "create_key",
    "gather_notes",
    "live_checkpoints",
    "on_event",
    "publish",
    "rotate_key",
    "take",
]

log = logging.getLogger("jupyter_mlops.audit")

KEY_FILE = "audit_ed25519.pem"
TRUST_FILE = "audit.vkeys"
_PENDING = "mlops_checkpoints_to_publish"


@dataclass(frozen=True)
class Signer:
    """The workspace's signing key and its note name (the log's origin)."""

    name: str
    key: Ed25519PrivateKey

    @property
    def raw_public(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def vkey(self) -> str:
        """The verifier key in the note format (``name+hash+base64``)."""
        return verifier.vkey(self.name, self.raw_public)

    def sign(self, body: str) -> str:
        """``body`` as a signed note."""
        blob = verifier.key_hash(self.name, self.raw_public) + self.key.sign(body.encode("utf-8"))
        return f"{body}\n{verifier.SIG_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def origin(settings: SettingsView) -> str:
    """The checkpoint origin (and key name) of a workspace: ``jupyter-mlops/<workspace id>``."""
    return f"jupyter-mlops/{settings.workspace_id or 'workspace'}"


def audit_settings(settings: SettingsView) -> Mapping[str, Any]:
    """The ``[audit]`` table of config.toml."""
    value = settings.extra.get("audit", {})
    return value if isinstance(value, dict) else {}


def create_key(keys: Path, name: str) -> Signer:
    """Make the signing key (0600) and trust it in ``audit.vkeys``; at ``init``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signer = Signer(name, Ed25519PrivateKey.generate())
    _write_key(keys / KEY_FILE, signer.key, exclusive=True)
    (keys / TRUST_FILE).write_text(signer.vkey + "\n", encoding="utf-8")
    return signer


def _write_key(path: Path, key: Ed25519PrivateKey, *, exclusive: bool) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path.with_suffix(".pub").write_bytes(pub)


_signers: dict[str, tuple[int, Signer]] = {}


def load_signer(settings: SettingsView) -> Signer:
    """The current signing key (cached while the key file is unchanged)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = settings.home / "keys" / KEY_FILE
    try:
        mtime = path.stat().st_mtime_ns
        cached = _signers.get(str(path))
        if cached is not None and cached[0] == mtime:
            return cached[1]
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise IntegrityError(
            f"cannot read the audit signing key {path.name}: {exc}",
            value=str(path.name),
            hint="audit checkpoints need the workspace's key in .mlops/keys/ (readable by this user)",
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise IntegrityError(f"{path.name} is not an Ed25519 key", value=path.name)
    signer = Signer(origin(settings), key)
    _signers[str(path)] = (mtime, signer)
    return signer


def trusted_keys(settings: SettingsView, conn: Connection | None = None) -> list[str]:
    """The verifier keys trusted as roots.

    ``keys/audit.vkeys`` when this checkout has it; else the public key beside the signing key
    (workspaces made before checkpoints); else, in a checkout without ``keys/`` (a teammate's
    clone of a team workspace, or an evidence copy), the key the chain's own ``workspace.init``
    event committed to (trust on first use, read from ``conn``); else none.
    """
    path = settings.home / "keys" / TRUST_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").split()
    pub_file = (path.parent / KEY_FILE).with_suffix(".pub")
    if pub_file.is_file():
        from cryptography.hazmat.primitives import serialization

        pub = serialization.load_pem_public_key(pub_file.read_bytes())
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return [verifier.vkey(origin(settings), raw)]
    if conn is None:
        return []
    from .chain import audit_events

    first = conn.execute(sa.select(audit_events.c.payload).where(audit_events.c.seq == 1)).scalar()
    try:
        key = json.loads(first).get("audit_key") if first else None
    except (TypeError, ValueError, AttributeError):
        key = None
    return [str(key)] if key else []


def _write(conn: Connection, settings: SettingsView, seq: int, head: str, extensions: tuple[str, ...] = ()) -> str | None:
    """Sign and store the checkpoint at ``seq`` (once); queue it for the files after commit."""
    if conn.execute(sa.select(audit_checkpoints.c.seq).where(audit_checkpoints.c.seq == seq)).first() is not None:
        return None
    signer = load_signer(settings)
    ts = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    lines = [origin(settings), str(seq), base64.b64encode(bytes.fromhex(head)).decode(), f"time {ts}", *extensions]
    note = signer.sign("\n".join(lines) + "\n")
    signature = note.rsplit(" ", 1)[1].strip()
    key_id = "+".join(signer.vkey.split("+", 2)[:2])
    conn.execute(sa.insert(audit_checkpoints).values(seq=seq, hash=head, ts=ts, key_id=key_id, signature=signature, note=note))
    conn.info.setdefault(_PENDING, []).append(note)
    return note


def on_event(conn: Connection, settings: SettingsView, event: AuditEvent) -> None:
    """Checkpoint inside the event's transaction when its action or its position asks for one."""
    every = int(audit_settings(settings).get("checkpoint_every", 100) or 0)
    extensions: tuple[str, ...] = ()
    if event.action == "audit.key_rotated":
        extensions = (f"key {event.payload['new_key']}",)
    if event.action in verifier.CHECKPOINTED_ACTIONS or (every > 0 and event.seq % every == 0):
        _write(conn, settings, event.seq, event.hash, extensions)


def take(conn: Connection) -> list[str]:
    """The checkpoints signed in ``conn``'s transaction so far (and forget them)."""
    return list(conn.info.pop(_PENDING, ()))


def publish(notes: list[str], settings: SettingsView) -> None:
    """Append the checkpoints a committed transaction signed to the log file and the witness folder.

    A copy that cannot be written is logged, not raised: the checkpoint is in the database.
    """
    if not notes:
        return
    for path in _log_files(settings):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("".join(notes))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            log.warning("jupyter-mlops: could not append the audit checkpoint to %s: %s", path, exc)


def _log_files(settings: SettingsView) -> list[Path]:
    files = [settings.home / "audit" / "checkpoints.log"]
    witness = audit_settings(settings).get("witness")
    if witness:
        folder = Path(str(witness)).expanduser()
        folder = folder if folder.is_absolute() else settings.root / folder
        files.append(folder / f"checkpoints-{settings.workspace_id or 'workspace'}.log")
    return files


def gather_notes(conn: Connection, settings: SettingsView) -> str:
    """Every checkpoint this workspace can see: the database's, the log file's, the witness's."""
    parts = [row.note for row in conn.execute(sa.select(audit_checkpoints.c.note).order_by(audit_checkpoints.c.seq)) if row.note]
    for path in _log_files(settings):
        if path.is_file():
            parts.append(path.read_text(encoding="utf-8"))
    return "".join(parts)


def live_checkpoints(conn: Connection, settings: SettingsView) -> tuple[dict[int, str], str | None]:
    """``({tree size: head hash}, first problem)`` of every checkpoint seen, signatures checked."""
    return verifier.check_notes(gather_notes(conn, settings), trusted_keys(settings, conn), origin(settings))


def checkpoint_now(ctx: Context) -> str | None:
    """Sign a checkpoint of the current head (``jupyter-mlops audit checkpoint``); the note, or ``None`` when empty."""
    ctx.authorize("audit.checkpoint", "audit")
    with ctx.transaction() as conn:
        head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
        if head is None:
            return None
        existing = conn.execute(sa.select(audit_checkpoints.c.note).where(audit_checkpoints.c.seq == head.seq)).scalar()
        return _write(conn, ctx.settings, head.seq, head.hash) or existing


def rotate_key(ctx: Context) -> str:
    """Replace the signing key; the new key is announced by a checkpoint signed with the old one.

    The new key is written beside the old first and takes its place only after the announcement
    committed, so a crash leaves the old key in force and nothing unverifiable.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    old = load_signer(ctx.settings)
    new = Signer(old.name, Ed25519PrivateKey.generate())
    keys = ctx.settings.home / "keys"
    staged = keys / (KEY_FILE + ".next")
    staged.unlink(missing_ok=True)
    _write_key(staged, new.key, exclusive=True)
    with ctx.transaction() as conn:
        ctx.record(conn, "audit.key_rotated", "audit_key", new.vkey.split("+")[1], {"old_key": old.vkey, "new_key": new.vkey})
    os.replace(staged, keys / KEY_FILE)
    os.replace(staged.with_suffix(".pub"), keys / (KEY_FILE.removesuffix(".pem") + ".pub"))
    return new.vkey
