"""Run the example end to end on an embedded workspace (``make demo``).

Creates ``demo-workspace/`` next to this repository's README (a fresh one each time), runs the
example notebooks headless, and prints where the results are and how to browse them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent / "demo-workspace"


def _run(*args: str) -> None:
    print("$", " ".join(args), flush=True)
    subprocess.run(args, cwd=ROOT, check=True)


def main() -> int:
    if ROOT.exists():
        shutil.rmtree(ROOT)
    ROOT.mkdir()
    cli = [sys.executable, "-m", "jupyter_mlops.cli.main"]
    _run(*cli, "init")
    out = ROOT / "output"
    out.mkdir()
    _papermill(out)
    # The demo pipeline (prepare -> train sweep -> evaluate -> audit), run as a scheduler would.
    _run(*cli, "run", str(HERE / "pipeline.yaml"))
    _run(*cli, "runs", "list", "--limit", "10")
    _run(*cli, "audit", "verify")
    print(
        f"\nResults are in {ROOT}/.mlops (executed notebooks in {out} and, for the pipeline\n"
        f"stages, in {ROOT}/.mlops/outputs; run it again and every stage is reused from the cache).\n"
        f"Browse the runs:  cd {ROOT} && mlflow ui --backend-store-uri sqlite:///.mlops/mlflow.db\n"
        f"Audit trail:      cd {ROOT} && jupyter-mlops audit log"
    )
    return 0


def _papermill(out: Path) -> None:
    import os

    import papermill

    src = HERE / "01_track_experiment.ipynb"
    os.environ["JUPYTER_MLOPS_NOTEBOOK_PATH"] = str(src)
    print(f"$ papermill {src.name} -> {out / src.name}", flush=True)
    try:
        papermill.execute_notebook(str(src), str(out / src.name), cwd=str(ROOT), kernel_name="python3", progress_bar=False)
    finally:
        os.environ.pop("JUPYTER_MLOPS_NOTEBOOK_PATH", None)  # the commands that follow are not that notebook


if __name__ == "__main__":
    sys.exit(main())
