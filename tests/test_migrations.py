"""The metadata schema under Alembic: a workspace the previous release wrote upgrades unchanged."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from pathlib import Path

import pytest
from release_fixture import schema_of, table_snapshot, unpack_release_workspace

import jupyter_mlops as mlops
from jupyter_mlops.cli.main import main
from jupyter_mlops.errors import Conflict, SchemaTooNew
from jupyter_mlops.store.migrations import BASELINE, VERSION_TABLE, head_revision


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_release_workspace_upgrades_with_every_row_unchanged(tmp_path: Path) -> None:
    root = unpack_release_workspace(tmp_path)
    url = "sqlite:///" + str(root / ".mlops" / "mlops.db")
    before = table_snapshot(url)
    components_at_release = _schema_versions(root)
    assert VERSION_TABLE not in before and before["audit_events"][0] == 13 and before["model_reviews"][0] == 2

    code, out, _ = cli("--root", str(root), "db", "status")
    assert code == 0 and "made before Alembic" in out and f"pending {BASELINE}" in out and "(stamped" in out
    code, out, _ = cli("--root", str(root), "db", "upgrade")
    assert code == 0 and f"applied {BASELINE}, {head_revision()}" in out and "up to date" in out

    new_tables = (VERSION_TABLE, "tracking_ids", "migration_items", "compliance_reports")
    after = table_snapshot(url, skip=new_tables)
    # every table the release had: same rows, same bytes; schema_versions only gains the rows of
    # components newer than the release (governance's compliance reports)
    components_before = components_at_release
    assert {k: v for k, v in after.items() if k != "schema_versions"} == {
        k: v for k, v in before.items() if k != "schema_versions"
    }
    grown = _schema_versions(root)
    assert set(components_before) <= set(grown) and set(grown) - set(components_before) <= {"governance"}
    assert all(grown[c] >= v for c, v in components_before.items())  # audit gained checkpoint notes
    ws = mlops.Workspace.open(root, user="alice")
    assert ws.db.status().up_to_date
    chain = ws.verify_audit()
    assert chain.ok and chain.checked == 13
    code, out, _ = cli("--root", str(root), "audit", "verify")
    assert code == 0 and "13 events" in out
    mlops.use(root, user="alice")
    model = mlops.load_model("arrests-clf@champion")  # the artifacts' hashes are checked before loading
    assert hasattr(model, "predict_proba")


def test_a_release_workspace_also_upgrades_when_it_opens(tmp_path: Path) -> None:
    root = unpack_release_workspace(tmp_path)
    ws = mlops.Workspace.open(root, user="alice")  # an embedded workspace upgrades itself
    assert ws.db.status().current == head_revision() and ws.verify_audit().ok


def test_new_schema_is_the_release_schema_plus_the_new_revisions(tmp_path: Path) -> None:
    old = unpack_release_workspace(tmp_path / "old")
    assert cli("--root", str(old), "db", "upgrade")[0] == 0
    fresh = mlops.init(tmp_path / "new", user="alice")
    skip = (VERSION_TABLE,)
    assert schema_of(fresh.settings.metadata_url, skip=skip) == schema_of(
        "sqlite:///" + str(old / ".mlops" / "mlops.db"), skip=skip
    )


def test_a_downgrade_is_refused_clearly(ws: mlops.Workspace) -> None:
    root = str(ws.settings.root)
    code, _, err = cli("--root", root, "db", "upgrade", "--to", BASELINE)
    assert code == 5
    assert f"refusing to downgrade the metadata database from revision {head_revision()} to {BASELINE}" in err
    assert "restore a backup" in err
    from alembic import command

    from jupyter_mlops.store.migrations import _config

    with ws.db.write() as conn, pytest.raises(Conflict, match="cannot be downgraded"):
        command.downgrade(_config(conn), BASELINE)
    assert ws.db.status().current == head_revision() and ws.verify_audit().ok


def test_a_database_from_a_newer_release_is_refused(ws: mlops.Workspace) -> None:
    path = ws.settings.metadata_url.removeprefix("sqlite:///")
    ws.db.dispose()
    con = sqlite3.connect(path)
    con.execute(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    con.commit()
    con.close()
    with pytest.raises(SchemaTooNew, match="revision 9999, which this jupyter-mlops does not know"):
        mlops.Workspace.open(ws.settings.root, user="alice")
    code, _, err = cli("--root", str(ws.settings.root), "runs", "list")
    assert code == 3 and "upgrade jupyter-mlops" in err


def _schema_versions(root: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(root / ".mlops" / "mlops.db")) as db:
        return {str(name): int(version) for name, version in db.execute("SELECT component, version FROM schema_versions")}
