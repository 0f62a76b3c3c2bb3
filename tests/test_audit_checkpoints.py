"""Signed checkpoints against what an insider with write access to ``.mlops/`` would do.

Each attack edits the real SQLite file and the real log files, as the insider would, and
``audit verify`` (API and CLI) must fail naming the first problem; the same attacks on an export
are caught by the shipped standalone verifier.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.audit import checkpoints, verifier
from jupyter_mlops.audit.chain import event_hash
from jupyter_mlops.audit.export import export, verify_export
from jupyter_mlops.cli.main import main


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workspace with 12 events and checkpoints at 1 (init), 5 and 10, copied by each test."""
    base = tmp_path_factory.mktemp("template")
    ws = mlops.init(base / "project", user="alice")
    with open(ws.settings.home / "config.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[audit]\ncheckpoint_every = 5\nwitness = "../witness"\n')
    ws = mlops.Workspace.open(ws.settings.root, user="alice")
    witness = base / "witness" / f"checkpoints-{ws.settings.workspace_id}.log"
    witness.parent.mkdir()
    shutil.copy(ws.settings.home / "audit" / "checkpoints.log", witness)  # as if the witness was set from the start
    for i in range(11):
        with ws.transaction() as conn:
            ws.record(conn, "test.event", "thing", str(i), {"i": i})
            ws.link(conn, ("thing", str(i)), "made", ("thing", f"{i}b"))  # a record besides the event
    ws.db.dispose()
    return base


def _workspace(tmp_path: Path, template: Path) -> mlops.Workspace:
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    return mlops.Workspace.open(tmp_path / "project", user="alice")


def _db(ws: mlops.Workspace) -> sqlite3.Connection:
    ws.db.dispose()
    return sqlite3.connect(ws.settings.home / "mlops.db")


def _rechain(con: sqlite3.Connection, start: int) -> None:
    """What a careful insider does after an edit: recompute every hash from ``start`` on, and the head."""
    rows = con.execute("SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq", (start,)).fetchall()
    prev = con.execute("SELECT hash FROM audit_events WHERE seq = ?", (start - 1,)).fetchone()[0]
    for seq, ts, actor, action, otype, oid, payload, _, _ in rows:
        digest = event_hash(seq, ts, actor, action, otype, oid, payload, prev)
        con.execute("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
        prev = digest
    last = con.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
    con.execute("UPDATE audit_head SET seq = ?, hash = ?", (last, prev))


def _fails(ws: mlops.Workspace, *needles: str) -> str:
    result = ws.verify_audit()
    assert not result.ok, "tampering was not detected"
    for needle in needles:
        assert needle in (result.reason or ""), result.reason
    assert main(["-C", str(ws.settings.root), "audit", "verify"]) == 7
    return result.reason or ""


def test_checkpoints_are_signed_notes_in_db_log_and_witness(tmp_path: Path, template: Path) -> None:
    ws = _workspace(tmp_path, template)
    result = ws.verify_audit()
    assert result.ok and result.checked == 12, result.reason
    log = (ws.settings.home / "audit" / "checkpoints.log").read_text(encoding="utf-8")
    witness = (tmp_path / "witness" / f"checkpoints-{ws.settings.workspace_id}.log").read_text(encoding="utf-8")
    assert log == witness
    notes = verifier.parse_notes(log)
    assert [int(body.split("\n")[1]) for body, _, _ in notes] == [1, 5, 10]
    body, sigs, _ = notes[1]
    lines = body.split("\n")
    assert lines[0] == f"jupyter-mlops/{ws.settings.workspace_id}" and lines[3].startswith("time ")
    fifth = ws.audit_events(newest_first=False)[4]
    assert base64.b64decode(lines[2]).hex() == fifth.hash
    assert len(sigs) == 1 and sigs[0][0] == lines[0] and len(sigs[0][2]) == 64  # one Ed25519 signature
    with _db(ws) as con:
        assert [r[0] for r in con.execute("SELECT seq FROM audit_checkpoints ORDER BY seq")] == [1, 5, 10]


def test_wiping_the_log_is_detected(tmp_path: Path, template: Path) -> None:
    ws = _workspace(tmp_path, template)
    with _db(ws) as con:
        con.execute("DELETE FROM audit_events")
        con.execute("DELETE FROM audit_head")
    _fails(ws, "the chain has 0 events but a signed checkpoint covers 10")


def test_wiping_the_log_and_every_checkpoint_is_detected_by_the_records(tmp_path: Path, template: Path) -> None:
    ws = _workspace(tmp_path, template)
    with _db(ws) as con:
        con.execute("DELETE FROM audit_events")
        con.execute("DELETE FROM audit_head")
        con.execute("DELETE FROM audit_checkpoints")
    (ws.settings.home / "audit" / "checkpoints.log").unlink()
    (ws.settings.root.parent / "witness").rename(ws.settings.root.parent / "elsewhere")  # no witness
    _fails(ws, "the audit log is empty but the workspace holds records (lineage_edges)")


def test_tail_truncation_with_the_head_rewritten_is_detected(tmp_path: Path, template: Path) -> None:
    ws = _workspace(tmp_path, template)
    with _db(ws) as con:
        con.execute("DELETE FROM audit_events WHERE seq > 7")
        con.execute("DELETE FROM audit_checkpoints WHERE seq > 7")
        con.execute("UPDATE audit_head SET seq = 7, hash = (SELECT hash FROM audit_events WHERE seq = 7)")
    _fails(ws, "the chain has 7 events but a signed checkpoint covers 10")


def test_rechaining_after_an_edit_is_detected(tmp_path: Path, template: Path) -> None:
    ws = _workspace(tmp_path, template)
    with _db(ws) as con:
        con.execute("UPDATE audit_events SET payload = ? WHERE seq = 3", (json.dumps({"i": 999}),))
        _rechain(con, 3)
        con.execute("DELETE FROM audit_checkpoints")  # the database's copies go too
    _fails(ws, "event #5 disagrees with the signed checkpoint at tree size 5")


def test_rechaining_and_deleting_every_copy_but_the_witness_is_detected(tmp_path: Path, template: Path) -> None:
    ws = _workspace(tmp_path, template)
    with _db(ws) as con:
        con.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 8")
        _rechain(con, 8)
        con.execute("DELETE FROM audit_checkpoints")
    (ws.settings.home / "audit" / "checkpoints.log").unlink()
    _fails(ws, "event #10 disagrees with the signed checkpoint at tree size 10")


def test_a_correctly_chained_forged_approval_is_detected(tmp_path: Path, template: Path) -> None:
    ws = _workspace(tmp_path, template)
    with _db(ws) as con:
        seq, prev = con.execute("SELECT seq, hash FROM audit_head").fetchone()
        ts, payload = "2026-01-01T00:00:00.000000+00:00", json.dumps({"comment": "lgtm"})
        digest = event_hash(seq + 1, ts, "bob", "model.approve", "model_version", "m@1", payload, prev)
        con.execute(
            "INSERT INTO audit_events VALUES (?,?,?,?,?,?,?,?,?)",
            (seq + 1, ts, "bob", "model.approve", "model_version", "m@1", payload, prev, digest),
        )
        con.execute("UPDATE audit_head SET seq = ?, hash = ?", (seq + 1, digest))
    _fails(ws, "event #13 (model.approve) has no signed checkpoint of its own")


def _forge_note(ws: mlops.Workspace, size: int, head: str) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    mallory = checkpoints.Signer(checkpoints.origin(ws.settings), Ed25519PrivateKey.generate())
    body = f"{checkpoints.origin(ws.settings)}\n{size}\n{base64.b64encode(bytes.fromhex(head)).decode()}\ntime 2026\n"
    return mallory.sign(body)


def test_a_checkpoint_from_an_unknown_key_or_with_a_bad_signature_is_refused(tmp_path: Path, template: Path) -> None:
    ws = _workspace(tmp_path, template)
    log = ws.settings.home / "audit" / "checkpoints.log"
    good = log.read_text(encoding="utf-8")
    head = ws.verify_audit().head_hash or ""
    log.write_text(good + _forge_note(ws, 12, head), encoding="utf-8")
    _fails(ws, "checkpoint at tree size 12 is signed by an unknown key")
    body, sigs, raw = verifier.parse_notes(good)[1]
    blob = bytearray(base64.b64decode(raw.rstrip("\n").rsplit(" ", 1)[1]))
    blob[10] ^= 1
    bad = raw.rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(blob)).decode() + "\n"
    log.write_text(good.replace(raw, bad), encoding="utf-8")
    _fails(ws, "checkpoint at tree size 5 has a bad signature")


def test_key_rotation_is_announced_by_the_old_key_and_retires_it(tmp_path: Path, template: Path) -> None:
    ws = _workspace(tmp_path, template)
    old = checkpoints.load_signer(ws.settings)
    new_vkey = mlops_rotate(ws)
    assert new_vkey != old.vkey and checkpoints.load_signer(ws.settings).vkey == new_vkey
    checkpoints.checkpoint_now(ws)
    with ws.transaction() as conn:
        ws.record(conn, "test.after", "thing", "x")
    assert checkpoints.checkpoint_now(ws) is not None
    result = ws.verify_audit()
    assert result.ok, result.reason
    rotation = [b for b, _, _ in verifier.parse_notes(checkpoints.gather_notes(ws.db.engine.connect(), ws.settings))]
    assert any(line == f"key {new_vkey}" for b in rotation for line in b.split("\n"))
    # the old key can no longer vouch for anything newer than the rotation
    head = result.head_hash or ""
    note = old.sign(f"{checkpoints.origin(ws.settings)}\n{result.checked}\n{base64.b64encode(bytes.fromhex(head)).decode()}\n")
    log = ws.settings.home / "audit" / "checkpoints.log"
    log.write_text(log.read_text(encoding="utf-8") + note, encoding="utf-8")
    _fails(ws, "is signed by a retired key")


def mlops_rotate(ws: mlops.Workspace) -> str:
    assert main(["-C", str(ws.settings.root), "--user", "alice", "audit", "rotate-key"]) == 0
    return checkpoints.load_signer(ws.settings).vkey


# -- exports ---------------------------------------------------------------------------------


@pytest.fixture
def exported(tmp_path: Path, template: Path) -> Path:
    ws = _workspace(tmp_path / "ws", template)
    out = tmp_path / "export"
    done = export(ws, out)
    assert done.events == 13 and sorted(done.files) == [
        "README.md",
        "checkpoints.log",
        "events.jsonl",
        "public.vkey",
        "verify_audit.py",
    ]
    shutil.rmtree(tmp_path / "ws")  # nothing of the workspace is needed from here on
    return out


def _rewrite(folder: Path, edit: object) -> None:
    """Apply ``edit`` to the events and refresh the manifest, as an insider would."""
    import hashlib

    lines = [json.loads(line) for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    lines = edit(lines)  # type: ignore[operator]
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["events.jsonl"] = hashlib.sha256((folder / "events.jsonl").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _rechain_list(events: list[dict[str, object]], start: int = 1) -> list[dict[str, object]]:
    prev = str(events[start - 2]["hash"]) if start > 1 else verifier.GENESIS
    for n, e in enumerate(events[start - 1 :], start=start):
        e["seq"], e["prev_hash"] = n, prev
        e["hash"] = prev = verifier.event_hash(e)
    return events


def _modify(ev: list[dict[str, object]]) -> list[dict[str, object]]:
    ev[3]["actor"] = "mallory"
    return ev


def _rechain_edit(ev: list[dict[str, object]]) -> list[dict[str, object]]:
    ev[2]["payload"] = '{"i":999}'
    return _rechain_list(ev, 3)


def _forged_approval(ev: list[dict[str, object]]) -> list[dict[str, object]]:
    fake = dict(ev[-2], action="model.approve", actor="bob")
    return _rechain_list([*ev, fake], len(ev) + 1)


EXPORT_ATTACKS = {
    "modification": (_modify, "event #4 was modified"),
    "deletion": (lambda ev: ev[:5] + ev[6:], "event #6 is missing"),
    "insertion": (lambda ev: ev[:5] + [dict(ev[5], seq=6)] + ev[5:], "event #6 is out of order"),
    "reordering": (lambda ev: [ev[0], ev[2], ev[1], *ev[3:]], "event #2 is missing"),
    "truncation": (lambda ev: ev[:11], "the chain has 11 events but a signed checkpoint covers 13"),
    "re-chaining": (_rechain_edit, "event #5 disagrees with the signed checkpoint"),
    "forged approval": (_forged_approval, "(model.approve) has no signed checkpoint of its own"),
}


def test_an_intact_export_verifies_with_no_workspace(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = verify_export(exported)
    assert result.ok and result.checked == 13, result.reason
    assert main(["audit", "verify", str(exported)]) == 0
    assert "intact: 13 events" in capsys.readouterr().out
    readme = (exported / "README.md").read_text(encoding="utf-8")
    assert "13 events" in readme and "verify_audit.py" in readme


@pytest.mark.parametrize("attack", sorted(EXPORT_ATTACKS))
def test_every_tampering_of_an_export_is_detected(exported: Path, attack: str) -> None:
    edit, needle = EXPORT_ATTACKS[attack]
    _rewrite(exported, edit)
    result = verify_export(exported)
    assert not result.ok and needle in (result.reason or ""), result.reason
    assert main(["audit", "verify", str(exported)]) == 7


def test_an_edited_file_without_a_new_manifest_and_a_foreign_trusted_key_are_detected(exported: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.vkey"
    other.write_text(verifier.vkey(json.loads((exported / "manifest.json").read_text())["origin"], bytes(32)) + "\n")
    assert "signed by an unknown key" in (verify_export(exported, other).reason or "")
    with open(exported / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write("\n")
    assert "events.jsonl does not match the export manifest" in (verify_export(exported).reason or "")


def test_the_shipped_verifier_runs_in_a_venv_with_only_cryptography(exported: Path, tmp_path: Path) -> None:
    """A fresh venv holding ``cryptography`` (and what it depends on: cffi, pycparser) and nothing else.

    The distributions' files are copied from this environment (``importlib.metadata``), which is
    what ``pip install cryptography`` would put there, without needing a package index.
    """
    from importlib import metadata

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    for name in ("cryptography", "cffi", "pycparser"):
        dist = metadata.distribution(name)
        for file in dist.files or ():
            src = Path(str(dist.locate_file(file)))
            if src.is_file() and ".." not in file.parts:
                (site / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, site / file)
    python = venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import jupyter_mlops"], cwd=tmp_path, capture_output=True, text=True)
    assert probe.returncode != 0  # the package is not there
    run = subprocess.run([str(python), "verify_audit.py", "."], cwd=exported, capture_output=True, text=True)
    assert run.returncode == 0 and "intact: 13 events, 4 signed checkpoints" in run.stdout, run.stdout + run.stderr
    assert len((exported / "verify_audit.py").read_text(encoding="utf-8").splitlines()) < 220
    _rewrite(exported, EXPORT_ATTACKS["re-chaining"][0])
    run = subprocess.run([str(python), "verify_audit.py", "."], cwd=exported, capture_output=True, text=True)
    assert run.returncode == 7 and "disagrees with the signed checkpoint" in run.stdout
