"""Run the example end to end on an embedded workspace (``make demo``): the product's whole story.

Creates ``demo-workspace/`` next to this repository's README (a fresh one each time, or the folder
given as the first argument), then, as its users would, through the command line and the Python API:

1. ``init`` the workspace and name ``bob`` as a reviewer in its ``config.toml``;
2. run the tracked-cell notebook, then the arrests pipeline as ``alice`` (prepare and check the
   data, train a sweep that logs every variant's model, evaluate the selected version against the
   review policy's thresholds and build its card, verify the audit chain);
3. as ``alice``, the author: write the card's intended use and caveats, request a review;
4. as ``bob``, the reviewer named in the config: approve (four eyes);
5. check it against the written compliance policy (``policy.yaml``), promote the version to
   ``champion``, rebuild its card with the review history, write it as HTML;
6. load ``arrests-clf@champion`` and score a row of the test data;
7. print where everything is and the commands that open the dashboards.

``--config TEAM.toml`` runs the same story on team services (``init --config``): an MLflow
tracking server, PostgreSQL for the metadata and, with ``[executor] address``, a Dask cluster
for the pipeline's stages. Nothing else changes; credentials come from the environment
(``MLFLOW_TRACKING_USERNAME`` / ``_PASSWORD``, a ``.pgpass`` file).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AUTHOR, REVIEWER = "alice", "bob"
MODEL = "arrests-clf"
WRITTEN = {
    "intended_use": "A teaching example: shows how a model, its data, evaluation and review form one audited chain. "
    "Not for decisions about people.",
    "caveats_and_recommendations": "Trained on 1997-2002 Toronto arrests; colour and sex are not model inputs, "
    "but selection rates still differ between groups (see Quantitative Analyses).",
    "risk_management": "Human oversight: a reviewer approves every version; the stop procedure is "
    "`jupyter-mlops serve stop NAME --reason ...`, which halts serving at once and is audited.",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    team = None
    if "--config" in args:
        i = args.index("--config")
        team = str(Path(args[i + 1]).resolve())
        del args[i : i + 2]
    root = Path(args[0]).resolve() if args else HERE.parent / "demo-workspace"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    os.environ["JUPYTER_MLOPS_USER"] = AUTHOR  # who runs the notebooks and the pipeline
    print(f"# acting as {AUTHOR} (JUPYTER_MLOPS_USER); the reviewer acts with --user {REVIEWER}", flush=True)
    _run(root, "init", *(["--config", team] if team else []))
    config = root / ".mlops" / "config.toml"
    config.write_text(config.read_text().replace("reviewers = []", f'reviewers = ["{REVIEWER}"]'))
    print(f"# {config.relative_to(root)}: [review] reviewers = [{REVIEWER!r}]", flush=True)
    out = root / "output"
    out.mkdir()
    _papermill(root, out)
    # The demo pipeline (prepare -> train sweep -> evaluate -> audit), run as a scheduler would.
    _run(root, "run", str(HERE / "pipeline.yaml"))
    _run(root, "runs", "list", "--limit", "10")

    # The review, four eyes: the author asks, a reviewer named in config.toml decides.
    candidate = f"{MODEL}@challenger"  # the version the evaluate stage evaluated
    for section, text in WRITTEN.items():  # what only the author can say goes on the card before review
        _run(root, "card", "edit", candidate, "--section", section, "--text", text)
    _run(root, "compliance", "impact-level", candidate, "II", "--reason", "teaching example; no decisions about people")
    _run(root, "model", "request-review", candidate, "--note", "sweep winner; evaluated against the review policy")
    _run(
        root,
        "--user",
        REVIEWER,
        "model",
        "approve",
        candidate,
        "--comment",
        "thresholds pass; error-rate gaps across colour and sex within policy; selection-rate gap documented",
    )
    policy = str(HERE / "policy.yaml")  # approved now: the compliance report passes, so the version may serve
    _run(root, "compliance", "check", candidate, "--policy", policy, "--format", "html", "--out", str(out / "compliance.html"))
    _run(root, "model", "promote", candidate)  # takes the serving alias, champion
    _run(root, "card", "build", f"{MODEL}@champion")  # now with the review history
    card_html = out / f"{MODEL}-champion-card.html"
    with open(card_html, "w", encoding="utf-8") as fh:
        _run(root, "card", "show", f"{MODEL}@champion", "--format", "html", stdout=fh)
    _run(root, "model", "history", MODEL)
    _run(root, "audit", "log", "--action", "model.*", "--limit", "8")
    _run(root, "audit", "verify")
    _score(root)
    print(
        f"\nResults are in {root}/.mlops (executed notebooks in {out} and, for the pipeline\n"
        f"stages, in {root}/.mlops/outputs; run it again and every stage is reused from the cache).\n"
        f"Model card (HTML):  {card_html}\n"
        f"Models dashboard:   cd {root} && jupyter lab   then, in a notebook cell:  %load_ext jupyter_mlops\n"
        f"                    %mlops dashboard models    (or the MLOps side panel's Models view)\n"
        f"Browse the runs:    {_browse(root)}\n"
        f"Audit trail:        cd {root} && jupyter-mlops audit log"
    )
    return 0


def _browse(root: Path) -> str:
    import jupyter_mlops as mlops

    uri = mlops.Workspace.open(root, user=AUTHOR).settings.tracking_uri
    if uri.startswith("http"):
        return f"open {uri} (the MLflow server's UI)"
    return f"cd {root} && mlflow ui --backend-store-uri sqlite:///.mlops/mlflow.db"


def _run(root: Path, *args: str, stdout: Any = None) -> None:
    """One ``jupyter-mlops`` command in the workspace, shown as typed (as alice unless ``--user``)."""
    shown = " ".join(f"'{a}'" if " " in a else a for a in args)
    print(f"$ jupyter-mlops {shown}", flush=True)
    cli = [sys.executable, "-m", "jupyter_mlops.cli.main"]
    subprocess.run([*cli, *args], cwd=root, check=True, stdout=stdout)


def _papermill(root: Path, out: Path) -> None:
    import papermill

    src = HERE / "01_track_experiment.ipynb"
    os.environ["JUPYTER_MLOPS_NOTEBOOK_PATH"] = str(src)
    print(f"$ papermill {src.name} -> {out / src.name}", flush=True)
    try:
        papermill.execute_notebook(str(src), str(out / src.name), cwd=str(root), kernel_name="python3", progress_bar=False)
    finally:
        os.environ.pop("JUPYTER_MLOPS_NOTEBOOK_PATH", None)  # the commands that follow are not that notebook


def _score(root: Path) -> None:
    """Load the champion as a service would (artifact hashes checked) and score one person's row."""
    import jupyter_mlops as mlops

    mlops.use(root, user=AUTHOR)
    model = mlops.load_model(f"{MODEL}@champion")
    # The model's inputs only: the sensitive columns are for evaluation, not for scoring.
    row = mlops.load_data("arrests-test@latest")[["year", "age", "employed", "citizen", "checks"]].head(1)
    released = model.predict(row)[0]
    p = float(model.predict_proba(row)[0][list(model.classes_).index("Yes")])
    print(f'>>> mlops.load_model("{MODEL}@champion").predict(row)')
    print(f"{row.to_string(index=False)}\n-> released with a summons: {released} (probability {p:.2f})")


if __name__ == "__main__":
    sys.exit(main())
