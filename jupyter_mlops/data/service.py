"""Data versions: fingerprint, profile, snapshot and catalogue a frame, file or folder; load it back.

``ws.data`` is the one implementation behind ``mlops.version_data``, ``%mlops data ...``, the CLI
and the REST routes. Every input is validated before anything is written; each new version is
one transaction holding the catalogue row, the ``data.version`` audit event and its lineage
edges; inside a tracked run the version is also linked to the run (lineage edge, audit event and
an MLflow dataset input whose digest is our fingerprint). Loading re-hashes the snapshot and
re-fingerprints the decoded frame, and a version with sensitive columns is read only after
``Context.authorize("data.read_sensitive", ...)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.paths import validate_file, validate_name
from ..errors import IntegrityError, InvalidInput, UnsupportedData
from . import fingerprint as fp
from . import origin as _origin
from . import queries
from .entities import DataDiff, DataVerification, DataVersion, DataVersionList
from .schema import data_versions

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..core.context import Context

__all__ = ["DataService"]

_MAX_DESCRIPTION = 4000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _names(value: str | Iterable[str] | None, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) and v for v in items):
        raise InvalidInput(f"{field} must be column names, got {value!r}"[:200], value=repr(value)[:80], field=field)
    return tuple(dict.fromkeys(items))


class DataService:
    """Data versions of one workspace (``ws.data``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- versioning ------------------------------------------------------------------------------
    def version(
        self,
        obj: Any,
        name: str,
        *,
        key: str | Iterable[str] | None = None,
        sensitive: str | Iterable[str] = (),
        description: str | None = None,
        source: dict[str, Any] | None = None,
    ) -> DataVersion:
        """Version a DataFrame, Series, file or folder under ``name``.

        Parameters
        ----------
        obj:
            A pandas DataFrame or Series, or the path of a file or folder.
        name:
            The data set name (letters, digits, ``_``, ``.``, ``-``).
        key:
            Column(s) that identify a row, used by row-level diffs; must be unique and non-null.
        sensitive:
            Columns whose values must never be shown; reading the snapshot needs
            ``data.read_sensitive``.
        description:
            Free text kept with the version.
        source:
            Extra provenance from a front-end (e.g. ``{"variable": "df"}``).

        Returns
        -------
        DataVersion
            The new version, or the latest one when its content, key and sensitive columns are
            unchanged (no new version, no new bytes).
        """
        from ..tracking.runs import run_for

        name = validate_name(name, kind="data name")
        keys, sens = _names(key, "key"), _names(sensitive, "sensitive")
        if description is not None and (not isinstance(description, str) or len(description) > _MAX_DESCRIPTION):
            raise InvalidInput(
                "description must be text of at most 4000 characters", value=repr(description)[:80], field="description"
            )
        prepared = self._prepare(obj, keys, sens)
        run = run_for(self.ctx)
        existing = self._latest_same(name, prepared["fingerprint"], keys, sens)
        if existing is not None:
            if run is not None:
                with self.ctx.transaction() as conn:
                    self._link_run(conn, existing, run.run_id)
            _origin.mark(obj, existing)
            return existing
        parent = self._parent_of(obj, prepared["fingerprint"])
        if prepared["profile"] is None:
            # The profile (numpy, which releases the GIL in its loops) runs on a helper thread while
            # the Parquet snapshot is encoded (in C++, GIL released too): on two cores they overlap.
            from concurrent.futures import ThreadPoolExecutor

            from .profile import profile_frame

            with ThreadPoolExecutor(1, thread_name_prefix="mlops-profile") as pool:
                profiling = pool.submit(profile_frame, obj, frozenset(sens))
                object_id, size = self._snapshot(obj, prepared)
                prepared["profile"] = profiling.result()
        else:
            object_id, size = self._snapshot(obj, prepared)
        src = {**prepared["source"], **{str(k): str(v)[:500] for k, v in (source or {}).items()}}
        if run is not None:
            src.update(run_id=run.run_id, **{k: str(run.source[k]) for k in ("notebook", "cell_id") if run.source.get(k)})
        elif self.ctx.settings.notebook_path:
            src.setdefault("notebook", self.ctx.settings.notebook_path)
        with self.ctx.transaction() as conn:
            again = self._latest_same(name, prepared["fingerprint"], keys, sens, conn=conn)
            if again is not None:
                return again
            number = (
                conn.execute(sa.select(sa.func.max(data_versions.c.version)).where(data_versions.c.name == name)).scalar() or 0
            ) + 1
            version = DataVersion(
                name=name,
                version=number,
                kind=prepared["kind"],
                fingerprint=prepared["fingerprint"],
                scheme=fp.SCHEME,
                schema=prepared["schema"],
                schema_hash=_schema_hash(prepared["schema"]),
                n_rows=prepared["n_rows"],
                n_cols=prepared["n_cols"],
                profile=prepared["profile"],
                source=src,
                object_id=object_id,
                size_bytes=size,
                creator=self.ctx.actor,
                created=_now(),
                key=keys,
                sensitive=sens,
                description=description,
            )
            event = self.ctx.record(
                conn,
                "data.version",
                "data_version",
                version.spec,
                {
                    "name": name,
                    "version": number,
                    "kind": version.kind,
                    "fingerprint": version.fingerprint,
                    "scheme": version.scheme,
                    "schema_hash": version.schema_hash,
                    "object_id": object_id,
                    "rows": version.n_rows,
                    "cols": version.n_cols,
                    "key": list(keys),
                    "sensitive": list(sens),
                },
            )
            conn.execute(
                sa.insert(data_versions).values(
                    name=name,
                    version=number,
                    kind=version.kind,
                    fingerprint=version.fingerprint,
                    scheme=version.scheme,
                    schema_json=json.dumps(version.schema, sort_keys=True),
                    schema_hash=version.schema_hash,
                    n_rows=version.n_rows,
                    n_cols=version.n_cols,
                    profile_json=json.dumps(version.profile, sort_keys=True),
                    source_json=json.dumps(version.source, sort_keys=True),
                    object_id=object_id,
                    size_bytes=size,
                    key_json=json.dumps(list(keys)),
                    sensitive_json=json.dumps(list(sens)),
                    description=description,
                    creator=version.creator,
                    created=version.created,
                    audit_seq=event.seq,
                )
            )
            self.ctx.link(
                conn, ("data_version", version.spec), "version_of", ("dataset", name), {"fingerprint": version.fingerprint}
            )
            if number > 1:
                self.ctx.link(conn, ("data_version", version.spec), "follows", ("data_version", f"{name}@{number - 1}"))
            if src.get("notebook"):
                self.ctx.link(conn, ("notebook", str(src["notebook"])), "source_of", ("data_version", version.spec))
            if parent is not None:
                node, parent_node = ("data_version", version.spec), ("data_version", parent["data_version"])
                self.ctx.link(conn, node, "derived_from", parent_node, parent)
            if run is not None:
                self._link_run(conn, version, run.run_id)
        _origin.mark(obj, version)
        return version

    def _parent_of(self, obj: Any, fingerprint: str) -> dict[str, Any] | None:
        """The version a frame about to be versioned was derived from (its mark), with what was kept."""
        if _origin.marked_spec(obj) is None:
            return None
        found = _origin.describe(self.ctx, obj, fingerprint=fingerprint)
        return found if found.get("derived") else None

    def origin(self, obj: Any) -> dict[str, Any]:
        """Where ``obj`` came from: the data version it is, or was derived from, or its own fingerprint.

        See :func:`jupyter_mlops.data.origin.describe`; ``evaluate`` and ``log_model`` record this
        for the frames they are given.
        """
        return _origin.describe(self.ctx, obj)

    def find_by_fingerprint(self, fingerprint: str) -> DataVersion | None:
        """The newest version whose full-content fingerprint is ``fingerprint``, or ``None``."""
        return queries.find_by_fingerprint(self.ctx, fingerprint)

    def _prepare(self, obj: Any, keys: tuple[str, ...], sens: tuple[str, ...]) -> dict[str, Any]:
        """Validate ``obj`` and compute everything a version needs, writing nothing."""
        from .profile import frame_schema
        from .validate import check_frame, classify

        kind = classify(obj)
        if kind in ("frame", "series"):
            check_frame(obj, keys, sens)
            fingerprint = fp.fingerprint_object(obj)
            schema = frame_schema(obj)
            return {
                "kind": kind,
                "fingerprint": fingerprint,
                "schema": schema,
                "profile": None,  # computed only when a new version is made (it costs more than the fingerprint)
                "n_rows": len(obj),
                "n_cols": 1 if kind == "series" else obj.shape[1],
                "source": {"type": "python", "class": type(obj).__name__},
            }
        path = validate_file(obj, must_exist=True, allow_dir=True)
        shown = self._show_path(path)
        if kind == "folder":
            fingerprint, entries = fp.fingerprint_folder(path)
            if not entries:
                raise UnsupportedData(
                    f"folder {shown} has no files", value=shown, hint="version a folder that holds files", field="obj"
                )
            files = [{"path": e.relpath, "size": e.size, "fingerprint": e.fingerprint} for e in entries]
            schema = {"kind": "folder", "files": files}
            return {
                "kind": kind,
                "fingerprint": fingerprint,
                "schema": schema,
                "profile": {},
                "n_rows": len(files),
                "n_cols": 0,
                "source": {"type": "folder", "path": shown},
                "entries": entries,
            }
        size = path.stat().st_size
        schema = {"kind": "file", "filename": path.name, "size": size}
        return {
            "kind": kind,
            "fingerprint": fp.fingerprint_file(path),
            "schema": schema,
            "profile": {},
            "n_rows": 0,
            "n_cols": 0,
            "source": {"type": "file", "path": shown},
            "path": path,
        }

    def _show_path(self, path: Path) -> str:
        resolved = path.resolve()
        try:
            return resolved.relative_to(self.ctx.settings.root.resolve()).as_posix()
        except ValueError:
            return str(resolved)

    def _snapshot(self, obj: Any, prepared: dict[str, Any]) -> tuple[str, int]:
        """Store the snapshot once (reusing any intact object of a version with the same content)."""
        from .snapshot import encode_frame, manifest_bytes

        with self.ctx.read() as conn:
            rows = conn.execute(
                sa.select(data_versions.c.object_id, data_versions.c.size_bytes).where(
                    data_versions.c.fingerprint == prepared["fingerprint"], data_versions.c.scheme == fp.SCHEME
                )
            ).all()
        for r in rows:
            if self.ctx.objects.verify(r.object_id) is None:
                return r.object_id, int(r.size_bytes)
        kind = prepared["kind"]
        if kind in ("frame", "series"):
            stored = self.ctx.objects.put_stream(lambda sink: encode_frame(obj, prepared["schema"], sink))
            return stored.object_id, stored.size
        if kind == "file":
            stored = self.ctx.objects.put_file(prepared["path"])
            return stored.object_id, stored.size
        files = []
        for e in prepared["entries"]:
            obj_file = self.ctx.objects.put_file(e.path)
            files.append({"path": e.relpath, "size": e.size, "object_id": obj_file.object_id, "fingerprint": e.fingerprint})
        stored = self.ctx.objects.put_bytes(manifest_bytes(prepared["fingerprint"], fp.SCHEME, files))
        return stored.object_id, sum(f["size"] for f in files)

    def _latest_same(
        self, name: str, fingerprint: str, keys: tuple[str, ...], sens: tuple[str, ...], *, conn: Connection | None = None
    ) -> DataVersion | None:
        q = sa.select(data_versions).where(data_versions.c.name == name).order_by(data_versions.c.version.desc()).limit(1)
        if conn is None:
            with self.ctx.read() as c:
                row = c.execute(q).first()
        else:
            row = conn.execute(q).first()
        if row is None:
            return None
        latest = queries.row_to_version(row)
        same = latest.fingerprint == fingerprint and latest.scheme == fp.SCHEME
        return latest if same and set(latest.key) == set(keys) and set(latest.sensitive) == set(sens) else None

    def use(self, spec: str | DataVersion, run_id: str) -> DataVersion:
        """Record that run ``run_id`` reads version ``spec`` without loading it (a stage's declared input).

        The same records as loading it inside the run: a lineage edge, a ``data.use`` audit event
        and an MLflow dataset input; nothing is written when the link exists already.
        """
        version = self.get(spec)
        with self.ctx.transaction() as conn:
            self._link_run(conn, version, run_id)
        return version

    def _link_run(self, conn: Connection, version: DataVersion, run_id: str) -> None:
        """Lineage edge, audit event and MLflow dataset input for ``version`` used in run ``run_id``."""
        from ..tracking.datasets import log_dataset_input

        edge = {"fingerprint": version.fingerprint}
        new = self.ctx.link(conn, ("data_version", version.spec), "input_of", ("run", run_id), edge)
        if not new:
            return
        self.ctx.record(conn, "data.use", "data_version", version.spec, {"run_id": run_id, "fingerprint": version.fingerprint})
        log_dataset_input(
            self.ctx.tracking,
            run_id,
            name=version.spec,
            fingerprint=version.fingerprint,
            source={"spec": version.spec, "fingerprint": version.fingerprint, "scheme": version.scheme, "uri": version.location},
            columns=version.schema.get("columns", []),
            profile={"num_rows": version.n_rows, "num_cols": version.n_cols, "kind": version.kind},
            tags={"mlops.spec": version.spec},
        )

    # -- reading (data/queries.py) ---------------------------------------------------------------
    def get(self, spec: str | DataVersion) -> DataVersion:
        """The version ``spec`` names: ``"name@3"``, ``"name@latest"``, ``"name"`` or ``"name@<fingerprint>"``."""
        return queries.show(self.ctx, spec)

    show = get

    def list(self, name: str | None = None, *, limit: int = 200) -> DataVersionList:
        """Data versions, newest first (of one data set when ``name`` is given)."""
        return queries.versions(self.ctx, name, limit=limit)

    def load(self, spec: str | DataVersion) -> Any:
        """The exact data of a version: a DataFrame or Series, a file's bytes, or a folder's ``{path: bytes}``.

        The snapshot is re-hashed (a corrupt object raises :class:`IntegrityError` naming it) and a
        decoded frame is re-fingerprinted. Inside a tracked run the version is linked to the run.
        """
        from ..tracking.runs import run_for

        version = self.get(spec)
        data = self._read(version)
        run = run_for(self.ctx)
        if run is not None:
            with self.ctx.transaction() as conn:
                self._link_run(conn, version, run.run_id)
        _origin.mark(data, version)  # frames derived from it still name it (see data/origin.py)
        return data

    def _object(self, object_id: str) -> bytes:
        self.ctx.objects.check(object_id)  # refuse links out of the store before reading
        return self.ctx.objects.open_verified(object_id)

    def _read(self, version: DataVersion) -> Any:
        from .snapshot import decode_frame, parse_manifest

        if version.sensitive:
            self.ctx.authorize("data.read_sensitive", version.spec, owner=version.creator)
        data = self._object(version.object_id)
        if version.kind == "file":
            return data
        if version.kind == "folder":
            return {f["path"]: self._object(f["object_id"]) for f in parse_manifest(data, version.object_id)}
        frame = decode_frame(data, version.schema)
        if fp.fingerprint_object(frame) != version.fingerprint:
            raise IntegrityError(
                f"the snapshot of {version.spec} (object {version.object_id}) decodes to other data than was versioned",
                value=version.object_id,
                hint="the object or the catalogue was altered; restore them from a backup",
            )
        return frame

    # -- comparing and checking ------------------------------------------------------------------
    def diff(self, a: str | DataVersion, b: str | DataVersion, *, key: str | Iterable[str] | None = None) -> DataDiff:
        """Schema, row-count and profile changes from ``a`` to ``b``; rows added/removed/changed with a key."""
        from .diff import diff_versions

        va, vb = self.get(a), self.get(b)
        keys = _names(key, "key") or vb.key or va.key
        frames = None
        if keys and va.fingerprint != vb.fingerprint and {va.kind, vb.kind} <= {"frame", "series"}:
            fa, fb = self._read(va), self._read(vb)
            frames = (fa.to_frame() if hasattr(fa, "to_frame") else fa, fb.to_frame() if hasattr(fb, "to_frame") else fb)
        return diff_versions(va, vb, key=keys if frames is not None else (), frames=frames)

    def verify(self) -> DataVerification:
        """Re-hash every object in the store and every object a version references; list the bad ones."""
        from .verify import verify_store

        return verify_store(self.ctx)


def _schema_hash(schema: dict[str, Any]) -> str:
    from .profile import schema_hash

    return schema_hash(schema)
