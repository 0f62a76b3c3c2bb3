"""Export the audit trail for an outside auditor, and verify an export with no workspace present.

``jupyter-mlops audit export --out DIR`` records an ``audit.export`` event (signed with its own
checkpoint, so the export's newest checkpoint covers every event in it) and writes:

- ``events.jsonl``: every event as stored (its payload as canonical JSON text), in order;
- ``checkpoints.log``: every signed checkpoint the workspace holds (C2SP signed notes);
- ``public.vkey``: the trusted verifier key (give the auditor its fingerprint by another channel);
- ``verify_audit.py``: the standalone verifier (:mod:`jupyter_mlops.audit.verifier`, needs only
  Python and ``cryptography``);
- ``README.md`` for the auditor, and ``manifest.json`` with the SHA-256 of each file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.entities import AuditVerification, Entity
from ..core.paths import check_not_internal
from ..errors import Conflict, UnsafePath
from . import checkpoints, verifier
from .chain import event_rows

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["AuditExport", "export", "verify_export"]

README = """# Audit export of jupyter-mlops workspace {workspace_id}

Exported {exported_at} by {actor}: {events} events, {checkpoints} signed checkpoints.

To check it you need Python 3.10 or later and the `cryptography` package, nothing else:

    python -m venv venv && venv/bin/pip install cryptography
    venv/bin/python verify_audit.py . --key TRUSTED.vkey

Exit status 0 means intact; 7 means broken, and the line printed names the first problem.
Get the trusted key from the workspace's owner by a channel other than this folder and compare
it with `public.vkey` (its fingerprint is the part between the two `+`: `{fingerprint}`).
Without `--key` the copy in this folder is trusted, which proves consistency, not origin.

What is checked: every event's hash and its link to the one before (a modified, deleted,
inserted or reordered event is found); every checkpoint's Ed25519 signature (C2SP signed-note /
tlog-checkpoint format: origin, tree size = number of events, base64 hash of the last event);
that the chain is as long as every checkpoint and agrees with each (truncation, re-chaining);
that each approval, promotion, model logging and pipeline end has its own checkpoint; and that
the files match `manifest.json`.

Files: `events.jsonl` (one event per line: seq, ts, actor, action, object_type, object_id,
payload as canonical JSON text, prev_hash, hash), `checkpoints.log`, `public.vkey`,
`verify_audit.py`, `manifest.json`.
"""


@dataclass(frozen=True)
class AuditExport(Entity):
    """What :func:`export` wrote."""

    folder: str
    events: int
    checkpoints: int
    files: dict[str, str]


def export(ctx: Context, out: str | Path) -> AuditExport:
    """Write the audit export into the new or empty folder ``out`` (auditors and admins only)."""
    ctx.authorize("audit.export", "audit")
    folder = check_not_internal(out)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise Conflict(f"{out} exists and is not an empty folder", value=str(out), hint="export into a new folder")
    with ctx.transaction() as conn:
        event = ctx.record(conn, "audit.export", "audit", ctx.settings.workspace_id, {"folder": folder.name})
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnsafePath(f"cannot create {out}: {exc.strerror}", value=str(out)) from exc
    with ctx.read() as conn:
        notes = _unique_notes(checkpoints.gather_notes(conn, ctx.settings))
        count = 0
        with open(folder / "events.jsonl", "w", encoding="utf-8") as fh:
            for row in event_rows(conn):
                if row["seq"] > event.seq:
                    break
                fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
    trusted = checkpoints.trusted_keys(ctx.settings)
    (folder / "checkpoints.log").write_text("".join(notes), encoding="utf-8")
    (folder / "public.vkey").write_text("\n".join(trusted) + "\n", encoding="utf-8")
    (folder / "verify_audit.py").write_text(Path(verifier.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    values = {
        "workspace_id": ctx.settings.workspace_id,
        "exported_at": event.ts,
        "actor": ctx.actor,
        "events": count,
        "checkpoints": len(notes),
        "fingerprint": trusted[0].split("+")[1],
    }
    (folder / "README.md").write_text(README.format(**values), encoding="utf-8")
    names = ("events.jsonl", "checkpoints.log", "public.vkey", "verify_audit.py", "README.md")
    files = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}
    manifest: dict[str, Any] = {"origin": checkpoints.origin(ctx.settings), **values, "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return AuditExport(str(folder), count, len(notes), files)


def _unique_notes(text: str) -> list[str]:
    """Each checkpoint once (the database, the log and the witness hold copies), by tree size."""
    seen: dict[str, int] = {}
    for body, _, raw in verifier.parse_notes(text):
        seen.setdefault(raw, int(body.split("\n")[1]))
    return sorted(seen, key=lambda raw: seen[raw])


def verify_export(folder: str | Path, key_file: str | Path | None = None) -> AuditVerification:
    """Check an export anywhere, with no workspace (what the shipped ``verify_audit.py`` does)."""
    try:
        result = verifier.verify_export(folder, key_file)
    except (OSError, ValueError, KeyError) as exc:
        return AuditVerification(False, 0, None, f"unreadable export {Path(folder).name}: {exc}")
    return AuditVerification(result["ok"], result["checked"], None, result["reason"], result["checked"] or None)
