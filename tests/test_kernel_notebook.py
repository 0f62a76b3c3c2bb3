"""A notebook executed by a real kernel (nbclient), from a sub-folder, read back with stock MLflow."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from mlflow import MlflowClient
from nbclient import NotebookClient

import jupyter_mlops as mlops


def _notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def test_tracked_cell_in_a_real_kernel(ws: mlops.Workspace) -> None:
    folder = ws.settings.root / "notebooks" / "deep"
    folder.mkdir(parents=True)
    nb = _notebook(
        [
            "%load_ext jupyter_mlops",
            "%%track fit --params C --tags origin=kernel\nC = 2.0\nimport jupyter_mlops as mlops\nmlops.log_metric('score', 0.75)",
            "%mlops runs list",
        ]
    )
    path = folder / "train.ipynb"
    nbformat.write(nb, path)
    (folder / "other.ipynb").write_text(nbformat.writes(_notebook(["%%track fit\n1"])))  # another notebook there
    # Plain nbclient: the kernel is told neither the notebook nor the cell (no JUPYTER_MLOPS_NOTEBOOK_PATH).
    env = {k: v for k, v in os.environ.items() if k not in ("JPY_SESSION_NAME", "JUPYTER_MLOPS_NOTEBOOK_PATH")}
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute(env=env)
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    runs = ws.list_runs().runs
    assert len(runs) == 1 and runs[0].name == "fit"
    # the kernel found the workspace two folders up, and the one notebook of its folder holding this cell
    assert runs[0].cell_id == nb.cells[1].id
    assert runs[0].notebook == str(path)
    run = MlflowClient(tracking_uri=ws.settings.tracking_uri).get_run(runs[0].run_id)
    assert run.data.tags["mlops.notebook_found_by"] == "cell source"
    assert run.info.status == "FINISHED"
    assert run.data.params == {"C": "2.0"} and run.data.metrics["score"] == 0.75
    assert run.data.tags["origin"] == "kernel"
    assert run.data.tags["mlops.actor"] == ws.actor or run.data.tags["mlops.actor"]
    html = nb.cells[2].outputs[0]["data"]["text/html"]
    assert "fit" in html and "FINISHED" in html


def test_failing_tracked_cell_fails_the_notebook(ws: mlops.Workspace) -> None:
    from nbclient.exceptions import CellExecutionError

    nb = _notebook(["%load_ext jupyter_mlops", "%%track\nraise RuntimeError('broken data')", "print('never')"])
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ws.settings.root)}})
    with pytest.raises(CellExecutionError, match="broken data"):
        client.execute()
    run = ws.list_runs().runs[0]
    assert run.status == "FAILED" and run.error == "RuntimeError: broken data"


def test_kernel_outside_any_workspace_gets_one_clear_error(tmp_path: Path) -> None:
    nb = _notebook(["%load_ext jupyter_mlops", "%%track\n1"])
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    err = [o for o in nb.cells[1].outputs if o["output_type"] == "error"][0]
    assert err["ename"] == "WorkspaceNotFound"
    assert "init" in "\n".join(err["traceback"])


def test_a_cell_in_two_notebooks_names_neither(tmp_path: Path) -> None:
    from jupyter_mlops.tracking.capture import find_notebook, track_cell_id

    cell = "%%track fit --params C\nC = 1"
    first = tmp_path / "a.ipynb"
    nbformat.write(_notebook(["x = 1", cell]), first)
    assert find_notebook(tmp_path, "fit --params C", "C = 1") == (first, _read_id(first, 1))
    assert track_cell_id(first, "fit --params C", "C = 2") is None  # another body is another cell
    nbformat.write(_notebook([cell]), tmp_path / "a-output.ipynb")  # e.g. papermill's output next to its input
    assert find_notebook(tmp_path, "fit --params C", "C = 1") is None  # ambiguous: nothing rather than a guess


def _read_id(path: Path, index: int) -> str:
    return str(nbformat.read(path, as_version=4).cells[index].id)
