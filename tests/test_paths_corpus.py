"""A corpus of traversal and injection payloads: every one is refused by core/paths.py, and nothing
outside the object store is read, created or deleted while they are tried (checked with a Python
audit hook on ``open``/``os.*`` events and by comparing the file tree before and after)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.core import paths
from jupyter_mlops.errors import UnsafePath

TRAVERSAL = [
    "..",
    "../",
    "../../etc/passwd",
    "../../../../../../etc/shadow",
    "a/../../b",
    "data/../../../outside",
    "..\\..\\windows\\win.ini",
    "a\\..\\b",
    "%2e%2e",
    "%2e%2e%2f",
    "%2E%2E%2Fetc%2Fpasswd",
    "..%2f..%2fetc",
    "%252e%252e",
    "%252e%252e%252fetc",
    "..%252f..%252f",
    "%c0%ae%c0%ae",
    "%c0%ae%c0%ae/etc",
    "\uff0e\uff0e",
    "\uff0e\uff0e/etc",
    "..\u2215etc",
    ".../...",
    "....//....//etc",
    "/etc/passwd",
    "/",
    "//server/share",
    "C:\\Windows\\System32",
    "C:/Windows",
    "~",
    "~root/.ssh/id_rsa",
    "file:///etc/passwd",
    "\\\\?\\C:\\",
    "name\x00.csv",
    "\x00",
    "a%00b",
    "arrests%00@1",
    "x" * 129,
    "a" * 5000,
    ".hidden",
    ".",
    "-rf",
    "--help",
    "name with space",
    "tab\tname",
    "new\nline",
    "carriage\rreturn",
    "$(rm -rf ~)",
    "`id`",
    "a;rm -rf /",
    "a|cat /etc/passwd",
    "a&&b",
    "' OR '1'='1",
    '"; DROP TABLE data_versions; --',
    "<script>alert(1)</script>",
    "{{7*7}}",
    "${jndi:ldap://x/a}",
    "%s%s%s%n",
    "a/b",
    "a\\b",
    "ａrrests",
    "arrests\u200b",
    "e\u0301t\u00e9",
    "",
    " ",
]

SPECS = [
    "arrests@../../etc/passwd",
    "arrests@..",
    "arrests@1/../../x",
    "arrests@0",
    "arrests@-1",
    "arrests@9999999999",
    "arrests@latest/../x",
    "arrests@%2e%2e",
    "arrests@@1",
    "arrests@1@2",
    "arrests@latest\\..\\x",
    "arrests@1 ",
    "arrests@\x00",
    "../arrests@1",
    "/abs@1",
    "@1",
]

OBJECT_IDS = [
    "../../../etc/passwd",
    "ab/../../cd",
    "ABCDEF0123456789abcdef",
    "0123456789abcde",
    "g" * 64,
    "a" * 129,
    "/" + "a" * 63,
    "a" * 63 + "\x00",
    "%2e%2e" + "a" * 58,
]


def test_corpus_is_large_enough() -> None:
    assert len(TRAVERSAL) + len(SPECS) + len(OBJECT_IDS) >= 60
    assert len(set(TRAVERSAL)) == len(TRAVERSAL)


@pytest.fixture(scope="module")
def store_ws(tmp_path_factory: pytest.TempPathFactory) -> mlops.Workspace:
    from jupyter_mlops.create import init

    ws = init(tmp_path_factory.mktemp("corpus") / "project", user="alice")
    ws.data.version(pd.DataFrame({"a": [1, 2]}), "arrests")
    return ws


class _Recorder:
    """Collects the paths of file-system audit events while active (hooks cannot be removed)."""

    def __init__(self) -> None:
        self.active = False
        self.paths: list[str] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active or not (event == "open" or event.startswith(("os.", "shutil."))) or "env" in event:
            return
        for arg in args[:2]:
            if isinstance(arg, (str, bytes, os.PathLike)):
                self.paths.append(os.fsdecode(arg))


_recorder = _Recorder()
sys.addaudithook(_recorder)


def _tree(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in root.rglob("*") if p.is_file() and ".mlops" not in p.parts}


@pytest.fixture
def watched(tmp_path: Path, store_ws: mlops.Workspace) -> Iterator[tuple[Path, list[str]]]:
    """A file outside the store that payloads aim at, and the paths touched while the test runs."""
    outside = store_ws.settings.root.parent
    secret = outside / "etc" / "passwd"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text("root:x:0:0")
    before = _tree(outside)
    _recorder.paths.clear()
    _recorder.active = True
    try:
        yield outside, _recorder.paths
    finally:
        _recorder.active = False
    assert _tree(outside) == before, "a file outside the store was created, changed or deleted"
    home = str(store_ws.settings.home.resolve())
    touched_outside = [
        p
        for p in _recorder.paths
        if str(Path(p).resolve()).startswith(str(outside.resolve())) and not str(Path(p).resolve()).startswith(home)
    ]
    assert touched_outside == []
    aimed_at = [p for p in _recorder.paths if "passwd" in p or "shadow" in p or "win.ini" in p]
    assert aimed_at == []


@pytest.mark.parametrize("payload", TRAVERSAL)
def test_names_are_refused(payload: str, store_ws: mlops.Workspace, watched: tuple[Path, list[str]]) -> None:
    with pytest.raises(UnsafePath):
        paths.validate_name(payload)
    with pytest.raises(UnsafePath):
        store_ws.data.version(pd.DataFrame({"a": [1]}), payload)
    with pytest.raises(UnsafePath):
        store_ws.data.load(payload)
    with pytest.raises(UnsafePath):
        store_ws.data.load(f"{payload}@1")
    with pytest.raises(UnsafePath):
        store_ws.data.diff(payload, "arrests@1")
    with pytest.raises(UnsafePath):  # the same payload used as a path climbs out of (or breaks) the store
        paths.resolve_inside(store_ws.objects.root, payload if "\x00" in payload else "../" + payload)


@pytest.mark.parametrize("payload", SPECS)
def test_version_specs_are_refused(payload: str, store_ws: mlops.Workspace, watched: tuple[Path, list[str]]) -> None:
    with pytest.raises(UnsafePath):
        paths.parse_version_spec(payload)
    with pytest.raises(UnsafePath):
        store_ws.data.load(payload)
    with pytest.raises(UnsafePath):
        store_ws.data.show(payload)


@pytest.mark.parametrize("payload", OBJECT_IDS)
def test_object_ids_are_refused(payload: str, store_ws: mlops.Workspace, watched: tuple[Path, list[str]]) -> None:
    with pytest.raises(UnsafePath):
        paths.validate_object_id(payload)
    with pytest.raises(UnsafePath):
        paths.resolve_object_path(store_ws.objects.root, payload)
    with pytest.raises(UnsafePath):
        store_ws.objects.open_verified(payload)


@pytest.mark.parametrize(
    "payload",
    ["../../etc/passwd", "%2e%2e/%2e%2e/etc", "/etc/passwd", "a\\..\\..\\b", "~/x", "a/\x00", "a/../../../../etc"],
)
def test_relative_paths_cannot_leave_the_store(payload: str, store_ws: mlops.Workspace, watched: tuple[Path, list[str]]) -> None:
    with pytest.raises(UnsafePath):
        paths.resolve_inside(store_ws.objects.root, payload)


def test_file_paths_with_nul_or_excess_length_are_refused(store_ws: mlops.Workspace, watched: tuple[Path, list[str]]) -> None:
    for payload in ["data\x00.csv", "x" * 5000]:
        with pytest.raises(UnsafePath):
            store_ws.data.version(payload, "files")


def test_symlink_out_of_the_store_is_refused_without_reading(store_ws: mlops.Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    version = store_ws.data.get("arrests@1")
    obj = store_ws.objects.path(version.object_id)
    saved = obj.read_bytes()
    obj.unlink()
    obj.symlink_to(secret)
    _recorder.paths.clear()
    _recorder.active = True
    try:
        with pytest.raises(UnsafePath, match="outside"):
            store_ws.data.load("arrests@1")
        report = store_ws.data.verify()
    finally:
        _recorder.active = False
        obj.unlink()
        obj.write_bytes(saved)
        os.chmod(obj, 0o600)
    assert not any("secret" in p for p in _recorder.paths)
    assert [c["reason"] for c in report.corrupt] == ["link out of the store"]
    assert store_ws.data.verify().ok
