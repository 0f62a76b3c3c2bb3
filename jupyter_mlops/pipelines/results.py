"""What pipeline runs, dry runs and re-run checks return: entities with text, HTML and dict forms."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..core.entities import Entity, escape
from .execute import Outcome

__all__ = ["NotebookRun", "PipelinePlan", "PipelineResult", "RerunCheck"]

_COLOURS = {"SUCCEEDED": "#1a7f37", "CACHED": "#0969da", "SKIPPED": "#555"}


@dataclasses.dataclass(frozen=True)
class PipelineResult(Entity):
    """A finished pipeline run: what ran, what was reused, what failed, what was skipped."""

    pipeline_run_id: str
    pipeline: str
    status: str
    stages: tuple[NotebookRun, ...]
    selected: dict[str, Any] = dataclasses.field(default_factory=dict)
    run_id: str | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    """What the run found and said about earlier runs: a stale (reaped) run, outputs reused from one."""

    @property
    def ok(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def by_outcome(self, outcome: str) -> list[NotebookRun]:
        """Stage records with ``outcome`` (``SUCCEEDED``, ``CACHED``, ``FAILED``, ``SKIPPED`` ...)."""
        return [s for s in self.stages if s.outcome == outcome]

    def stage(self, name: str) -> list[NotebookRun]:
        """Every record (variants, attempts) of stage ``name``."""
        return [s for s in self.stages if s.stage == name]

    def __str__(self) -> str:
        lines = [f"pipeline {self.pipeline} {self.status} in {self.seconds:.1f}s (run {self.pipeline_run_id})"]
        for s in self.stages:
            label = s.stage + (f"[{s.variant}]" if s.variant is not None else "")
            ref = s.run_id or (f"reused {s.source_run_id}" if s.source_run_id else "")
            lines.append(f"  {label:<24} {s.outcome:<13} {s.seconds:6.1f}s  {ref}")
            if s.message and s.outcome not in ("SUCCEEDED", "CACHED"):
                lines.append(f"      {s.message}")
            if s.traceback and s.outcome not in ("SUCCEEDED", "CACHED"):
                lines += [f"      | {line}" for line in s.traceback.rstrip().splitlines()]
        for name, sel in self.selected.items():
            models = [str(v) for k, v in (sel.get("outputs") or {}).items() if k.startswith("model:")]
            passed = f" -> {', '.join(models)}" if models else ""
            lines.append(f"  sweep {name}: best {sel['metric']}={sel['value']:.4g} with {sel['params']}{passed}")
        counts = {
            o: len(self.by_outcome(o))
            for o in ("SUCCEEDED", "CACHED", "FAILED", "KILLED", "TIMED_OUT", "EXITED_EARLY", "SKIPPED")
        }
        lines.append("  " + ", ".join(f"{n} {o.lower()}" for o, n in counts.items() if n))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(s.stage)}{'' if s.variant is None else f'[{s.variant}]'}</td>"
            f"<td style='color:{_COLOURS.get(s.outcome, '#cf222e')}'>{escape(s.outcome)}</td>"
            f"<td>{s.seconds:.1f}s</td><td><code>{escape(s.run_id or s.source_run_id or '')}</code></td>"
            f"<td>{escape(s.message)}</td></tr>"
            for s in self.stages
        )
        notes = "".join(f"<p>{escape(n)}</p>" for n in self.notes)
        return (
            f"<div><b>pipeline {escape(self.pipeline)}</b> {escape(self.status)} in {self.seconds:.1f}s"
            f"<table><tr><th>stage</th><th>outcome</th><th>time</th><th>run</th><th>note</th></tr>{rows}</table>{notes}</div>"
        )


@dataclasses.dataclass(frozen=True)
class PipelinePlan(Entity):
    """What ``--dry-run`` would do: per stage, ``run``, ``cached`` or ``unknown`` (upstream will run)."""

    pipeline: str
    steps: tuple[dict[str, Any], ...]

    exit_code = 0

    def __str__(self) -> str:
        lines = [f"pipeline {self.pipeline} (dry run, nothing executed)"]
        for st in self.steps:
            lines.append(f"  {st['stage']:<24} {st['action']:<8} {st.get('detail', '')}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(s['stage'])}</td><td>{escape(s['action'])}</td><td>{escape(s.get('detail', ''))}</td></tr>"
            for s in self.steps
        )
        return f"<div><b>plan for {escape(self.pipeline)}</b><table>{rows}</table></div>"


@dataclasses.dataclass(frozen=True)
class RerunCheck(Entity):
    """A re-execution of a recorded stage and the comparison of its metrics."""

    source_run_id: str
    run_id: str | None
    passed: bool
    tolerance: float
    outcome: str
    compared: dict[str, dict[str, float | None]]
    message: str = ""

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        head = f"rerun of {self.source_run_id}: {verdict} (tolerance {self.tolerance:g}, new run {self.run_id})"
        lines = [head]
        for k, v in sorted(self.compared.items()):
            lines.append(f"  {k}: recorded {v['recorded']} now {v['now']} diff {v['diff']}")
        if self.message:
            lines.append(f"  {self.message}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#cf222e"
        rows = "".join(
            f"<tr><td>{escape(k)}</td><td>{escape(v['recorded'])}</td><td>{escape(v['now'])}</td><td>{escape(v['diff'])}</td></tr>"
            for k, v in sorted(self.compared.items())
        )
        return (
            f"<div><b style='color:{colour}'>rerun {'passed' if self.passed else 'failed'}</b> "
            f"<code>{escape(self.source_run_id)}</code> {escape(self.message)}"
            f"<table><tr><th>metric</th><th>recorded</th><th>now</th><th>diff</th></tr>{rows}</table></div>"
        )


@dataclasses.dataclass(frozen=True)
class NotebookRun(Entity):
    """One executed, reused or skipped notebook stage."""

    stage_run_id: str
    stage: str
    notebook: str
    outcome: str
    run_id: str | None = None
    source_run_id: str | None = None
    pipeline_run_id: str | None = None
    variant: int | None = None
    attempt: int = 1
    message: str = ""
    cell_index: int | None = None
    ename: str | None = None
    evalue: str | None = None
    output_path: str | None = None
    output_object_id: str | None = None
    code_sha256: str = ""
    cache_key: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    unknown_parameters: tuple[str, ...] = ()
    traceback: str = ""
    inputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    outputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    data_versions: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.SUCCEEDED.value, Outcome.CACHED.value)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def __str__(self) -> str:
        label = self.stage + (f"[{self.variant}]" if self.variant is not None else "")
        tail = f" (reused run {self.source_run_id})" if self.source_run_id else (f" run {self.run_id}" if self.run_id else "")
        text = f"{label}: {self.outcome}{tail} in {self.seconds:.1f}s"
        if self.message:
            text += f"\n  {self.message}"
        if self.traceback:
            text += "\n" + "\n".join("  | " + line for line in self.traceback.rstrip().splitlines())
        if self.output_path:
            text += f"\n  output notebook: {self.output_path}"
        return text

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else ("#555" if self.outcome == "SKIPPED" else "#cf222e")
        return (
            f"<div><b>{escape(self.stage)}</b> <span style='color:{colour}'>{escape(self.outcome)}</span> "
            f"<code>{escape(self.run_id or self.source_run_id or '')}</code> {self.seconds:.1f}s "
            f"{escape(self.message)}</div>"
        )
