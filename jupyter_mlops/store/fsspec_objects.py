"""The content-addressed object store on any fsspec URL: ``s3://``, ``gs://``, ``abfs://`` ...

The same contract as :class:`~jupyter_mlops.store.objects.ObjectStore` (a folder, local or a
shared mount, which stays the choice for paths and ``file://`` URLs): an object is stored once
under ``<url>/<2 hex>/<rest of its sha256>``, storing the same bytes again writes nothing, and
reading re-hashes the bytes and refuses a corrupted object with an error that names it.

Writes cannot leave a half object under its name: on object stores a PUT is atomic (the object
appears whole or not at all); on other file systems the bytes go to a temporary name first and are
moved into place. fsspec is used because it is the one interface pandas, Dask and MLflow's own
artifact code already speak for every store a team may have; its back-ends (``s3fs``, ``gcsfs``,
``adlfs``) read their credentials from their usual places (``AWS_*`` variables,
``~/.aws/credentials`` ...), never from ``config.toml``. ``[objects] options`` passes storage
options such as ``endpoint_url`` for an S3-compatible server.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO, TypeVar

from ..core.paths import validate_object_id
from ..errors import IntegrityError, NotFound, WorkspaceCorrupt, WorkspaceReadOnly, redact
from .objects import ObjectStore, StoredObject, _HashingWriter, read_verified

__all__ = ["FsspecObjectStore", "open_store"]

_CHUNK = 1 << 20
#: Protocols whose single PUT is atomic: no temporary name needed.
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "abfs", "az", "adl", "memory"}
T = TypeVar("T")


class FsspecObjectStore:
    """A content-addressed store of immutable objects at an fsspec URL."""

    def __init__(self, url: str, *, read_only: bool = False, options: Mapping[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.read_only = read_only
        self.options = dict(options or {})
        self._fs: Any = None
        self._base = ""

    @property
    def fs(self) -> Any:
        if self._fs is None:
            import fsspec

            try:
                self._fs, self._base = fsspec.core.url_to_fs(self.url, **self.options)
            except (ImportError, ValueError) as exc:
                scheme = self.url.split("://", 1)[0]
                raise WorkspaceCorrupt(
                    f"cannot open the object store {redact(self.url)}: {exc}",
                    value=redact(self.url),
                    hint=f"install the fsspec back-end for {scheme}:// (s3fs for s3://, gcsfs for gs://, adlfs for abfs://)",
                ) from None
        return self._fs

    @property
    def root(self) -> str:
        """The store's URL (there is no local folder)."""
        return self.url

    def _key(self, object_id: str) -> str:
        oid = validate_object_id(object_id)
        _ = self.fs
        return f"{self._base}/{oid[:2]}/{oid[2:]}"

    def check(self, object_id: str) -> None:
        """Refuse a malformed id (there are no links to follow in an object store)."""
        validate_object_id(object_id)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except FileNotFoundError as exc:
            if what != "write to":  # a missing object, reported by the caller as such
                raise
            raise WorkspaceCorrupt(
                f"cannot write to the object store {redact(self.url)}: its bucket or folder does not exist",
                value=redact(self.url),
                hint="create the bucket (or folder), or correct [objects] url in .mlops/config.toml",
            ) from exc
        except (NotFound, IntegrityError):
            raise
        except (OSError, ValueError) as exc:
            raise WorkspaceCorrupt(
                f"cannot {what} the object store {redact(self.url)}: {redact(str(exc))[:300]}",
                value=redact(self.url),
                hint="check that the store is reachable and that this user's credentials may read and write it",
            ) from None

    def ensure(self) -> None:
        """Create the store's prefix (a no-op on object stores, which have no folders)."""
        if not self.read_only:
            self._call("create", lambda: self.fs.makedirs(self._base, exist_ok=True))

    def exists(self, object_id: str) -> bool:
        key = self._key(object_id)
        return bool(self._call("read", lambda: self.fs.exists(key)))

    def put_bytes(self, data: bytes) -> StoredObject:
        """Store ``data`` unless an object with the same hash is already there."""
        object_id = hashlib.sha256(data).hexdigest()
        return self._store(object_id, len(data), lambda key: self.fs.pipe_file(key, bytes(data)))

    def put_file(self, source: Any) -> StoredObject:
        """Store a file's bytes (hashed while reading, then uploaded once)."""
        h = hashlib.sha256()
        size = 0
        with open(source, "rb") as fh:
            while block := fh.read(_CHUNK):
                h.update(block)
                size += len(block)
        return self._store(h.hexdigest(), size, lambda key: self.fs.put_file(str(source), key))

    def put_stream(self, write: Callable[[BinaryIO], object]) -> StoredObject:
        """Store what ``write`` writes to the file it is given (a frame's Parquet made on the fly).

        The bytes are hashed on their way into a local temporary file, which is then uploaded once
        under its hash (an object store needs the key before the upload) and removed.
        """
        fd, tmp = tempfile.mkstemp(prefix="mlops-put-")
        try:
            with os.fdopen(fd, "wb") as fh:
                out = _HashingWriter(fh)
                write(out)  # type: ignore[arg-type]
            object_id, size = out.hash.hexdigest(), out.size
            return self._store(object_id, size, lambda key: self.fs.put_file(tmp, key))
        finally:
            os.unlink(tmp)

    def _store(self, object_id: str, size: int, write: Callable[[str], object]) -> StoredObject:
        key = self._key(object_id)
        if self._call("read", lambda: self.fs.exists(key)):
            return StoredObject(object_id, size, created=False)
        if self.read_only:
            raise WorkspaceReadOnly(
                f"read-only workspace: storing an object needs to write {redact(self.url)}",
                value=redact(self.url),
                hint="reading works; to change it, work on a copy you can write or ask the workspace's owner",
            )
        if self.fs.protocol and set(_protocols(self.fs)) & _ATOMIC_PUT:
            self._call("write to", lambda: write(key))
        else:
            tmp = f"{key.rsplit('/', 1)[0]}/.tmp-{uuid.uuid4().hex}"
            self._call("write to", lambda: self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True))
            try:
                self._call("write to", lambda: write(tmp))
                self._call("write to", lambda: self.fs.mv(tmp, key))
            finally:
                if self._call("read", lambda: self.fs.exists(tmp)):
                    self._call("clean", lambda: self.fs.rm(tmp))
        return StoredObject(object_id, size, created=True)

    def open_verified(self, object_id: str) -> bytes:
        """Return an object's bytes after checking they still hash to ``object_id``."""
        key = self._key(object_id)
        return read_verified(object_id, lambda: bytes(self._call("read", lambda: self.fs.cat_file(key))))

    def verify(self, object_id: str) -> str | None:
        """``None`` when the object is intact, else ``"missing"`` or ``"corrupt"``."""
        key = self._key(object_id)
        h = hashlib.sha256()
        try:
            with self._call("read", lambda: self.fs.open(key, "rb")) as fh:
                while block := fh.read(_CHUNK):
                    h.update(block)
        except FileNotFoundError:
            return "missing"
        return None if h.hexdigest() == object_id else "corrupt"

    def iter_ids(self) -> Iterator[str]:
        """Every object id present in the store."""
        try:
            found = self._call("list", lambda: self.fs.find(self._base))
        except FileNotFoundError:
            return
        prefix = self._base.rstrip("/") + "/"
        for path in sorted(found):
            rel = str(path)[len(prefix) :] if str(path).startswith(prefix) else str(path)
            parts = rel.split("/")
            if len(parts) == 2 and len(parts[0]) == 2 and not parts[1].startswith(".tmp-"):
                yield parts[0] + parts[1]

    def __repr__(self) -> str:
        return f"FsspecObjectStore({redact(self.url)!r})"


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def open_store(url: str, *, read_only: bool = False, options: Mapping[str, Any] | None = None) -> ObjectStore | FsspecObjectStore:
    """The object store at ``url``: a folder (a path or ``file://``, local or a shared mount), or any
    other fsspec URL (:class:`~jupyter_mlops.store.fsspec_objects.FsspecObjectStore`)."""
    if "://" in url and not url.startswith("file://"):
        return FsspecObjectStore(url, read_only=read_only, options=options)
    return ObjectStore(url.removeprefix("file://"), read_only=read_only)
