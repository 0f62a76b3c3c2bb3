"""What signed checkpoints cost: appends with and without them, and verifying the chain against them.

Prints per-event append time with ``[audit] checkpoint_every = 0`` (checkpoints only for the
checkpointed actions) and with every 1, 10 and 100 events, then the time to verify the chain
and to export it. Run: ``.venv/bin/python benchmarks/bench_audit_checkpoints.py [N]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import jupyter_mlops as mlops
from jupyter_mlops.audit.export import export, verify_export


def _append(root: Path, every: int, n: int) -> float:
    ws = mlops.init(root, user="bench")
    with open(ws.settings.home / "config.toml", "a", encoding="utf-8") as fh:
        fh.write(f"\n[audit]\ncheckpoint_every = {every}\n")
    ws = mlops.Workspace.open(root, user="bench")
    start = time.perf_counter()
    for i in range(n):
        with ws.transaction() as conn:
            ws.record(conn, "bench.event", "thing", str(i), {"i": i})
    return (time.perf_counter() - start) / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        base = None
        for every in (0, 100, 10, 1):
            per = _append(Path(tmp) / f"every{every}", every, n)
            base = base or per
            print(f"append, checkpoint_every={every:>3}: {per * 1e3:.3f} ms/event ({per / base:.2f}x)")
        ws = mlops.Workspace.open(Path(tmp) / "every100", user="bench")
        start = time.perf_counter()
        result = ws.verify_audit()
        print(f"verify {result.checked} events against {n // 100 + 1} checkpoints: {time.perf_counter() - start:.3f} s")
        start = time.perf_counter()
        export(ws, Path(tmp) / "export")
        print(f"export: {time.perf_counter() - start:.3f} s")
        start = time.perf_counter()
        check = verify_export(Path(tmp) / "export")
        print(f"verify the export offline: {time.perf_counter() - start:.3f} s (ok={check.ok})")


if __name__ == "__main__":
    main()
