"""``jupyter-mlops migrate --to CONFIG``: copy a workspace to team services, verified and resumable.

What is copied: the object store (every object, re-hashed on arrival), MLflow's side (experiments;
every run with its parameters, metric histories, tags, dataset inputs and artifacts, read back and
compared; every registry version as a logged model whose files are checked against the manifest
recorded at logging time, with the same version numbers and aliases), then the metadata database
(every table, the audit chain included, row for row in one transaction) and finally the
workspace's ``config.toml`` is pointed at the services (no credentials written).

**Ids.** The tracking server gives every copied run a new id; the workspace keeps the ids it
recorded (its audit chain, lineage, cards and reports name them and must keep verifying byte for
byte), and the mapping goes into ``tracking_ids``, which the MLflow adapter reads (see
:mod:`jupyter_mlops.store.team`). Only what says *where* MLflow keeps something is rewritten in
the copied rows: ``runs.experiment_id`` and a model version's ``model_id``, ``model_uri`` and
``artifact_uri``. The copied chain gets one more event, ``workspace.migrated``, with the source's
head, the counts and the SHA-256 of the id map, so the copy itself is on the record; the source's
chain gets ``workspace.migrated`` too, naming the target's head.

**Resuming.** Every copied item is entered in the target's ``migration_items`` ledger: ``started``
with the target's id before its content is written, ``done`` with the SHA-256 it was verified
against. Run the command again after an interruption (``kill -9`` included): ``done`` items are
skipped, a ``started`` run is deleted on the target and copied again, and the metadata, written in
one transaction, is either all there or not at all.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..config import resolve_settings, settings_context, write_team_settings
from ..core.hashing import canonical_json, sha256_text
from ..core.urls import mask_url
from ..errors import AuditChainBroken, Conflict, IntegrityError
from ..store.team import migration_items
from ..workspace import SCHEMA_MODULES, Workspace
from .copy_metadata import _copy_metadata

if TYPE_CHECKING:
    pass

__all__ = ["MigrationReport", "migrate"]

Progress = Callable[[str], None]
#: Tables that belong to the database, not to the workspace: never copied.


@dataclasses.dataclass(frozen=True)
class MigrationReport:
    """What :func:`migrate` copied, skipped (copied by an earlier attempt) and verified."""

    target: dict[str, str]
    copied: dict[str, int]
    skipped: dict[str, int]
    tables: dict[str, int]
    audit_events: int
    head_hash: str
    switched: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        what = ", ".join(f"{n} {k}" for k, n in self.copied.items())
        again = ", ".join(f"{n} {k}" for k, n in self.skipped.items() if n)
        lines = [
            f"copied to {self.target.get('tracking_uri', '?')} and {self.target.get('metadata_url', '?')}: {what}",
            f"metadata: {sum(self.tables.values())} rows in {len(self.tables)} tables, audit chain verified "
            f"({self.audit_events} events, head {self.head_hash[:12]})",
        ]
        if again:
            lines.append(f"already copied by an earlier attempt: {again}")
        lines.append("config.toml now points at the team services" if self.switched else "config.toml unchanged (--keep-config)")
        return "\n".join(lines)


def migrate(
    source: Workspace, services: Mapping[str, Any], *, switch: bool = True, progress: Progress | None = None
) -> MigrationReport:
    """Copy ``source`` to the services ``services`` names (as :func:`~jupyter_mlops.config.load_team_file` reads them).

    Raises
    ------
    Conflict
        A run is still open, the target already holds another workspace, or source and target
        are the same stores.
    AuditChainBroken
        The source's chain does not verify: a copy could not vouch for it.
    IntegrityError
        Something arrived different from what was sent (nothing is counted as copied then).
    """
    say = progress or (lambda _: None)
    with settings_context(**dict(services)):
        target_settings = resolve_settings(source.settings.root, user=source.actor)
    if (
        target_settings.metadata_url == source.settings.metadata_url
        or target_settings.tracking_uri == source.settings.tracking_uri
    ):
        raise Conflict(
            "the target services are this workspace's own stores",
            value=mask_url(target_settings.metadata_url),
            hint="give a configuration with another [tracking] uri and [metadata] url",
        )
    target = Workspace(target_settings)
    components = [importlib.import_module(m).SCHEMA for m in SCHEMA_MODULES]
    target.db.migrate(components)
    target._migrated = True
    _check_source(source)
    head = source.verify_audit()
    copied_meta = _metadata_copied(source, target)
    copied: dict[str, int] = {}
    skipped: dict[str, int] = {}

    say("objects")
    copied["objects"], skipped["objects"] = _copy_objects(source, target)
    say("experiments")
    experiments = _copy_experiments(source, target)
    copied["experiments"] = len(experiments)
    say("runs")
    runs, copied["runs"], skipped["runs"] = _copy_runs(source, target, experiments, say)
    say("registry")
    models, copied["model_versions"], skipped["model_versions"] = _copy_models(source, target, experiments, runs)
    tables: dict[str, int]
    if copied_meta is None:
        say("metadata")
        tables = _copy_metadata(source, target, experiments, runs, models, head.head_seq or 0, head.head_hash or "")
    else:
        tables = copied_meta
        skipped["metadata"] = 1
    verified = target.verify_audit()
    if not verified.ok:
        raise AuditChainBroken(f"the copied audit chain does not verify: {verified.reason}", value=verified.first_bad_seq)
    bad = target.data.verify()
    if bad.missing or bad.corrupt:
        raise IntegrityError(
            f"the target's object store lacks or corrupts {len(bad.missing) + len(bad.corrupt)} objects",
            value=(bad.missing or bad.corrupt)[0]["object_id"],
            hint="run migrate again",
        )
    shown = {k: mask_url(str(v)) for k, v in services.items() if isinstance(v, str)}
    if switch:
        with source.transaction() as conn:
            source.record(
                conn,
                "workspace.migrated",
                "workspace",
                source.settings.workspace_id,
                {"to": shown, "target_head": verified.head_hash},
            )
        write_team_settings(source.settings.root, services)
    return MigrationReport(shown, copied, skipped, tables, verified.checked, verified.head_hash or "", switch)


def _check_source(source: Workspace) -> None:
    from ..tracking.schema import runs

    source.reap()
    with source.db.read() as conn:
        open_run = conn.execute(sa.select(runs.c.run_id, runs.c.name).where(runs.c.status == "RUNNING").limit(1)).first()
    if open_run is not None:
        raise Conflict(
            f"run {open_run.run_id} ({open_run.name}) is still RUNNING",
            value=open_run.run_id,
            hint="let it finish (or stop its process) before migrating",
        )
    verified = source.verify_audit()
    if not verified.ok:
        raise AuditChainBroken(
            f"the source's audit chain does not verify ({verified.reason}); a copy could not vouch for it",
            value=verified.first_bad_seq,
            hint="`jupyter-mlops audit verify` names the first bad event",
        )


def _metadata_copied(source: Workspace, target: Workspace) -> dict[str, int] | None:
    """Row counts when an earlier attempt already copied the metadata; None when the target is empty."""
    from ..audit.chain import audit_events

    with target.db.read() as conn:
        moved = conn.execute(
            sa.select(audit_events.c.payload).where(audit_events.c.action == "workspace.migrated").order_by(audit_events.c.seq)
        ).first()
        count = conn.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar() or 0
    if moved is None:
        if count:
            raise Conflict(
                f"the target metadata database already holds {count} audit events of another workspace",
                value=mask_url(target.settings.metadata_url),
                hint="migrate into an empty database",
            )
        return None
    info = json.loads(moved.payload)
    with source.db.read() as conn:
        mine = conn.execute(sa.select(audit_events.c.hash).where(audit_events.c.seq == info.get("source_head_seq"))).scalar()
    if mine != info.get("source_head_hash"):
        raise Conflict(
            "the target holds a copy of another workspace (its chain does not start like this one's)",
            value=mask_url(target.settings.metadata_url),
            hint="migrate into an empty database",
        )
    return dict(info.get("tables", {}))


# -- the ledger ------------------------------------------------------------------------------------
def _ledger(target: Workspace, kind: str) -> dict[str, Any]:
    with target.db.read() as conn:
        rows = conn.execute(sa.select(migration_items).where(migration_items.c.kind == kind)).all()
    return {r.source_id: r for r in rows}


def _enter(
    target: Workspace, kind: str, source_id: str, target_id: str | None, state: str, sha: str | None = None, **detail: Any
) -> None:
    from ..store.migrations import utc_now

    t = migration_items
    with target.db.write() as conn:
        conn.execute(sa.delete(t).where(t.c.kind == kind, t.c.source_id == source_id))
        conn.execute(
            sa.insert(t).values(
                kind=kind,
                source_id=source_id,
                target_id=target_id,
                state=state,
                sha256=sha,
                detail=json.dumps(detail, sort_keys=True),
                updated=utc_now(),
            )
        )


# -- the stores ---------------------------------------------------------------------------------------
def _copy_objects(source: Workspace, target: Workspace) -> tuple[int, int]:
    if str(source.objects.root) == str(target.objects.root):
        return 0, 0
    copied = skipped = 0
    target.objects.ensure()
    for oid in source.objects.iter_ids():
        if target.objects.exists(oid):
            if target.objects.verify(oid) is not None:
                raise IntegrityError(
                    f"object {oid} is corrupt in the target store", value=oid, hint="remove it there and run migrate again"
                )
            skipped += 1
            continue
        stored = target.objects.put_bytes(source.objects.open_verified(oid))
        if stored.object_id != oid or target.objects.verify(oid) is not None:
            raise IntegrityError(f"object {oid} did not arrive intact", value=oid, hint="run migrate again")
        copied += 1
    return copied, skipped


def _copy_experiments(source: Workspace, target: Workspace) -> dict[str, str]:
    from ..tracking import copy

    done = _ledger(target, "experiment")
    out: dict[str, str] = {}
    for exp in copy.experiments(source.tracking):
        hit = done.get(exp["id"])
        if hit is not None and hit.state == "done":
            out[exp["id"]] = hit.target_id
            continue
        out[exp["id"]] = copy.ensure_experiment(target.tracking, exp["name"], exp["tags"])
        _enter(target, "experiment", exp["id"], out[exp["id"]], "done", name=exp["name"])
    return out


def _copy_runs(
    source: Workspace, target: Workspace, experiments: dict[str, str], say: Progress
) -> tuple[dict[str, str], int, int]:
    """MLflow run id in the source -> in the target."""
    from ..tracking import copy

    done = _ledger(target, "run")
    out: dict[str, str] = {}
    copied = skipped = 0
    for run in copy.runs(source.tracking, list(experiments)):
        sid = run.info.run_id
        hit = done.get(sid)
        if hit is not None and hit.state == "done":
            out[sid] = hit.target_id
            skipped += 1
            continue
        recorded = source.tracking.recorded_run_id(sid)
        experiment = experiments[run.info.experiment_id]
        if hit is not None or done:  # after an interruption: a half copy (entered or not yet) is replaced, never counted
            for half in {*(copy.copies_of(target.tracking, experiment, recorded)), *([hit.target_id] if hit else [])}:
                copy.delete_run(target.tracking, half)
        parent = run.data.tags.get("mlflow.parentRunId")
        tid = copy.start_run_copy(
            target.tracking,
            run,
            experiment_id=experiment,
            parent_id=out.get(parent) if parent else None,
            recorded_id=recorded,
        )
        _enter(target, "run", sid, tid, "started", recorded=recorded)
        sha = copy.finish_run_copy(source.tracking, target.tracking, run, tid)
        _enter(target, "run", sid, tid, "done", sha, recorded=recorded)
        out[sid] = tid
        copied += 1
        say(f"run {recorded} -> {tid}")
    return out, copied, skipped


def _copy_models(
    source: Workspace, target: Workspace, experiments: dict[str, str], runs: dict[str, str]
) -> tuple[dict[tuple[str, int], dict[str, str]], int, int]:
    """(name, version) -> the target's model id and artifact URI."""
    from ..registry.schema import model_versions
    from ..tracking import copy

    with source.db.read() as conn:
        manifests = {(r.name, r.version): json.loads(r.manifest) for r in conn.execute(sa.select(model_versions))}
    done = _ledger(target, "model_version")
    out: dict[tuple[str, int], dict[str, str]] = {}
    copied = skipped = 0
    for model in copy.registered_models(source.tracking):
        for version in model["versions"]:
            key = f"{model['name']}/{version.version}"
            hit = done.get(key)
            if hit is not None and hit.state == "done":
                out[(model["name"], int(version.version))] = json.loads(hit.detail)
                skipped += 1
                continue
            manifest = manifests.get((model["name"], int(version.version)))
            source.tracking._activate()
            model_id = copy.logged_model_of(version)
            src_model = source.tracking.client.get_logged_model(model_id) if model_id else None
            exp = experiments.get(src_model.experiment_id) if src_model is not None else None
            if exp is None:
                exp = next(iter(experiments.values()))
            model_id, location = copy.copy_model_version(
                source.tracking,
                target.tracking,
                model,
                version,
                experiment_id=exp,
                run_id=runs.get(version.run_id) if version.run_id else None,
                manifest={k: v["sha256"] for k, v in manifest.items()} if manifest else None,
                logged_model_id=hit.target_id if hit is not None and hit.target_id else None,
                on_logged_model=functools.partial(_enter, target, "model_version", key, state="started"),
            )
            info = {"model_id": model_id, "artifact_uri": location}
            _enter(target, "model_version", key, model_id, "done", sha256_text(canonical_json(manifest or {})), **info)
            out[(model["name"], int(version.version))] = info
            copied += 1
        copy.set_aliases(target.tracking, model)
    return out, copied, skipped
