"""Helpers for the pipeline tests: write small notebooks and pipelines into tmp folders."""

from __future__ import annotations

import json
from pathlib import Path


def write_notebook(path: Path, cells: list[str], params: str | None = None) -> Path:
    cs = []
    if params is not None:
        cs.append(
            {
                "id": "params",
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": params,
                "outputs": [],
                "execution_count": None,
            }
        )
    for i, c in enumerate(cells):
        cs.append({"id": f"c{i}", "cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None})
    nb = {
        "cells": cs,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path
