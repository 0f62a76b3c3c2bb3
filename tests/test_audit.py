"""The audit hash chain: appends, verification, and detection of real tampering of the SQLite file."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main


def _events(ws: mlops.Workspace, n: int) -> None:
    for i in range(n):
        with ws.transaction() as conn:
            ws.record(conn, "test.event", "thing", str(i), {"i": i, "text": "ünïcode"})


def _db(ws: mlops.Workspace) -> sqlite3.Connection:
    ws.db.dispose()
    return sqlite3.connect(ws.settings.home / "mlops.db")


def test_chain_links_every_event(ws: mlops.Workspace) -> None:
    _events(ws, 5)
    events = ws.audit_events(newest_first=False)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    for before, after in zip(events, events[1:]):
        assert after.prev_hash == before.hash
    result = ws.verify_audit()
    assert result.ok and result.checked == 6 and result.head_seq == 6


def test_modified_event_is_found(ws: mlops.Workspace) -> None:
    _events(ws, 5)
    with _db(ws) as con:
        con.execute("UPDATE audit_events SET payload = ? WHERE seq = 4", (json.dumps({"i": 999}),))
    result = ws.verify_audit()
    assert not result.ok and result.first_bad_seq == 4
    assert "modified" in (result.reason or "")


def test_modified_actor_is_found_even_with_a_recomputed_hash_elsewhere(ws: mlops.Workspace) -> None:
    _events(ws, 3)
    with _db(ws) as con:
        con.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    assert ws.verify_audit().first_bad_seq == 2


def test_deleted_event_is_found(ws: mlops.Workspace) -> None:
    _events(ws, 5)
    with _db(ws) as con:
        con.execute("DELETE FROM audit_events WHERE seq = 3")
    result = ws.verify_audit()
    assert not result.ok and result.first_bad_seq == 3
    assert "missing" in (result.reason or "")


def test_deleted_tail_is_found(ws: mlops.Workspace) -> None:
    _events(ws, 5)
    with _db(ws) as con:
        con.execute("DELETE FROM audit_events WHERE seq >= 5")
    result = ws.verify_audit()
    assert not result.ok and result.first_bad_seq == 5
    assert "deleted" in (result.reason or "")


def test_reordered_events_are_found(ws: mlops.Workspace) -> None:
    _events(ws, 5)
    with _db(ws) as con:
        rows = {r[0]: r for r in con.execute("SELECT * FROM audit_events WHERE seq IN (3, 4)")}
        con.execute("DELETE FROM audit_events WHERE seq IN (3, 4)")
        # swap the two events' contents, keeping their sequence numbers in place
        for seq, src in ((3, rows[4]), (4, rows[3])):
            con.execute("INSERT INTO audit_events VALUES (?,?,?,?,?,?,?,?,?)", (seq, *src[1:]))
    result = ws.verify_audit()
    assert not result.ok and result.first_bad_seq == 3


def test_cli_verify_exit_codes(ws: mlops.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(ws.settings.root)
    assert main(["-C", root, "audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    _events(ws, 2)
    with _db(ws) as con:
        con.execute("UPDATE audit_events SET action = 'x' WHERE seq = 2")
    assert main(["-C", root, "audit", "verify"]) == 7
    assert "BROKEN at event #2" in capsys.readouterr().out
    assert main(["-C", root, "--json", "audit", "log", "--limit", "2"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["seq"] for e in listed] == [3, 2]


_WRITER = """
import sys
import jupyter_mlops as mlops
ws = mlops.Workspace.open(sys.argv[1], user=sys.argv[2])
for i in range(int(sys.argv[3])):
    with ws.transaction() as conn:
        ws.record(conn, "test.concurrent", "thing", f"{sys.argv[2]}-{i}")
"""


def test_concurrent_writers_never_lose_or_fork_the_chain(ws: mlops.Workspace, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), str(ws.settings.root), f"w{i}", "40"]) for i in range(4)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    result = ws.verify_audit()
    assert result.ok, result.reason
    assert result.checked == 1 + 4 * 40
    assert len(ws.audit_events(action="test.concurrent", limit=1000)) == 160


def test_failed_transaction_writes_neither_data_nor_event(ws: mlops.Workspace) -> None:
    before = ws.verify_audit().checked
    with pytest.raises(RuntimeError):
        with ws.transaction() as conn:
            ws.record(conn, "test.lost", "thing", "1")
            raise RuntimeError("boom")
    assert ws.verify_audit().checked == before
    assert ws.audit_events(action="test.lost") == []


def test_payload_that_is_not_json_is_refused_cleanly(ws: mlops.Workspace) -> None:
    with pytest.raises(mlops.InvalidInput, match="not JSON-serializable"):
        with ws.transaction() as conn:
            ws.record(conn, "test.bad", "thing", "1", {"x": object()})
    assert ws.verify_audit().ok
