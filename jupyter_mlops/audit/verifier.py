"""Verify a jupyter-mlops audit export offline: needs only Python 3.10+ and ``cryptography``.

Usage: ``python verify_audit.py EXPORT_DIR [--key FILE]`` (exit 0 intact, 7 broken). The key file
holds the workspace's trusted Ed25519 verifier key (C2SP signed-note ``name+hash+base64`` form);
get it from the workspace's owner by another channel and pass it with ``--key``, or the export's
own ``public.vkey`` is used. Checkpoints are C2SP tlog-checkpoint notes whose tree size is the
number of events and whose root hash is the hash of the last of them (a hash chain, not a Merkle
tree). The package (``jupyter_mlops.audit``) uses this very file for every checkpoint check.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
SIG_PREFIX = "\u2014 "  # an em dash and a space start every signature line of a signed note
#: Actions that are checkpointed in the same transaction: each needs a checkpoint at its own seq.
CHECKPOINTED_ACTIONS = frozenset(
    {"workspace.init", "model.log", "model.approve", "model.promote", "pipeline.end", "audit.key_rotated", "audit.export"}
)
#: What :func:`check_events` returns: events checked, the last good hash, the first bad seq, the problem.
Checked = tuple[int, str, int | None, str | None]


def event_hash(e: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of an event's fields (its payload as stored text)."""
    keys = ("seq", "ts", "actor", "action", "object_type", "object_id", "payload", "prev_hash")
    text = json.dumps({k: e[k] for k in keys}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def key_hash(name: str, raw_public: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 note key (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n\x01" + raw_public).digest()[:4]


def vkey(name: str, raw_public: bytes) -> str:
    """A verifier key in the note format: ``name+hash+base64(0x01 || key)``."""
    b64 = base64.b64encode(b"\x01" + raw_public).decode()
    return f"{name}+{key_hash(name, raw_public).hex()}+{b64}"


def parse_vkey(text: str) -> tuple[str, bytes, bytes]:
    """``(name, 4-byte id, raw public key)`` of a verifier key; ``ValueError`` when malformed."""
    name, id_hex, b64 = text.strip().split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if raw[:1] != b"\x01" or len(raw) != 33 or key_hash(name, raw[1:]).hex() != id_hex:
        raise ValueError(f"not an Ed25519 note verifier key: {text.strip()[:60]}")
    return name, bytes.fromhex(id_hex), raw[1:]


def parse_notes(text: str) -> list[tuple[str, list[tuple[str, bytes, bytes]], str]]:
    """Split concatenated signed notes into ``(body, [(key name, id, signature)], the note's text)``."""
    notes = []
    lines, i = text.splitlines(keepends=True), 0
    while i < len(lines):
        start = i
        while i < len(lines) and lines[i] != "\n":
            i += 1
        body, sigs = "".join(lines[start:i]), []
        i += 1
        while i < len(lines) and lines[i].startswith(SIG_PREFIX):
            name, _, b64 = lines[i][len(SIG_PREFIX) :].rstrip("\n").rpartition(" ")
            blob = base64.b64decode(b64)
            sigs.append((name, blob[:4], blob[4:]))
            i += 1
        if body:
            notes.append((body, sigs, "".join(lines[start:i])))
    return notes


def check_notes(text: str, trusted: list[str], origin: str | None = None) -> tuple[dict[int, str], str | None]:
    """Verify every checkpoint note; ``({tree size: head hash}, first problem or None)``.

    Each signature must be valid and by a trusted key. A checkpoint with a ``key VKEY`` line,
    signed by a trusted key, announces a new key; the old key then signs nothing larger.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys: dict[tuple[str, bytes], tuple[bytes, int | None]] = {(n, i): (raw, None) for n, i, raw in map(parse_vkey, trusted)}
    sizes: dict[int, str] = {}
    parsed = []
    for body, sigs, _ in parse_notes(text):
        head = body.split("\n")
        if len(head) < 4 or not head[1].isdigit():
            return sizes, f"a checkpoint is malformed: {body[:60]!r}"
        parsed.append((int(head[1]), body, sigs, head))
    for size, body, sigs, head in sorted(parsed, key=lambda p: p[0]):
        if origin is not None and head[0] != origin:
            return sizes, f"checkpoint at tree size {size} is for another log ({head[0]})"
        if not sigs:
            return sizes, f"checkpoint at tree size {size} is not signed"
        for name, kid, sig in sigs:
            entry = keys.get((name, kid))
            if entry is None or (entry[1] is not None and size > entry[1]):
                what = "an unknown" if entry is None else "a retired"
                return sizes, f"checkpoint at tree size {size} is signed by {what} key ({name}+{kid.hex()})"
            try:
                Ed25519PublicKey.from_public_bytes(entry[0]).verify(sig, body.encode())
            except InvalidSignature:
                return sizes, f"checkpoint at tree size {size} has a bad signature ({name}+{kid.hex()})"
        for line in head[3:]:
            if line.startswith("key "):
                new = parse_vkey(line[4:])
                for k, (raw, _) in list(keys.items()):
                    keys[k] = (raw, size)
                keys[(new[0], new[1])] = (new[2], None)
        digest = base64.b64decode(head[2]).hex()
        if sizes.get(size, digest) != digest:
            return sizes, f"two signed checkpoints disagree at tree size {size}"
        sizes[size] = digest
    return sizes, None


def check_events(events: Iterable[dict[str, Any]], checkpoints: dict[int, str], *, covered: bool) -> Checked:
    """Recompute the chain and compare it with the checkpoints: ``(events checked, last hash, bad seq, problem)``.

    ``covered``: the newest checkpoint must cover every event (an export signs its own head).
    """
    prev, n = GENESIS, 0
    # Checkpointed actions need their own checkpoint from the moment checkpoints existed: from event
    # #1 in a workspace whose init event committed to a signing key, else (a workspace made before
    # checkpoints, upgraded) from its first checkpoint on.
    since: int | None = min(checkpoints, default=None)
    for n, e in enumerate(events, start=1):
        if n == 1 and commits_to_key(e):
            since = 1
        if e["seq"] != n:
            what = f"event #{n} is missing (next is #{e['seq']})" if e["seq"] > n else f"event #{e['seq']} is out of order"
            return n - 1, prev, n, what
        if e["prev_hash"] != prev:
            return n - 1, prev, n, f"event #{n} does not follow event #{n - 1} (reordered or replaced)"
        if event_hash(e) != e["hash"]:
            return n - 1, prev, n, f"event #{n} was modified after it was written"
        if n in checkpoints and checkpoints[n] != e["hash"]:
            return n - 1, prev, n, f"event #{n} disagrees with the signed checkpoint at tree size {n} (the chain was rewritten)"
        if e["action"] in CHECKPOINTED_ACTIONS and n not in checkpoints and since is not None and n >= since:
            return n - 1, prev, n, f"event #{n} ({e['action']}) has no signed checkpoint of its own (forged or inserted)"
        prev = e["hash"]
    biggest = max(checkpoints, default=0)
    if biggest > n:
        return n, prev, n + 1, f"the chain has {n} events but a signed checkpoint covers {biggest} (events were deleted)"
    if covered and biggest < n:
        return n, prev, biggest + 1, f"events after #{biggest} are covered by no signed checkpoint"
    return n, prev, None, None


def commits_to_key(event: dict[str, Any]) -> bool:
    """Whether ``event`` (the chain's ``workspace.init``) commits to a signing key: made with checkpoints on."""
    payload = event.get("payload")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return False
    return isinstance(payload, dict) and bool(payload.get("audit_key"))


def verify_export(folder: str | Path, key_file: str | Path | None = None) -> dict[str, Any]:
    """Check an export folder; a dict with ``ok``, ``checked``, ``checkpoints``, ``reason``."""
    root = Path(folder)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    for name, digest in manifest["files"].items():
        path = root / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return {"ok": False, "checked": 0, "checkpoints": 0, "reason": f"{name} does not match the export manifest"}
    trusted = Path(key_file or root / "public.vkey").read_text(encoding="utf-8").split()
    notes = (root / "checkpoints.log").read_text(encoding="utf-8")
    sizes, problem = check_notes(notes, trusted, manifest.get("origin"))
    if problem:
        return {"ok": False, "checked": 0, "checkpoints": len(sizes), "reason": problem}
    with open(root / "events.jsonl", encoding="utf-8") as fh:
        events = [json.loads(line) for line in fh if line.strip()]
    checked, _, _, problem = check_events(events, sizes, covered=True)
    return {"ok": problem is None, "checked": checked, "checkpoints": len(sizes), "reason": problem}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a jupyter-mlops audit export offline.")
    parser.add_argument("folder", help="the export folder")
    parser.add_argument("--key", help="the trusted verifier key file (default: the export's public.vkey)")
    args = parser.parse_args(argv)
    try:
        result = verify_export(args.folder, args.key)
    except (OSError, ValueError, KeyError) as exc:
        result = {"ok": False, "checked": 0, "checkpoints": 0, "reason": f"unreadable export: {exc}"}
    if result["ok"]:
        print(f"audit export intact: {result['checked']} events, {result['checkpoints']} signed checkpoints")
        return 0
    print(f"audit export BROKEN: {result['reason']}")
    return 7


if __name__ == "__main__":
    sys.exit(main())
