"""Fingerprint throughput against the physical limit, the DVC-style path and MLflow's digest;
a first data version against one Parquet write (issue 16).

Run: ``python benchmarks/bench_data.py [--rows 10000000] [--mlflow-rows 1000000]``;
``python benchmarks/bench_data.py --first-version [--rounds 3]`` runs only the issue 16 part.

First version (issue 16, goal <= 2x): ``ws.data.version(df, name)`` of a ~0.9 GB numeric frame
(fingerprint, profile, Parquet snapshot fsynced into the object store, catalogue row, audit event)
against one ``pyarrow.parquet.write_table(pa.Table.from_pandas(df), path)`` with pyarrow's
defaults. Each is timed in a fresh process, alternating which goes first in each round, and each
reports its peak memory above the frame itself (``VmHWM`` after resetting it through
``/proc/self/clear_refs`` once the frame is built) as a multiple of the frame's size.

Prints, in one run: memory read bandwidth (numpy sum of 1 GB, single pass) as the ceiling;
single-thread BLAKE3 and SHA-256 over the same bytes; ``pandas.util.hash_pandas_object``; our
full-content fingerprint (GB/s) of a numeric frame (6 float64, 2 int64, 1 category, 1 datetime)
and of a string-heavy frame; the DVC-style path (write Parquet, MD5 the file) and
``mlflow.data.from_pandas(df).digest`` as ratios; and the bytes written when an unchanged ~1 GB
frame is versioned again. MLflow's digest is measured on ``--mlflow-rows`` rows (default 1M:
10M rows take about 45 s) and scaled linearly to the full row count, which the output says.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def timed(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def numeric_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cols: dict[str, object] = {f"f{i}": rng.random(n) for i in range(6)}
    cols["i0"] = rng.integers(0, 1_000_000, n)
    cols["i1"] = np.arange(n, dtype="int64")
    cols["cat"] = pd.Categorical.from_codes(rng.integers(0, 40, n), [f"c{i}" for i in range(40)])
    cols["ts"] = pd.date_range("2000-01-01", periods=n, freq="s")
    return pd.DataFrame(cols)


def string_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    words = np.array([f"word-{i:05d}-{'x' * (i % 17)}" for i in range(50_000)], dtype=object)
    return pd.DataFrame({f"s{j}": pd.Series(words[rng.integers(0, len(words), n)], dtype="str") for j in range(3)})


def frame_bytes(df: pd.DataFrame) -> int:
    return int(df.memory_usage(index=False, deep=True).sum())


def _rss_now() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    with open("/proc/self/status") as fh:
        line = next(x for x in fh if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def child(what: str, rows: int) -> None:
    """One measurement in this fresh process; prints ``seconds peak_extra_bytes frame_bytes``."""
    import gc

    df = numeric_frame(rows)
    gc.collect()
    with tempfile.TemporaryDirectory() as tmp:
        if what == "version":
            import jupyter_mlops as mlops

            ws = mlops.init(Path(tmp) / "p", user="bench")

            def run() -> None:
                ws.data.version(df, "big")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            def run() -> None:
                pq.write_table(pa.Table.from_pandas(df), Path(tmp) / "df.parquet")

        base = _rss_now()
        with open("/proc/self/clear_refs", "w") as fh:  # reset VmHWM to the current RSS
            fh.write("5")
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(seconds, max(0, _peak() - base), frame_bytes(df), cpu)


def first_version(rows: int, rounds: int) -> None:
    import statistics
    import subprocess
    import sys

    results: dict[str, list[tuple[float, int, int, float]]] = {"parquet": [], "version": []}
    for i in range(rounds):
        for what in ("parquet", "version") if i % 2 == 0 else ("version", "parquet"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", what, "--rows", str(rows)], capture_output=True, text=True, check=True
            ).stdout.split()
            results[what].append((float(out[0]), int(out[1]), int(out[2]), float(out[3])))
    size = results["version"][0][2]
    med = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
    mem = {k: max(r[1] for r in v) / size for k, v in results.items()}
    cpu = {k: statistics.median(r[3] for r in v) for k, v in results.items()}
    ratio = med["version"] / med["parquet"]
    print(f"first data version of a {size / 1e9:.2f} GB numeric frame ({rows:,} rows), {rounds} alternating rounds, medians")
    for key, label in (
        ("parquet", "pyarrow.parquet.write_table (defaults)"),
        ("version", "ws.data.version (first version)       "),
    ):
        print(f"  {label} {med[key]:6.2f} s ({cpu[key]:5.2f} s CPU)   peak memory +{mem[key]:.2f}x the frame")
    print(
        f"  -> ratio {ratio:.2f}x (CPU time {cpu['version'] / cpu['parquet']:.2f}x)   goal <= 2x   {'OK' if ratio <= 2 else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--string-rows", type=int, default=3_000_000)
    parser.add_argument("--mlflow-rows", type=int, default=1_000_000)
    parser.add_argument("--first-version", action="store_true", help="only the first-version ratio and peak memory")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["parquet", "version"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows)
        return
    big_rows = max(args.rows, int(1e9 / 80))  # about 1 GB
    if args.first_version:
        first_version(big_rows, args.rounds)
        return

    from jupyter_mlops.data.fingerprint import fingerprint_object

    gb = np.ones(1 << 27)  # 1 GiB of float64
    mem = gb.nbytes / timed(gb.sum) / 1e9
    raw = memoryview(gb).cast("B")
    from blake3 import blake3

    b3_1 = gb.nbytes / timed(lambda: blake3(raw, max_threads=1).digest(), 2) / 1e9
    sha = gb.nbytes / timed(lambda: hashlib.sha256(raw).digest(), 1) / 1e9
    print(f"memory read (numpy sum of 1 GiB, one pass):   {mem:6.2f} GB/s   <- physical limit")
    print(f"BLAKE3, one thread, raw bytes:                 {b3_1:6.2f} GB/s")
    print(f"SHA-256, raw bytes:                            {sha:6.2f} GB/s")

    df = numeric_frame(args.rows)
    size = frame_bytes(df)
    t_fp = timed(lambda: fingerprint_object(df))
    fp_gbs = size / t_fp / 1e9
    t_hpo = timed(lambda: pd.util.hash_pandas_object(df, index=True).to_numpy().sum(), 1)
    print(f"\nnumeric frame: {args.rows:,} rows, {size / 1e9:.2f} GB")
    print(f"hash_pandas_object (not cryptographic):        {size / t_hpo / 1e9:6.2f} GB/s")
    print(
        f"our fingerprint (BLAKE3, full content):        {fp_gbs:6.2f} GB/s  ({t_fp:.3f} s; {fp_gbs / mem:.0%} of memory bandwidth)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "df.parquet"

        def dvc() -> None:
            df.to_parquet(target)
            h = hashlib.md5(usedforsecurity=False)
            with open(target, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)

        t_dvc = timed(dvc, 1)
    print(
        f"DVC-style (write Parquet + MD5 the file):      {size / t_dvc / 1e9:6.2f} GB/s  ({t_dvc:.2f} s) -> ours is {t_dvc / t_fp:.0f}x faster"
    )

    import mlflow.data

    small = df.head(args.mlflow_rows)

    def mlflow_digest() -> None:
        _ = mlflow.data.from_pandas(small).digest

    t_ml = timed(mlflow_digest, 1) * (args.rows / len(small))
    scaled = "" if len(small) == args.rows else f" (measured on {len(small):,} rows, scaled x{args.rows / len(small):.0f})"
    print(
        f"mlflow.data.from_pandas(df).digest:            {size / t_ml / 1e9:6.3f} GB/s  ({t_ml:.1f} s{scaled}) -> ours is {t_ml / t_fp:.0f}x faster"
    )
    print("  (and MLflow's digest covers only the first 10,000 rows)")

    sdf = string_frame(args.string_rows)
    ssize = frame_bytes(sdf)
    t_s = timed(lambda: fingerprint_object(sdf))
    print(f"\nstring-heavy frame: {args.string_rows:,} rows x 3 str columns, {ssize / 1e9:.2f} GB (deep)")
    print(f"our fingerprint:                               {ssize / t_s / 1e9:6.2f} GB/s  ({t_s:.3f} s)")

    import jupyter_mlops as mlops

    big = numeric_frame(big_rows)
    with tempfile.TemporaryDirectory() as tmp:
        ws = mlops.init(Path(tmp) / "p", user="bench")
        t0 = time.perf_counter()
        ws.data.version(big, "big")
        t_first = time.perf_counter() - t0

        def store_bytes() -> int:
            return sum(p.stat().st_size for p in ws.objects.root.rglob("*") if p.is_file())

        before = store_bytes()
        t0 = time.perf_counter()
        again = ws.data.version(big, "big")
        t_again = time.perf_counter() - t0
        written = store_bytes() - before
    print(f"\nversioning a {frame_bytes(big) / 1e9:.2f} GB frame: first {t_first:.1f} s (fingerprint, profile, Parquet snapshot)")
    print(f"re-versioning it unchanged: {t_again:.2f} s, returned {again.spec}, new bytes written: {written}")
    del big
    print()
    first_version(big_rows, args.rounds)


if __name__ == "__main__":
    main()
