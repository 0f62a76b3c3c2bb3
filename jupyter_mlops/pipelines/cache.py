"""Cache keys for stages, fingerprints of inputs and outputs, and verification of recorded outputs.

A stage is reused only when its key (notebook code hash, resolved parameters, fingerprints of its
inputs, fingerprints of its upstream stages' results, environment hash, kernel) matches a stage
that SUCCEEDED before and everything that stage recorded still verifies: its executed notebook in
the object store, its output files' hashes, its output data versions. Everything here avoids
papermill, nbformat and MLflow, so a fully cached pipeline never pays for importing them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.hashing import sha256_file, sha256_json
from ..core.paths import resolve_inside
from ..errors import MlopsError, NotFound, PipelineError
from .schema import stage_runs
from .spec import IOSpec

if TYPE_CHECKING:
    from .context import PipelineContext

__all__ = ["cache_key", "data_fingerprint", "environment_hash", "find_cached", "fingerprint", "verify_recorded"]


def environment_hash() -> str:
    """SHA-256 of Python, OS and installed packages (computed once per process)."""
    from ..tracking.capture import environment

    return environment()[2]


def data_fingerprint(ctx: PipelineContext, spec: str) -> str | None:
    """The fingerprint of data version ``spec`` (``name``, ``name@3``, ``name@<hash>``), or ``None``."""
    try:
        version = ctx.data.get(spec)
    except NotFound:
        return None
    except (ImportError, AttributeError) as exc:
        raise PipelineError(
            f"cannot look up data version {spec!r}: the data service is not available ({exc})",
            value=spec,
            hint="declare files ({file: PATH}) instead, or install a jupyter-mlops with data versioning",
        ) from None
    fp = getattr(version, "fingerprint", None)
    return str(fp) if fp else None


def fingerprint(ctx: PipelineContext, io: IOSpec, base_dir: str | Path, *, run_ids: list[str] | None = None) -> str | None:
    """Fingerprint of one declared input or output, ``None`` when it does not exist.

    A model output's "fingerprint" is the version (``name@N``) that runs ``run_ids`` (the stage run
    and its children) logged last.
    """
    if io.kind == "data":
        return data_fingerprint(ctx, io.ref)
    if io.kind == "model":
        logged = [v for v in ctx.models.list_models(io.ref).versions if v.run_id in (run_ids or [])]
        return logged[0].ref if logged else None  # newest first
    path = resolve_inside(base_dir, io.ref)
    return sha256_file(path) if path.is_file() else None


def cache_key(
    *,
    code_sha256: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, str | None],
    upstream: Mapping[str, Any],
    environment_sha256: str,
    kernel: str | None,
) -> str:
    """The stage cache key: SHA-256 over everything that can change a stage's result."""
    return sha256_json(
        {
            "code": code_sha256,
            "params": params,
            "inputs": dict(inputs),
            "upstream": dict(upstream),
            "environment": environment_sha256,
            "kernel": kernel or "",
        }
    )


def verify_recorded(ctx: PipelineContext, row: Mapping[str, Any], base_dir: str | Path) -> list[str]:
    """Problems with what a stage run recorded (empty when everything still verifies)."""
    problems: list[str] = []
    obj = row.get("output_object_id")
    if obj:
        state = ctx.objects.verify(obj)
        if state:
            problems.append(f"executed notebook {obj[:12]} is {state}")
    outputs = json.loads(row.get("outputs") or "{}")
    for key, fp in outputs.items():
        if key.startswith("model:"):
            try:
                ctx.models.get(str(fp))
            except NotFound:
                problems.append(f"output model {fp} no longer exists")
            continue
        if key.startswith("file:"):
            try:
                path = resolve_inside(base_dir, key[5:])
            except MlopsError as err:
                problems.append(err.message)
                continue
            now = sha256_file(path) if path.is_file() else None
            if now != fp:
                problems.append(f"output file {key[5:]} {'is missing' if now is None else 'changed'}")
        else:
            name = key.split("@", 1)[0]
            if data_fingerprint(ctx, f"{name}@{fp}") is None:
                problems.append(f"output data {name}@{str(fp)[:12]} no longer exists")
    return problems


def find_cached(ctx: PipelineContext, key: str, base_dir: str | Path) -> tuple[dict[str, Any] | None, list[str]]:
    """The newest executed, SUCCEEDED stage run with ``key`` whose outputs verify, and why others did not."""
    query = (
        sa.select(stage_runs)
        .where(stage_runs.c.cache_key == key, stage_runs.c.outcome == "SUCCEEDED", stage_runs.c.run_id.is_not(None))
        .order_by(stage_runs.c.ended.desc())
        .limit(5)
    )
    with ctx.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    reasons: list[str] = []
    for row in rows:
        problems = verify_recorded(ctx, row, base_dir)
        if not problems:
            return row, reasons
        reasons.extend(problems)
    return None, reasons
