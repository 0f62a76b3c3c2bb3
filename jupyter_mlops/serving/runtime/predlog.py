"""The prediction log: one JSON line per prediction, shadow call and label, written in batches.

A request never waits for a disk write: the handler puts a record on a queue and a background
thread appends what has gathered every ``flush_ms`` milliseconds (or every ``batch_rows``
records), then flushes and fsyncs the file. Files are append-only and named
``predictions-<UTC start>-<pid>.jsonl``; a new one starts at ``max_bytes``.

Each prediction record holds the request id, variant, role, model version, HTTP status, latency,
the SHA-256 of the canonical JSON of the input rows, and (unless ``log_inputs`` is off) the
input rows with every sensitive column replaced by ``"***"``: sensitive values are never stored.
Request ids start with the millisecond time in hex, so they sort by time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "MASK",
    "LogTail",
    "PredictionLog",
    "find_request",
    "input_sha256",
    "iter_records",
    "mask_rows",
    "new_request_id",
]

MASK = "***"
_FILE_PREFIX = "predictions-"


def new_request_id() -> str:
    """32 hex characters: 12 of the millisecond UTC time, then 20 random."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def input_sha256(records: Sequence[dict[str, Any]]) -> str:
    """SHA-256 over the canonical JSON (sorted keys) of the input rows, sensitive values included."""
    text = json.dumps(list(records), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def mask_rows(records: Sequence[dict[str, Any]], sensitive: Sequence[str]) -> list[dict[str, Any]]:
    """The rows with every sensitive column's value replaced by ``"***"``."""
    if not sensitive:
        return [dict(r) for r in records]
    hidden = set(sensitive)
    return [{k: (MASK if k in hidden else v) for k, v in r.items()} for r in records]


class PredictionLog:
    """A background writer of JSON lines under ``folder``."""

    def __init__(self, folder: str | Path, *, flush_ms: int = 200, batch_rows: int = 1000, max_bytes: int = 64 << 20) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.flush_s = flush_ms / 1000
        self.batch_rows = batch_rows
        self.max_bytes = max_bytes
        self.written = 0
        self.dropped = 0
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._fh: Any = None
        self._size = 0
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="mlops-prediction-log", daemon=True)
        self._thread.start()

    def put(self, record: dict[str, Any]) -> None:
        """Queue one record (never blocks)."""
        self._idle.clear()
        self._queue.put(record)

    def _open(self) -> None:
        if self._fh is not None:
            self._fh.close()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = self.folder / f"{_FILE_PREFIX}{stamp}-{os.getpid()}-{secrets.token_hex(2)}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._fh = os.fdopen(fd, "a", encoding="utf-8")
        self._size = 0

    def _write(self, batch: list[dict[str, Any]]) -> None:
        if self._fh is None or self._size >= self.max_bytes:
            self._open()
        text = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False, default=str) + "\n" for r in batch)
        try:
            self._fh.write(text)
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._size += len(text)
            self.written += len(batch)
        except OSError:
            self.dropped += len(batch)

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[dict[str, Any]] = []
            deadline = time.monotonic() + self.flush_s
            while len(batch) < self.batch_rows:
                timeout = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=max(timeout, 0.0)) if timeout > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            if batch:
                self._write(batch)
            if self._queue.empty():
                self._idle.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is on disk."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout=10)
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{_FILE_PREFIX}*.jsonl"))


def iter_records(folders: Sequence[Path], *, since_ms: int | None = None) -> Iterator[dict[str, Any]]:
    """Every record of the logs under ``folders``, oldest file first (records newer than ``since_ms``)."""
    for folder in folders:
        for path in _files(Path(folder)):
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash
                    if since_ms is None or int(rec.get("ts_ms", 0)) >= since_ms:
                        yield rec


class LogTail:
    """What was appended to the logs under ``folders`` since the last :meth:`read`.

    A monitoring job reads each line once, however long the deployment runs; a line still being
    written (no newline yet) is read when it is complete. Files are read in name order, which is
    the order they were started in.
    """

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = [Path(f) for f in folders]
        self._offsets: dict[Path, int] = {}

    def read(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for folder in self.folders:
            for path in _files(folder):
                start = self._offsets.get(path, 0)
                try:
                    with open(path, "rb") as fh:
                        fh.seek(start)
                        data = fh.read()
                except FileNotFoundError:
                    continue
                end = data.rfind(b"\n") + 1
                if not end:
                    continue
                self._offsets[path] = start + end
                for line in data[:end].splitlines():
                    with contextlib.suppress(ValueError):
                        rec = json.loads(line)
                        if isinstance(rec, dict):
                            out.append(rec)
        return out


def find_request(folders: Sequence[Path], request_id: str) -> list[dict[str, Any]]:
    """Every record (prediction, shadow calls, labels) of one request id, oldest first.

    Labels can arrive long after the prediction, in a later file, so every file is read; a
    substring test skips the JSON decoding of lines that cannot match.
    """
    found: list[dict[str, Any]] = []
    for folder in folders:
        for path in _files(Path(folder)):
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if request_id in line:
                        with contextlib.suppress(ValueError):
                            rec = json.loads(line)
                            if rec.get("request_id") == request_id:
                                found.append(rec)
    return found
