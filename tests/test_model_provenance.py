"""``load_model`` loads only what the signed audit chain recorded, never what a rewritten row says.

The insider replaces a cloudpickle model file with a malicious pickle and rewrites the mutable
``model_versions`` row (manifest and its hash) to match; then also the ``model.log`` event,
re-chained. Neither loads, and the payload never runs.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.audit.chain import event_hash
from jupyter_mlops.core.hashing import sha256_json
from jupyter_mlops.errors import AuditChainBroken, IntegrityError, PermissionDenied


class _Payload:
    """Unpickling this writes a file: the proof that a pickle ran code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (Path(self.marker), "pwned"))  # type: ignore[return-value]


def _db(ws: mlops.Workspace) -> sqlite3.Connection:
    ws.db.dispose()
    return sqlite3.connect(ws.settings.home / "mlops.db")


@pytest.fixture
def pickled(tmp_path: Path) -> tuple[mlops.Workspace, Path]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    ws = mlops.init(tmp_path / "project", user="alice")
    with open(ws.settings.home / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("\n[models]\nallow_pickle = true\n")
    ws = mlops.Workspace.open(ws.settings.root, user="alice")
    X, y = load_iris(return_X_y=True)
    mv = ws.models.log_model(LogisticRegression(max_iter=300).fit(X, y), "iris", X_example=X, serialization="cloudpickle")
    assert ws.models.load_model("iris@1").predict(X[:2]).tolist() == [0, 0]
    marker = tmp_path / "pwned.txt"
    pkl = Path(unquote(urlsplit(mv.artifact_uri).path)) / "model.pkl"
    pkl.write_bytes(pickle.dumps(_Payload(str(marker))))
    import hashlib

    manifest = dict(mv.manifest)
    manifest["model.pkl"] = {"sha256": hashlib.sha256(pkl.read_bytes()).hexdigest(), "size": pkl.stat().st_size}
    with _db(ws) as con:  # the mutable row now agrees with the replaced file
        con.execute(
            "UPDATE model_versions SET manifest = ?, manifest_sha256 = ? WHERE name = 'iris'",
            (json.dumps(manifest, sort_keys=True), sha256_json(manifest)),
        )
    return ws, marker


def test_a_replaced_pickle_with_a_rewritten_row_is_refused(pickled: tuple[mlops.Workspace, Path]) -> None:
    ws, marker = pickled
    with pytest.raises(IntegrityError, match=r"differs from its audited model.log event #\d+ \(file model.pkl\)"):
        ws.models.load_model("iris@1")
    assert not marker.exists()


def test_rewriting_the_model_log_event_too_is_refused(pickled: tuple[mlops.Workspace, Path]) -> None:
    ws, marker = pickled
    mv = ws.models.get("iris@1")
    with _db(ws) as con:
        seq, ts, actor, payload, prev = con.execute(
            "SELECT seq, ts, actor, payload, prev_hash FROM audit_events WHERE action = 'model.log'"
        ).fetchone()
        data = json.loads(payload)
        data["files"] = {k: v["sha256"] for k, v in mv.manifest.items()}
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        digest = event_hash(seq, ts, actor, "model.log", "model_version", "iris@1", text, prev)
        con.execute("UPDATE audit_events SET payload = ?, hash = ? WHERE seq = ?", (text, digest, seq))
    with pytest.raises(AuditChainBroken, match="disagrees with the signed checkpoint"):
        ws.models.load_model("iris@1")
    assert not marker.exists()
    assert not ws.verify_audit().ok


def test_pickle_formats_are_refused_unless_allowed(pickled: tuple[mlops.Workspace, Path]) -> None:
    ws, marker = pickled
    config = ws.settings.home / "config.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("allow_pickle = true", "allow_pickle = false"))
    ws = mlops.Workspace.open(ws.settings.root, user="alice")
    with _db(ws) as con:  # put the row back as logged, so only the pickle rule speaks
        payload = json.loads(con.execute("SELECT payload FROM audit_events WHERE action = 'model.log'").fetchone()[0])
        row = json.loads(con.execute("SELECT manifest FROM model_versions").fetchone()[0])
        row["model.pkl"]["sha256"] = payload["files"]["model.pkl"]
        con.execute(
            "UPDATE model_versions SET manifest = ?, manifest_sha256 = ?", (json.dumps(row, sort_keys=True), sha256_json(row))
        )
    with pytest.raises(PermissionDenied, match="allow_pickle = true"):
        ws.models.load_model("iris@1")
    assert not marker.exists()
