"""The content-addressed object store: snapshots of data, notebooks and reports, named by hash.

An object is stored once under ``objects/<2 hex>/<rest of its sha256>``; storing the same bytes
again writes nothing. Writes are atomic (temporary file, fsync, rename, fsync of the folder), files
are 0600 and folders 0700, and reading re-hashes the bytes so a corrupted object is refused with an
error that names it. A shared folder (an NFS or SMB mount every team member and Dask worker sees)
is this store too; any other fsspec URL (``s3://`` ...) is
:class:`~jupyter_mlops.store.fsspec_objects.FsspecObjectStore`, with the same methods.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..core.paths import resolve_object_path, validate_object_id
from ..errors import IntegrityError, NotFound, WorkspaceCorrupt, WorkspaceReadOnly

__all__ = ["ObjectStore", "StoredObject", "read_verified"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredObject:
    """The result of :meth:`ObjectStore.put_bytes` / :meth:`ObjectStore.put_file`."""

    object_id: str
    size: int
    created: bool

    @property
    def uri(self) -> str:
        return f"mlops-object:{self.object_id}"


class ObjectStore:
    """A content-addressed folder of immutable objects."""

    def __init__(self, root: str | Path, *, read_only: bool = False) -> None:
        self.root = Path(root)
        self.read_only = read_only

    def _path(self, object_id: str) -> Path:
        """The object's path; refuses a malformed id and an object file that links out of the store."""
        validate_object_id(object_id)
        if not self.root.exists():
            return self.root / object_id[:2] / object_id[2:]
        return resolve_object_path(self.root, object_id)

    def check(self, object_id: str) -> None:
        """Refuse a malformed id, and an object file that links out of the store, before anything reads it."""
        self._path(object_id)

    def ensure(self) -> None:
        """Create the store folder (0700)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def exists(self, object_id: str) -> bool:
        return self._path(object_id).is_file()

    def path(self, object_id: str) -> Path:
        """The local path of an object (after validating the id); the object may not exist."""
        return self._path(object_id)

    def put_bytes(self, data: bytes) -> StoredObject:
        """Store ``data`` unless an object with the same hash is already there."""
        object_id = hashlib.sha256(data).hexdigest()
        return self._store(object_id, lambda fh: fh.write(data), len(data))

    def put_file(self, source: str | Path) -> StoredObject:
        """Store a file's bytes (hashed while reading, then copied once)."""
        h = hashlib.sha256()
        size = 0
        with open(source, "rb") as fh:
            while block := fh.read(_CHUNK):
                h.update(block)
                size += len(block)
        object_id = h.hexdigest()

        def write(out: BinaryIO) -> None:
            with open(source, "rb") as src:
                shutil.copyfileobj(src, out)

        return self._store(object_id, write, size)

    def put_stream(self, write: Callable[[BinaryIO], object]) -> StoredObject:
        """Store what ``write`` writes to the file it is given, hashed on the way to disk.

        For a snapshot made on the fly (a frame's Parquet): it goes straight into a temporary file
        of the store, with no copy in memory and no second pass to hash it; bytes already stored
        under the same hash are kept and the temporary file is removed.
        """
        self._check_writable()
        try:
            self.ensure()
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        except OSError as exc:
            raise self._unwritable(exc) from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                out = _HashingWriter(fh)
                write(out)  # type: ignore[arg-type]
                fh.flush()
                os.fsync(fh.fileno())
            object_id, size = out.hash.hexdigest(), out.size
            target = self._path(object_id)
            if target.is_file():
                os.unlink(tmp)
                return StoredObject(object_id, size, created=False)
            target.parent.mkdir(mode=0o700, exist_ok=True)
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except BaseException:
            with _suppress():
                os.unlink(tmp)
            raise
        return StoredObject(object_id, size, created=True)

    def _check_writable(self) -> None:
        if self.read_only:
            raise WorkspaceReadOnly(
                f"read-only workspace: storing an object needs to write {self.root}, which this user cannot write",
                value=str(self.root),
                hint="reading works; to change it, work on a copy you can write or ask the workspace's owner",
            )

    def _unwritable(self, exc: OSError) -> WorkspaceCorrupt:
        return WorkspaceCorrupt(
            f"cannot write to the object store {self.root}: {exc.strerror}",
            value=str(self.root),
            hint="check the folder's permissions and free disk space",
        )

    def _store(self, object_id: str, write: Callable[[BinaryIO], object], size: int) -> StoredObject:
        target = self._path(object_id)
        if target.is_file():
            return StoredObject(object_id, size, created=False)
        self._check_writable()
        folder = target.parent
        try:
            self.ensure()
            folder.mkdir(mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        except OSError as exc:
            raise self._unwritable(exc) from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
            _fsync_dir(folder)
        except BaseException:
            with _suppress():
                os.unlink(tmp)
            raise
        return StoredObject(object_id, size, created=True)

    def open_verified(self, object_id: str) -> bytes:
        """Return an object's bytes after checking they still hash to ``object_id``."""
        path = self._path(object_id)
        return read_verified(object_id, path.read_bytes)

    def verify(self, object_id: str) -> str | None:
        """``None`` when the object is intact, else ``"missing"`` or ``"corrupt"``."""
        path = self._path(object_id)
        if not path.is_file():
            return "missing"
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(_CHUNK):
                h.update(block)
        return None if h.hexdigest() == object_id else "corrupt"

    def iter_ids(self) -> Iterator[str]:
        """Every object id present on disk."""
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                for f in sorted(sub.iterdir()):
                    if not f.name.startswith(".tmp-"):
                        yield sub.name + f.name


def _fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _HashingWriter:
    """A write-only file that SHA-256-hashes and counts what passes through it."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.hash = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += self._fh.write(data)
        return len(memoryview(data))

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._fh.flush()

    def writable(self) -> bool:
        return True


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


def read_verified(object_id: str, read: Callable[[], bytes]) -> bytes:
    """``read()``'s bytes, refused unless they hash to ``object_id`` (one rule for every store)."""
    try:
        data = read()
    except FileNotFoundError:
        raise NotFound(
            f"object {object_id} is missing from the object store",
            value=object_id,
            hint="run `jupyter-mlops data verify` to list every missing object",
        ) from None
    if hashlib.sha256(data).hexdigest() != object_id:
        raise IntegrityError(
            f"object {object_id} is corrupt: its bytes no longer match its hash",
            value=object_id,
            hint="restore the object from a backup; it will not be loaded",
        )
    return data
