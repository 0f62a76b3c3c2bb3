"""A live progress widget for notebook and pipeline runs started from a notebook.

``mlops.run_pipeline("pipeline.yaml", progress="widget")`` (and ``mlops.run_notebook``) display a
:class:`RunProgress` and feed it the plain dict events the pipeline scheduler emits (see
:mod:`jupyter_mlops.pipelines.progress`): one row per stage or sweep run with its outcome and
elapsed time, the stage running now, and the pipeline's status. The pipelines layer knows nothing
about widgets; this module only consumes its events. Every value shown is escaped.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ipywidgets as w

from ..core.entities import escape
from ..pipelines.progress import ProgressLog
from .common import STYLE, badge

__all__ = ["RunProgress", "show_progress"]

_TONE = {
    "RUNNING": "info",
    "SUCCEEDED": "good",
    "CACHED": "info",
    "SKIPPED": "none",
    "FAILED": "bad",
    "KILLED": "bad",
    "TIMED_OUT": "bad",
    "EXITED_EARLY": "bad",
}


class RunProgress(w.VBox):  # type: ignore[misc]
    """Stages and sweep runs with their outcome and elapsed time, updated as events arrive.

    Call the widget with each event (it is the ``progress=`` callback). ``tick`` seconds > 0 starts
    a background refresh of the elapsed times while something runs.
    """

    def __init__(self, *, tick: float = 1.0) -> None:
        self.events = ProgressLog()
        self.title = w.HTML(value="<span class='mlops-title'>run</span>")
        self.status = w.HTML(value=badge("WAITING", "none"))
        self.current = w.HTML(value="")
        self.table = w.HTML(value="")
        self.pipeline = ""
        self.state = "WAITING"
        self.cell: int | None = None
        self._ended_at: float | None = None
        self._tick = tick
        self._ticker: threading.Thread | None = None
        self._lock = threading.RLock()
        super().__init__(
            children=[w.HTML(value=STYLE), w.HBox([self.title, self.status]), self.current, self.table],
        )
        self.add_class("mlops-dash")

    # -- events --------------------------------------------------------------------------------
    def __call__(self, event: dict[str, Any]) -> None:
        """Take one progress event (``pipeline_start``, ``stage_start``, ``stage_end``, ...)."""
        with self._lock:
            self.events(event)
            kind = event.get("event")
            if kind == "pipeline_start":
                self.pipeline = str(event.get("pipeline", ""))
                self.title.value = f"<span class='mlops-title'>pipeline {escape(self.pipeline)}</span>"
                self._set_state("RUNNING")
            elif kind == "stage_start":
                self.cell = None
                if not self.pipeline:
                    self.title.value = f"<span class='mlops-title'>notebook {escape(event.get('stage', ''))}</span>"
                    self._set_state("RUNNING")
            elif kind == "cell_start":
                self.cell = event.get("cell_index")
            elif kind == "stage_end" and not self.pipeline:
                self._set_state(str(event.get("outcome", "")))
            elif kind == "pipeline_end":
                self._set_state(str(event.get("status", "")))
            self.refresh()
        if self.state == "RUNNING" and self._tick > 0 and self._ticker is None:
            self._ticker = threading.Thread(target=self._run_ticker, name="mlops-progress", daemon=True)
            self._ticker.start()

    def _set_state(self, state: str) -> None:
        self.state = state
        if state != "RUNNING":
            self._ended_at = time.monotonic()
        self.status.value = badge(state, _TONE.get(state, "none"))

    # -- rendering -----------------------------------------------------------------------------
    def rows(self) -> dict[str, dict[str, Any]]:
        """Per stage label (``train[1]`` for a sweep run): outcome and seconds (elapsed so far if running)."""
        now = (self._ended_at or time.monotonic()) - self.events.t0
        out: dict[str, dict[str, Any]] = {}
        for label, st in self.events.stages().items():
            running = st.get("outcome") == "RUNNING"
            secs = now - float(st.get("started") or 0.0) if running else float(st.get("seconds") or 0.0)
            out[label] = {
                "outcome": st.get("outcome", ""),
                "seconds": round(max(secs, 0.0), 1),
                "message": st.get("message", ""),
                "cell_index": st.get("cell_index"),
                "error": st.get("error"),
                "output_notebook": st.get("output_notebook"),
            }
        return out

    def refresh(self) -> None:
        """Redraw the table, the current stage and the elapsed time."""
        with self._lock:
            rows = self.rows()
            running = [label for label, r in rows.items() if r["outcome"] == "RUNNING"]
            elapsed = (self._ended_at or time.monotonic()) - self.events.t0
            if running:
                where = f" (cell {self.cell})" if self.cell is not None and len(running) == 1 else ""
                self.current.value = (
                    f"<span class='mlops-muted'>running: {escape(', '.join(running))}{escape(where)}"
                    f" &middot; elapsed {elapsed:.1f}s</span>"
                )
            else:
                self.current.value = f"<span class='mlops-muted'>elapsed {elapsed:.1f}s</span>"
            body = "".join(
                f"<tr><td>{escape(label)}</td><td>{badge(r['outcome'], _TONE.get(str(r['outcome']), 'none'))}</td>"
                f"<td class='num'>{r['seconds']:.1f}s</td><td>{_stage_message(r)}</td></tr>"
                for label, r in rows.items()
            )
            self.table.value = (
                "<table class='mlops-grid'><tr><th>stage</th><th>outcome</th><th>time</th><th></th></tr>" + body + "</table>"
                if body
                else ""
            )

    def _run_ticker(self) -> None:
        while self.state in ("RUNNING", "WAITING"):
            time.sleep(self._tick)
            try:
                self.refresh()
            except Exception:  # noqa: S110 - the display may be gone; the run goes on
                pass
        self._ticker = None


def _stage_message(r: dict[str, Any]) -> str:
    """What a stage's row says: for a failure, the cell, the error and a link to the executed notebook."""
    if r.get("outcome") not in ("FAILED", "KILLED", "TIMED_OUT", "EXITED_EARLY") or not (
        r.get("error") or r.get("output_notebook")
    ):
        return escape(r.get("message", ""))
    parts = []
    if r.get("cell_index") is not None:
        parts.append(f"<b>cell {escape(r['cell_index'])}</b>")
    parts.append(escape(r.get("error") or r.get("message", "")))
    html = ": ".join(parts)
    if r.get("output_notebook"):
        path = str(r["output_notebook"])
        html += f" &middot; <a href='{escape(path)}' target='_blank' rel='noopener'>output notebook {escape(path)}</a>"
    return html


def show_progress(*, tick: float = 1.0) -> RunProgress:
    """Display a new :class:`RunProgress` in the current cell's output and return it."""
    from IPython.display import display

    widget = RunProgress(tick=tick)
    display(widget)  # type: ignore[no-untyped-call]
    return widget
