"""The typed rows the tracking queries return (:mod:`jupyter_mlops.tracking.queries`).

A run itself is a :class:`~jupyter_mlops.core.entities.RunInfo`; these hold pages, the detail of
one run, experiments and a notebook's runs. Each has ``to_dict()`` (the REST payload and the CLI's
``--json``) and, where a notebook shows it, ``_repr_html_``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from ..core.entities import Entity, RunInfo, escape
from ..lineage.graph import Edge

__all__ = ["Experiment", "NotebookContext", "RunDetail", "RunPage", "RunTable"]


def _runs_html(runs: tuple[RunInfo, ...]) -> str:
    cols = ("run", "name", "experiment", "status", "actor", "started", "seconds", "audit", "metrics")
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"

    def row(r: RunInfo) -> str:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items()) if not k.startswith("mlops."))
        cells = (
            f"<code>{escape(r.run_id[:12])}</code>",
            escape(r.name),
            escape(r.experiment),
            escape(r.status),
            escape(r.actor),
            escape(r.started[:19]),
            escape("" if r.duration_s is None else r.duration_s),
            escape(", ".join(f"#{s}" for s in r.audit_seqs)),
            escape(metrics),
        )
        return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    return f"<table class='mlops-runs'>{head}{''.join(row(r) for r in runs)}</table>"


@dataclasses.dataclass(frozen=True)
class RunTable:
    """Recorded runs, newest first (``mlops.list_runs``), shown as an HTML table in notebooks."""

    runs: tuple[RunInfo, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [r.to_dict() for r in self.runs]}

    def _repr_html_(self) -> str:
        return _runs_html(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[RunInfo]:
        return iter(self.runs)


@dataclasses.dataclass(frozen=True)
class Experiment(Entity):
    """An experiment that has tracked runs."""

    id: str
    name: str
    n_runs: int = 0


@dataclasses.dataclass(frozen=True)
class RunPage(Entity):
    """One page of runs as the tracking store filtered, sorted and paged them.

    ``next_page_token`` asks for the next page (``None``: this is the last); ``experiments`` are
    every experiment with tracked runs, for a front-end's experiment picker.
    """

    runs: tuple[RunInfo, ...]
    next_page_token: str | None = None
    experiments: tuple[Experiment, ...] = ()

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[RunInfo]:
        return iter(self.runs)

    def _repr_html_(self) -> str:
        return _runs_html(self.runs)


@dataclasses.dataclass(frozen=True)
class RunDetail(Entity):
    """One run in full: its row, every tag, its record (source, error), lineage and audit events."""

    run: RunInfo
    all_tags: dict[str, str]
    record: dict[str, Any] | None
    lineage: tuple[Edge, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    audit_events: tuple[int, ...]
    artifact_uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The run's fields at the top level, with the rest beside them."""
        return {
            **self.run.to_dict(),
            "all_tags": dict(self.all_tags),
            "record": self.record,
            "lineage": [e.to_dict() for e in self.lineage],
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "audit_events": list(self.audit_events),
            "artifact_uri": self.artifact_uri,
        }

    def _repr_html_(self) -> str:
        return self.run._repr_html_()


@dataclasses.dataclass(frozen=True)
class NotebookContext(Entity):
    """The runs recorded from one notebook (newest first) and the data and model versions they touched."""

    notebook: str
    matched: tuple[str, ...]
    runs: tuple[RunInfo, ...]
    data_versions: tuple[str, ...]
    model_versions: tuple[str, ...]
