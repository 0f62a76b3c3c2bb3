"""Logging models safely: MLflow on SQLite, real scikit-learn models, every artifact file hashed.

A tampered, extended or truncated artifact folder is refused before anything is deserialized,
with an error that names the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import sqlalchemy as sa

import jupyter_mlops as mlops
from jupyter_mlops.errors import IntegrityError, InvalidInput, UnsafePath, UnsupportedData


def _arrests() -> tuple[Any, Any]:
    from sklego.datasets import load_arrests

    df = load_arrests(as_frame=True)
    return df.drop(columns="released"), (df["released"] == "Yes").astype(int)


def _pipeline(X: Any, y: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour", "sex", "employed", "citizen"]),
            ("num", StandardScaler(), ["year", "age", "checks"]),
        ]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)


def _folder(mv: mlops.ModelVersion) -> Path:
    return Path(unquote(urlsplit(mv.artifact_uri).path))


def _state(ws: mlops.Workspace) -> tuple[int, int]:
    from jupyter_mlops.registry.schema import model_versions

    with ws.db.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(model_versions)).scalar()
    return int(n or 0), len(ws.audit_events(limit=10_000))


def test_pipeline_logged_with_hashes_run_data_and_code(ws: mlops.Workspace) -> None:
    X, y = _arrests()
    model = _pipeline(X, y)
    cell = "model = pipeline.fit(X, y)\nmlops.log_model(model, 'arrests-clf', X_example=X)"
    with ws.start_run("train", source={"cell_source": cell}) as run:
        dv = ws.data.version(X.assign(released=y), "arrests")
        mv = mlops.log_model(model, "arrests-clf", X_example=X)

    assert (mv.name, mv.version, mv.author, mv.run_id) == ("arrests-clf", 1, "alice", run.run_id)
    assert mv.model_type == "Pipeline(ColumnTransformer, LogisticRegression)"
    assert mv.serialization == "skops" and mv.status == "none"
    assert mv.code_sha256 == hashlib.sha256(cell.encode()).hexdigest()
    assert mv.data_versions == (dv.spec,)
    # every file MLflow stored is in the manifest, with its real sha256
    on_disk = {p.relative_to(_folder(mv)).as_posix(): p for p in _folder(mv).rglob("*") if p.is_file()}
    assert set(mv.manifest) == set(on_disk) and {"MLmodel", "model.skops", "input_example.json"} <= set(on_disk)
    for rel, path in on_disk.items():
        assert mv.manifest[rel]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert mv.manifest[rel]["size"] == path.stat().st_size
    # the signature and the input example come from X_example
    assert [c["name"] for c in json.loads(mv.signature["inputs"])] == list(X.columns)
    assert len(json.loads((_folder(mv) / "input_example.json").read_text())["data"]) == 5
    # MLflow knows the version and its run
    mlflow_version = ws.tracking.client.get_model_version("arrests-clf", "1")
    assert mlflow_version.run_id == run.run_id
    # audit and lineage
    event = ws.audit_events(action="model.log")[0]
    assert event.object_id == "arrests-clf@1" and event.payload["files"]["model.skops"] == mv.manifest["model.skops"]["sha256"]
    graph = ws.lineage("model_version", "arrests-clf@1")
    relations = {(e.src_type, e.relation, e.dst_type) for e in graph.edges}
    assert ("run", "produced", "model_version") in relations and ("data_version", "input_of", "run") in relations
    # it loads back, verified, and predicts the same
    loaded = mlops.load_model("arrests-clf@1")
    assert (loaded.predict(X) == model.predict(X)).all()
    assert (mlops.load_model("arrests-clf@latest").predict_proba(X[:50]) == model.predict_proba(X[:50])).all()
    assert ws.verify_audit().ok


def test_bundled_dataset_without_an_active_run_opens_one(ws: mlops.Workspace) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    with pytest.raises(UnsupportedData, match=r"sklearn\.tree\._tree\.Tree") as err:
        ws.models.log_model(model, "cancer-rf", X_example=X)
    assert err.value.field == "trusted_types" and ws.list_runs(with_metrics=False).runs == ()
    mv = ws.models.log_model(model, "cancer-rf", X_example=X, trusted_types=["sklearn.tree._tree.Tree"])
    assert mv.trusted_types == ("sklearn.tree._tree.Tree",)
    runs = ws.list_runs(with_metrics=False).runs
    assert [(r.run_id, r.name, r.status) for r in runs] == [(mv.run_id, "log_model", "FINISHED")]
    assert mv.code_sha256 is None and mv.data_versions == ()
    assert (ws.models.load_model("cancer-rf@1").predict(X) == model.predict(X)).all()
    second = ws.models.log_model(model, "cancer-rf", X_example=X[:10], trusted_types=["sklearn.tree._tree.Tree"])
    assert second.version == 2 and ws.models.get("cancer-rf@latest").version == 2
    assert ws.models.get(f"cancer-rf@{second.manifest_sha256[:20]}").version == 2


def test_tampered_artifact_is_refused_before_loading(ws: mlops.Workspace) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    mv = ws.models.log_model(LogisticRegression(max_iter=300).fit(X, y), "iris", X_example=X)
    skops_file = _folder(mv) / "model.skops"
    original = skops_file.read_bytes()

    # a perfectly loadable skops file of ANOTHER model: only the hash check can catch it
    import skops.io

    skops.io.dump(DecisionTreeClassifier().fit(X, y), skops_file)
    with pytest.raises(IntegrityError, match=r"model\.skops") as err:
        ws.models.load_model("iris@1")
    assert err.value.value == "model.skops" and "changed after it was logged" in err.value.message

    skops_file.write_bytes(original)
    (_folder(mv) / "MLmodel").write_text((_folder(mv) / "MLmodel").read_text() + "\n# edited\n")
    with pytest.raises(IntegrityError, match="MLmodel"):
        ws.models.load_model("iris@1")


def test_added_or_removed_artifact_files_are_refused(ws: mlops.Workspace) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    mv = ws.models.log_model(LogisticRegression(max_iter=300).fit(X, y), "iris", X_example=X)
    extra = _folder(mv) / "payload.pkl"
    extra.write_bytes(b"not part of the model")
    with pytest.raises(IntegrityError, match=r"payload\.pkl"):
        ws.models.load_model("iris@1")
    extra.unlink()
    (_folder(mv) / "input_example.json").unlink()
    with pytest.raises(IntegrityError, match=r"missing artifact file input_example\.json"):
        ws.models.load_model("iris@1")


def test_alias_moved_outside_jupyter_mlops_is_refused(ws: mlops.Workspace) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    ws.models.log_model(model, "iris", X_example=X)
    ws.models.log_model(model, "iris", X_example=X)
    ws.models.promote("iris@1", alias="challenger")
    assert ws.models.load_model("iris@challenger").predict(X[:3]).tolist() == model.predict(X[:3]).tolist()
    ws.tracking.client.set_registered_model_alias("iris", "challenger", "2")  # around the registry
    with pytest.raises(IntegrityError, match="MLflow points iris@challenger at version 2"):
        ws.models.load_model("iris@challenger")


def test_bad_input_writes_nothing(ws: mlops.Workspace) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    fitted = LogisticRegression(max_iter=300).fit(X, y)
    before = _state(ws)
    with pytest.raises(UnsupportedData, match="not fitted"):
        ws.models.log_model(LogisticRegression(), "iris", X_example=X)
    with pytest.raises(UnsupportedData, match="scikit-learn estimator"):
        ws.models.log_model(object(), "iris", X_example=X)
    with pytest.raises(UnsafePath):
        ws.models.log_model(fitted, "../iris", X_example=X)
    with pytest.raises(InvalidInput, match="X_example is required"):
        ws.models.log_model(fitted, "iris", X_example=None)
    with pytest.raises(InvalidInput, match="unknown serialization"):
        ws.models.log_model(fitted, "iris", X_example=X, serialization="pickle")
    with pytest.raises(InvalidInput, match="cannot predict on X_example"):
        ws.models.log_model(fitted, "iris", X_example=X[:, :2])
    with pytest.raises(mlops.NotFound, match="no model named 'iris'"):
        ws.models.load_model("iris@champion")
    with pytest.raises(mlops.NotFound, match="no model version iris@7"):
        ws.models.get("iris@7")
    assert _state(ws) == before and before[0] == 0
    assert ws.list_runs(with_metrics=False).runs == ()  # every check ran before a run was opened
    assert ws.tracking.client.search_registered_models() == []


def test_list_models_html_escapes_and_shows_status(ws: mlops.Workspace) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    ws2 = ws.as_user("<script>x</script>")
    ws2.models.log_model(LogisticRegression(max_iter=300).fit(X, y), "iris", X_example=X)
    table = mlops.list_models()
    html = table._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<th>status</th>" in html and ">none<" in html
    assert table.to_dict()["versions"][0]["ref"] == "iris@1"
    assert "iris" in str(table) and len(table) == 1


def test_magic_logs_a_notebook_variable_inside_a_tracked_cell(ws: mlops.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.chdir(ws.settings.root)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_mlops")
    try:
        ip.user_ns.clear()
        ip.init_user_ns()
        setup = "from sklearn.datasets import load_iris\nfrom sklearn.linear_model import LogisticRegression\nX, y = load_iris(return_X_y=True)"
        assert ip.run_cell(setup).error_in_exec is None
        body = "model = LogisticRegression(max_iter=300).fit(X, y)\n%mlops model log model --name iris-magic --example X\n"
        result = ip.run_cell(f"%%track train\n{body}")
        assert result.error_in_exec is None
        mv = ws.models.get("iris-magic@latest")
        run = ws.list_runs(limit=1, with_metrics=False).runs[0]
        assert (mv.version, mv.run_id, run.name) == (1, run.run_id, "train")
        assert mv.code_sha256 is not None and mv.code_sha256 == run.source_sha256
        missing = ip.run_cell("%mlops model log nothing_here --name iris-magic --example X")
        assert missing.error_in_exec is not None and "no variable named 'nothing_here'" in str(missing.error_in_exec)
        assert len(ws.models.list_models("iris-magic")) == 1
    finally:
        ip.run_line_magic("unload_ext", "jupyter_mlops")
