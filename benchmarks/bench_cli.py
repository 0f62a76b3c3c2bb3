"""Whole-process ``jupyter-mlops run nb.ipynb`` against the papermill CLI on a trivial notebook (issue 16).

Both commands run as fresh processes, one after the other, alternating which goes first in each
round (A B, B A, ...) so that drift in the machine's load hits both alike; the medians and their
ratio are printed. Goal: at most 1.2x warm, and at most 1.5x on a cold page cache.

``--cold`` evicts the interpreter's, the virtual environment's and the workspace's files from the
page cache before every run (``posix_fadvise(DONTNEED)`` on each file, which needs no root), so
each process reads its modules from disk as after a reboot or on a busy scheduler host.

Run: ``python benchmarks/bench_cli.py [--runs 7] [--cold]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [], "source": ["x = 1 + 1\n", "x"]}
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def evict(roots: list[Path]) -> int:
    """Drop every file under ``roots`` from the page cache; returns how many files were advised."""
    n = 0
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    n += 1
                except OSError:
                    pass
                finally:
                    os.close(fd)
    return n


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7, help="rounds of A/B (at least 5)")
    parser.add_argument("--cold", action="store_true", help="evict the page cache before every run")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error(f"--runs must be at least 5, got {args.runs}")
    bindir = Path(sys.executable).parent
    papermill, ours = str(bindir / "papermill"), str(bindir / "jupyter-mlops")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"  # the kernel is this environment's python3
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        subprocess.run([ours, "init", str(root)], check=True, capture_output=True, env=env)
        nb = root / "trivial.ipynb"
        nb.write_text(json.dumps(NOTEBOOK), encoding="utf-8")
        commands = {
            "papermill CLI": [papermill, nb.name, "out-papermill.ipynb"],
            "jupyter-mlops run": [ours, "run", nb.name],
        }
        cache_roots = sorted({Path(sys.prefix), Path(sys.base_prefix), Path(sysconfig.get_paths()["stdlib"]), root})
        for cmd in commands.values():  # warm-up: kernelspec caches, .pyc files, the workspace's first run
            timed(cmd, root, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for i in range(args.runs):
            order = list(commands) if i % 2 == 0 else list(reversed(commands))
            for name in order:
                if args.cold:
                    evict(cache_roots)
                times[name].append(timed(commands[name], root, env))
    med = {name: statistics.median(t) for name, t in times.items()}
    ratio = med["jupyter-mlops run"] / med["papermill CLI"]
    goal = 1.5 if args.cold else 1.2
    print(
        f"bench_cli: trivial notebook, whole process, {args.runs} alternating rounds, {'cold' if args.cold else 'warm'} page cache"
    )
    for name, t in times.items():
        print(f"  {name:20s} median {med[name]:6.2f} s   (runs: {', '.join(f'{x:.2f}' for x in t)})")
    print(f"  -> ratio {ratio:.2f}x   goal <= {goal}x   {'OK' if ratio <= goal else 'MISSED'}")


if __name__ == "__main__":
    main()
