"""Copy MLflow's side of a workspace to another tracking store, verifying every byte.

Used by ``jupyter-mlops migrate`` (:mod:`jupyter_mlops.team.migrate`), which keeps the ledger that
makes a copy resumable; this module only reads one store and writes the other through MLflow's
client, so a tracking server sees ordinary API calls (its authentication, its artifact proxy).
Written here rather than with ``mlflow-export-import``, whose releases predate MLflow 3's logged
models and which neither verifies what the target stored nor resumes.

A run is copied whole (name, status, times, parameters, every metric's full history with its
steps and time stamps, tags, dataset inputs, artifacts) and then read back from the target:
:func:`run_view` of both must agree, artifact SHA-256 included, before the run counts as copied.
The target gives the run a new id (MLflow's REST API cannot choose one); the copy carries the
recorded id as the tag ``mlops.run_id``. A model version is copied as a logged model (artifacts
uploaded and read back against the manifest recorded when it was logged) and a registry version
with the same number, tags and aliases.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.hashing import canonical_json
from ..errors import Conflict, IntegrityError
from .mlflow_store import _wrap

if TYPE_CHECKING:
    from .mlflow_backend import MlflowBackend

__all__ = [
    "RECORDED_ID_TAG",
    "copies_of",
    "copy_model_version",
    "delete_run",
    "ensure_experiment",
    "experiments",
    "finish_run_copy",
    "logged_model_of",
    "registered_models",
    "run_view",
    "runs",
    "set_aliases",
    "start_run_copy",
    "view_sha256",
]

#: The tag a copied run carries: the id the workspace recorded for it.
RECORDED_ID_TAG = "mlops.run_id"
#: Tags a store sets itself (or that name other ids): compared apart, not copied as they are.
_OWN_TAGS = {RECORDED_ID_TAG, "mlflow.parentRunId"}
_CHUNK = 1 << 20


def experiments(backend: MlflowBackend) -> list[dict[str, Any]]:
    """Every experiment (deleted ones too), oldest first."""
    with _wrap("list experiments", backend.tracking_uri):
        from mlflow.entities import ViewType

        found = backend.client.search_experiments(view_type=ViewType.ALL)
        return sorted(
            (
                {"id": e.experiment_id, "name": e.name, "tags": dict(e.tags or {}), "deleted": e.lifecycle_stage == "deleted"}
                for e in found
            ),
            key=lambda e: ((e["id"].isdigit() and int(e["id"])) or 0, e["id"]),
        )


def ensure_experiment(backend: MlflowBackend, name: str, tags: dict[str, str]) -> str:
    """The target's experiment ``name`` (made with ``tags`` when it is missing)."""
    with _wrap(f"create experiment {name!r}", backend.tracking_uri):
        backend._use_workspace()
        found = backend.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        return str(backend.client.create_experiment(name, artifact_location=backend._artifact_location_for(name), tags=tags))


def runs(backend: MlflowBackend, experiment_ids: list[str]) -> list[Any]:
    """Every run of those experiments (deleted ones too), parents before children, oldest first."""
    with _wrap("list runs", backend.tracking_uri):
        from mlflow.entities import ViewType

        out: list[Any] = []
        for i in range(0, len(experiment_ids), 100):
            token = None
            while True:
                page = backend.client.search_runs(
                    experiment_ids[i : i + 100], run_view_type=ViewType.ALL, max_results=1000, page_token=token
                )
                out.extend(page)
                token = page.token
                if not token:
                    break
        by_id = {r.info.run_id: r for r in out}

        def depth(run: Any) -> int:
            d, seen = 0, set()
            parent = run.data.tags.get("mlflow.parentRunId")
            while parent in by_id and parent not in seen:
                seen.add(parent)
                d += 1
                parent = by_id[parent].data.tags.get("mlflow.parentRunId")
            return d

        return sorted(out, key=lambda r: (depth(r), r.info.start_time or 0, r.info.run_id))


def _hash_tree(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                while block := fh.read(_CHUNK):
                    h.update(block)
            out[path.relative_to(folder).as_posix()] = h.hexdigest()
    return out


def _download_run(backend: MlflowBackend, run_id: str, dst: Path) -> Path:
    """All of a run's artifacts into ``dst`` (an empty folder when it has none)."""
    backend._activate()
    if not backend.client.list_artifacts(run_id):
        return dst
    return Path(backend.client.download_artifacts(run_id, "", str(dst)))


def run_view(backend: MlflowBackend, run_id: str, *, artifacts: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything a copy must reproduce of one run, as plain data (artifact hashes included)."""
    with _wrap(f"read run {run_id}", backend.tracking_uri):
        client = backend.client
        run = client.get_run(run_id)
        history = {}
        for key in sorted(run.data.metrics):
            points = client.get_metric_history(run_id, key)
            history[key] = sorted((int(m.step), int(m.timestamp), float(m.value)) for m in points)
        inputs = sorted(
            canonical_json(
                {
                    "name": d.dataset.name,
                    "digest": d.dataset.digest,
                    "source_type": d.dataset.source_type,
                    "source": d.dataset.source,
                    "schema": d.dataset.schema,
                    "profile": d.dataset.profile,
                    "tags": sorted((t.key, t.value) for t in d.tags),
                }
            )
            for d in (run.inputs.dataset_inputs if run.inputs else [])
        )
        if artifacts is None:
            with tempfile.TemporaryDirectory(prefix="mlops-copy-") as tmp:
                artifacts = _hash_tree(_download_run(backend, run_id, Path(tmp)))
        return {
            "name": run.info.run_name,
            "status": run.info.status,
            "start_time": run.info.start_time,
            "end_time": run.info.end_time,
            "deleted": run.info.lifecycle_stage == "deleted",
            "params": dict(sorted(run.data.params.items())),
            "tags": {
                k: v for k, v in sorted(run.data.tags.items()) if k not in _OWN_TAGS and not k.startswith("mlflow.log-model")
            },
            "metrics": history,
            "inputs": inputs,
            "artifacts": artifacts,
        }


def view_sha256(view: dict[str, Any]) -> str:
    """The SHA-256 a copied run is verified against (over :func:`run_view`)."""
    return hashlib.sha256(canonical_json(view).encode("utf-8")).hexdigest()


def start_run_copy(target: MlflowBackend, run: Any, *, experiment_id: str, parent_id: str | None, recorded_id: str) -> str:
    """Create the target run (no content yet) and return its id.

    The caller records the new id (its ledger says ``started``) before :func:`finish_run_copy`
    fills it, so an interrupted copy is found and replaced, never left half-made and counted.
    """
    with _wrap(f"copy run {recorded_id}", target.tracking_uri):
        target._use_workspace()
        tags = {k: v for k, v in run.data.tags.items() if k not in _OWN_TAGS}
        tags[RECORDED_ID_TAG] = recorded_id
        if parent_id:
            tags["mlflow.parentRunId"] = parent_id
        created = target.client.create_run(experiment_id, start_time=run.info.start_time, tags=tags, run_name=run.info.run_name)
        return str(created.info.run_id)


def finish_run_copy(source: MlflowBackend, target: MlflowBackend, run: Any, target_id: str) -> str:
    """Fill the target run from ``run``, read it back, compare; returns the verified SHA-256."""
    src_id = run.info.run_id
    with _wrap(f"copy run {src_id}", target.tracking_uri), tempfile.TemporaryDirectory(prefix="mlops-copy-") as tmp:
        from mlflow.entities import DatasetInput, Metric, Param

        client = target.client
        expected = run_view(source, src_id)
        params = [Param(k, v) for k, v in sorted(run.data.params.items())]
        metrics = [Metric(k, v, ts, step) for k, pts in expected["metrics"].items() for step, ts, v in pts]
        for i in range(0, len(params), 100):
            client.log_batch(target_id, params=params[i : i + 100])
        for i in range(0, len(metrics), 1000):
            client.log_batch(target_id, metrics=metrics[i : i + 1000])
        datasets: list[DatasetInput] = list(run.inputs.dataset_inputs) if run.inputs else []
        if datasets:
            client.log_inputs(target_id, datasets=datasets)
        folder = _download_run(source, src_id, Path(tmp) / "out")
        if expected["artifacts"]:
            client.log_artifacts(target_id, str(folder))
        client.set_terminated(target_id, status=run.info.status, end_time=run.info.end_time)
        if run.info.lifecycle_stage == "deleted":
            client.delete_run(target_id)
        got = run_view(target, target_id)
        _same(expected, got, f"run {src_id} (copied as {target_id})")
        return view_sha256(expected)


def _same(expected: dict[str, Any], got: dict[str, Any], what: str) -> None:
    for key, value in expected.items():
        if key == "tags":
            missing = {k: v for k, v in value.items() if got["tags"].get(k) != v}
            if missing:
                raise IntegrityError(
                    f"the copy of {what} does not hold its tags {sorted(missing)[:5]}", value=what, hint="run migrate again"
                )
        elif value != got.get(key):
            raise IntegrityError(
                f"the copy of {what} differs in {key}: the target did not store what was sent",
                value=what,
                hint="run migrate again; the half-copied run is replaced",
            )


def copies_of(target: MlflowBackend, experiment_id: str, recorded_id: str) -> list[str]:
    """Runs of ``experiment_id`` on the target that are copies of the recorded run (tag ``mlops.run_id``)."""
    with _wrap(f"look for copies of run {recorded_id}", target.tracking_uri):
        target._use_workspace()
        found = target.client.search_runs([experiment_id], filter_string=f"tags.`{RECORDED_ID_TAG}` = '{recorded_id}'")
        return [str(r.info.run_id) for r in found]


def delete_run(target: MlflowBackend, run_id: str) -> None:
    """Remove a half-copied run (MLflow keeps it as deleted, out of every default listing)."""
    with _wrap(f"remove the half-copied run {run_id}", target.tracking_uri):
        from mlflow.exceptions import MlflowException

        try:
            target.client.delete_run(run_id)
        except MlflowException:
            pass  # already gone


def registered_models(backend: MlflowBackend) -> list[dict[str, Any]]:
    """Every registered model with its versions (oldest first), tags and aliases."""
    with _wrap("list registered models", backend.tracking_uri):
        client = backend.client
        out = []
        token = None
        while True:
            page = client.search_registered_models(max_results=1000, page_token=token)
            for rm in page:
                versions = sorted(client.search_model_versions(f"name = '{rm.name}'"), key=lambda v: int(v.version))
                aliases = rm.aliases or {}
                items = aliases.items() if isinstance(aliases, dict) else ((a.alias, a.version) for a in aliases)
                out.append(
                    {
                        "name": rm.name,
                        "description": rm.description or "",
                        "tags": dict(rm.tags or {}),
                        "aliases": {str(a): int(v) for a, v in items},
                        "versions": versions,
                    }
                )
            token = getattr(page, "token", None)
            if not token:
                return out


def copy_model_version(
    source: MlflowBackend,
    target: MlflowBackend,
    model: dict[str, Any],
    version: Any,
    *,
    experiment_id: str,
    run_id: str | None,
    manifest: dict[str, str] | None,
    logged_model_id: str | None = None,
    on_logged_model: Callable[[str], None] | None = None,
) -> tuple[str, str]:
    """Copy one registry version (its logged model first); returns the target's model id and artifact URI.

    The files are uploaded and then read back; each must match ``manifest`` (path -> SHA-256, as
    recorded when the model was logged) or, without one, the source's own bytes. The version gets
    the same number as in the source: numbers the source skipped (deleted versions) are skipped on
    the target the same way. ``logged_model_id`` resumes a copy whose logged model exists already;
    ``on_logged_model`` is told a new logged model's id before its files are uploaded.
    """
    name, number = model["name"], int(version.version)
    with _wrap(f"copy {name} version {number}", target.tracking_uri), tempfile.TemporaryDirectory(prefix="mlops-copy-") as tmp:
        import mlflow.artifacts
        from mlflow.entities import LoggedModelStatus
        from mlflow.exceptions import MlflowException

        client = target.client
        source._activate()
        model_id = logged_model_of(version)
        src_model = source.client.get_logged_model(model_id) if model_id else None
        uri = src_model.artifact_location if src_model is not None else version.source
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=str(Path(tmp) / "src"), tracking_uri=source.tracking_uri
            )
        )
        sent = _hash_tree(local)
        if manifest is not None and sent != manifest:
            differ = sorted(set(sent) ^ set(manifest) | {k for k in sent if k in manifest and sent[k] != manifest[k]})
            raise IntegrityError(
                f"{name} version {number} in the source no longer matches the manifest recorded when it was logged "
                f"({', '.join(differ[:3])})",
                value=f"{name}@{number}",
                hint="the source's artifacts were changed; `jupyter-mlops data verify` and a backup restore come first",
            )
        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name, tags=model["tags"], description=model["description"] or None)
        target._use_workspace()
        if logged_model_id is None:
            lm = client.create_logged_model(
                experiment_id,
                name=src_model.name if src_model is not None else "model",
                source_run_id=run_id,
                tags=dict(src_model.tags) if src_model is not None else None,
                params=dict(src_model.params) if src_model is not None else None,
                model_type=src_model.model_type if src_model is not None else None,
            )
            logged_model_id = str(lm.model_id)
            if on_logged_model is not None:
                on_logged_model(logged_model_id)  # entered before its files go up: a retry finds it
        client.log_model_artifacts(logged_model_id, str(local))
        client.finalize_logged_model(logged_model_id, LoggedModelStatus.READY)
        location = str(client.get_logged_model(logged_model_id).artifact_location)
        back = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=location, dst_path=str(Path(tmp) / "back"), tracking_uri=target.tracking_uri
            )
        )
        if _hash_tree(back) != sent:
            raise IntegrityError(
                f"the target did not store {name} version {number} as sent", value=f"{name}@{number}", hint="run migrate again"
            )
        existing = {int(v.version): v for v in client.search_model_versions(f"name = '{name}'")}
        if number in existing:
            if logged_model_of(existing[number]) != logged_model_id:
                raise Conflict(
                    f"{name} version {number} already exists on the target and is another model",
                    value=f"{name}@{number}",
                    hint="migrate into an empty MLflow workspace (or a server without this model)",
                )
        else:
            while True:
                mv = client.create_model_version(
                    name,
                    f"models:/{logged_model_id}",
                    run_id=run_id,
                    tags=dict(version.tags or {}),
                    description=version.description or None,
                    model_id=logged_model_id,
                )
                if int(mv.version) == number:
                    break
                if int(mv.version) > number:
                    raise Conflict(
                        f"the target gave {name} version {mv.version} where the source has {number}",
                        value=f"{name}@{number}",
                        hint="migrate into an empty MLflow workspace",
                    )
                client.delete_model_version(name, mv.version)  # a number the source skipped (a deleted version)
        return logged_model_id, location


def logged_model_of(version: Any) -> str | None:
    """The logged model a registry version was made from (``model_id``, else its ``models:/m-...`` source)."""
    if getattr(version, "model_id", None):
        return str(version.model_id)
    source = str(version.source or "")
    if source.startswith("models:/m-") and "/" not in source[len("models:/") :]:
        return source[len("models:/") :]
    return None


def set_aliases(target: MlflowBackend, model: dict[str, Any]) -> None:
    """Give the target's registered model the source's aliases."""
    with _wrap(f"set the aliases of {model['name']}", target.tracking_uri):
        for alias, number in sorted(model["aliases"].items()):
            target.client.set_registered_model_alias(model["name"], alias, str(number))
