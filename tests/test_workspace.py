"""The workspace: creation, discovery, settings precedence and refusal of bad folders."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.config import resolve_settings, settings_context
from jupyter_mlops.errors import SchemaTooNew, WorkspaceCorrupt, WorkspaceNotFound


def test_init_creates_the_layout_with_private_modes(tmp_path: Path) -> None:
    ws = mlops.init(tmp_path, user="alice")
    home = tmp_path / ".mlops"
    for name in ("config.toml", "mlflow.db", "mlops.db", "artifacts", "objects", "keys"):
        assert (home / name).exists(), name
    assert stat.S_IMODE(os.stat(home / "keys").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(home / "keys" / "audit_ed25519.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home / "objects").st_mode) == 0o700
    with sqlite3.connect(home / "mlops.db") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = dict(con.execute("SELECT component, version FROM schema_versions"))
    assert {"audit", "tracking", "lineage"} <= set(versions)
    events = ws.audit_events()
    assert [e.action for e in events] == ["workspace.init"]
    assert events[0].actor == "alice"


def test_init_twice_opens_the_same_workspace(tmp_path: Path) -> None:
    first = mlops.init(tmp_path, user="alice")
    again = mlops.init(tmp_path, user="alice")
    assert again.settings.workspace_id == first.settings.workspace_id
    assert len(again.audit_events()) == 1


def test_discovery_walks_up_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlops.init(tmp_path)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert mlops.Workspace.open().settings.root == tmp_path.resolve()


def test_jupyter_mlops_home_wins_over_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlops.init(tmp_path / "one")
    mlops.init(tmp_path / "two")
    monkeypatch.chdir(tmp_path / "one")
    monkeypatch.setenv("JUPYTER_MLOPS_HOME", str(tmp_path / "two" / ".mlops"))
    assert mlops.Workspace.open().settings.root == (tmp_path / "two").resolve()


def test_missing_workspace_names_the_folder_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceNotFound) as info:
        mlops.Workspace.open()
    assert str(tmp_path.resolve()) in str(info.value)
    assert "init" in str(info.value)


def test_foreign_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".mlops").mkdir()
    (tmp_path / ".mlops" / "config.toml").write_text('[tool]\nname = "other"\n')
    with pytest.raises(WorkspaceCorrupt, match="not a jupyter-mlops configuration"):
        mlops.Workspace.open(tmp_path)
    (tmp_path / ".mlops" / "config.toml").write_text("this is = = not toml")
    with pytest.raises(WorkspaceCorrupt, match="not valid TOML"):
        mlops.Workspace.open(tmp_path)


def test_corrupt_metadata_database_is_one_clear_error(tmp_path: Path) -> None:
    mlops.init(tmp_path)
    (tmp_path / ".mlops" / "mlops.db").write_bytes(b"garbage" * 1000)
    for suffix in ("-wal", "-shm"):
        (tmp_path / ".mlops" / f"mlops.db{suffix}").unlink(missing_ok=True)
    with pytest.raises(WorkspaceCorrupt, match="cannot open the metadata database"):
        mlops.Workspace.open(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes")
def test_unwritable_folder_is_refused_and_nothing_is_left(tmp_path: Path) -> None:  # pragma: no cover - non-root
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(WorkspaceCorrupt):
            mlops.init(tmp_path)
    finally:
        tmp_path.chmod(0o700)
    assert not (tmp_path / ".mlops").exists()


def test_unwritable_location_even_as_root(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WorkspaceCorrupt, match="cannot create"):
        mlops.init(blocker / "sub")


def test_failed_init_removes_the_half_made_folder(tmp_path: Path) -> None:
    with pytest.raises(mlops.MlopsError):
        with settings_context(tracking_uri="nonsense://x"):
            mlops.init(tmp_path)
    assert not (tmp_path / ".mlops").exists()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    mlops.init(tmp_path)
    with sqlite3.connect(tmp_path / ".mlops" / "mlops.db") as con:
        con.execute("UPDATE schema_versions SET version = 99 WHERE component = 'audit'")
    with pytest.raises(SchemaTooNew, match="version 99"):
        mlops.Workspace.open(tmp_path)


def test_settings_precedence_argument_context_env_file_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlops.init(tmp_path)
    cfg = tmp_path / ".mlops" / "config.toml"
    cfg.write_text(cfg.read_text().replace('default_experiment = "Default"', 'default_experiment = "from-file"'))
    assert resolve_settings(tmp_path).default_experiment == "from-file"
    monkeypatch.setenv("JUPYTER_MLOPS_EXPERIMENT", "from-env")
    assert resolve_settings(tmp_path).default_experiment == "from-env"
    with settings_context(default_experiment="from-context"):
        assert resolve_settings(tmp_path).default_experiment == "from-context"
    monkeypatch.setenv("JUPYTER_MLOPS_USER", "env-user")
    assert resolve_settings(tmp_path).user == "env-user"
    assert resolve_settings(tmp_path, user="arg-user").user == "arg-user"


def test_team_mode_urls_are_kept_as_urls(tmp_path: Path) -> None:
    mlops.init(tmp_path)
    cfg = tmp_path / ".mlops" / "config.toml"
    text = cfg.read_text()
    text = text.replace('# uri = "http://mlflow.internal:5000"', 'uri = "http://mlflow.internal:5000"')
    text = text.replace(
        '# url = "postgresql+psycopg://mlops@db.internal/mlops"', 'url = "postgresql+psycopg://mlops@db.internal/mlops"'
    )
    cfg.write_text(text)
    s = resolve_settings(tmp_path)
    assert s.tracking_uri == "http://mlflow.internal:5000"
    assert s.registry_uri == "http://mlflow.internal:5000"
    assert s.metadata_url == "postgresql+psycopg://mlops@db.internal/mlops"


def test_relative_paths_in_config_resolve_against_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlops.init(tmp_path)
    sub = tmp_path / "notebooks"
    sub.mkdir()
    monkeypatch.chdir(sub)
    s = resolve_settings()
    assert s.tracking_uri == f"sqlite:///{tmp_path.resolve()}/.mlops/mlflow.db"
    assert Path(s.object_store) == tmp_path.resolve() / ".mlops" / "objects"


def test_as_user_changes_only_the_actor(ws: mlops.Workspace) -> None:
    bob = ws.as_user("bob")
    with bob.transaction() as conn:
        bob.record(conn, "test.touch", "thing", "1")
    assert ws.audit_events(action="test.touch")[0].actor == "bob"
    with pytest.raises(mlops.InvalidInput):
        ws.as_user("")
