"""The shared object store: a shared folder (``file://``, what an NFS or SMB share is) end to end on
team services, and the S3 protocol against moto's S3 emulator on loopback (a test double, see
tests/team_services.py: no S3-compatible server installs here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from team_services import TeamServices, aws_kwargs, make_team_workspace, using_env

import jupyter_mlops as mlops
from jupyter_mlops.errors import IntegrityError, WorkspaceCorrupt

pytestmark = pytest.mark.team


def _frame(n: int = 50):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.DataFrame({"id": range(n), "score": [i / 7 for i in range(n)], "group": ["a", "b"] * (n // 2)})


def test_a_shared_folder_holds_the_objects_two_checkouts_read(team_services: TeamServices, tmp_path: Path) -> None:
    share = tmp_path / "nfs" / "mlops-objects"
    root, _ = make_team_workspace(team_services, tmp_path, roles={"researcher": ["alice", "bob"]}, objects=f"file://{share}")
    with using_env(team_services.mlflow.user_env("alice")):
        ws = mlops.use(mlops.Workspace.open(root, user="alice"))
        with ws.start_run("prep", experiment="objects"):
            version = mlops.version_data(_frame(), "scores")
    stored = share / version.object_id[:2] / version.object_id[2:]
    assert stored.is_file() and not (root / ".mlops" / "objects").exists()

    # A teammate's checkout of the same project (its .mlops/config.toml, nothing else) reads it from the share.
    clone = tmp_path / "bob-checkout"
    (clone / ".mlops").mkdir(parents=True)
    shutil.copy(root / ".mlops" / "config.toml", clone / ".mlops" / "config.toml")
    with using_env(team_services.mlflow.user_env("bob")):
        bob = mlops.Workspace.open(clone, user="bob")
        assert str(bob.objects.root) == str(share)
        assert bob.data.load("scores@latest").equals(_frame())
        again = bob.data.version(_frame(), "scores-copy")
        assert again.object_id == version.object_id  # stored once, shared
        assert sorted(p.name for p in share.rglob("*") if p.is_file()) == [version.object_id[2:]]
        assert bob.data.verify().ok
        stored.write_bytes(stored.read_bytes()[:-1] + b"!")
        with pytest.raises(IntegrityError, match=version.object_id):
            bob.data.load("scores@latest")
        report = bob.data.verify()
        assert not report.ok and [m["object_id"] for m in report.corrupt] == [version.object_id]
        assert bob.verify_audit().ok


def test_s3_protocol_against_moto(team_services: TeamServices, ws: mlops.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = team_services.s3
    bucket = team_services.unique("mlops-objects-")
    s3.create_bucket(bucket)
    for k, v in s3.credentials().items():
        monkeypatch.setenv(k, v)
    config = ws.settings.home / "config.toml"
    config.write_text(
        config.read_text().replace(
            '# url = "s3://bucket/mlops-objects"',
            f'url = "s3://{bucket}/team"\noptions = {{endpoint_url = "{s3.endpoint}"}}',
        )
    )
    ws = mlops.use(mlops.Workspace.open(ws.settings.root, user="alice"))
    assert ws.objects.root == f"s3://{bucket}/team"
    version = mlops.version_data(_frame(), "scores")
    import boto3

    client = boto3.client("s3", endpoint_url=s3.endpoint, **aws_kwargs(s3.credentials()))
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"team/{version.object_id[:2]}/{version.object_id[2:]}"]  # no temporary name left over
    assert ws.data.load("scores@1").equals(_frame())
    assert mlops.version_data(_frame(), "scores-again").object_id == version.object_id
    assert len(client.list_objects_v2(Bucket=bucket)["Contents"]) == 1
    client.put_object(Bucket=bucket, Key=keys[0], Body=b"not the data")
    with pytest.raises(IntegrityError, match=version.object_id):
        ws.data.load("scores@1")

    # A secret in config.toml is refused before anything is written; a store that is not there is named.
    text = config.read_text()
    config.write_text(text.replace("options = {", 'options = {secret = "s3cr3t-value", '))
    with pytest.raises(Exception, match=r"holds a credential in \[objects\] options \(secret\)") as refused:
        mlops.Workspace.open(ws.settings.root, user="alice")
    assert "s3cr3t-value" not in str(refused.value)
    config.write_text(text.replace(f"s3://{bucket}/team", "s3://no-such-bucket-here/team"))
    nowhere = mlops.Workspace.open(ws.settings.root, user="alice")
    with pytest.raises(WorkspaceCorrupt, match="no-such-bucket-here"):
        nowhere.objects.put_bytes(b"x")
