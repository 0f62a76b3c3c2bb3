"""Progress of long pipeline work as events, and a terminal display for them.

The scheduler and the notebook runner emit plain dict events (``pipeline_start``, ``stage_start``,
``stage_end``, ``sweep_select``, ``pipeline_end``, and ``cell_start``/``cell_done`` for a single
notebook). :class:`TerminalProgress` shows them live on a terminal (one status line per stage,
redrawn in place) and as plain lines otherwise (logs, CI). The widgets layer renders the same
events in notebooks through :class:`ProgressLog`; nothing here imports ipywidgets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["ProgressLog", "TerminalProgress"]


def _label(event: dict[str, Any]) -> str:
    variant = event.get("variant")
    return str(event.get("stage", "")) + ("" if variant is None else f"[{variant}]")


class ProgressLog:
    """Collects events and tells subscribers (a widget) about each one; thread-safe."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.t0 = time.monotonic()
        self._subscribers: list[Callable[[dict[str, Any]], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Callable[[dict[str, Any]], None]) -> None:
        self._subscribers.append(fn)

    def __call__(self, event: dict[str, Any]) -> None:
        event = {**event, "elapsed": round(time.monotonic() - self.t0, 3)}
        with self._lock:
            self.events.append(event)
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:  # noqa: S110 - a broken display must not break the run
                pass

    def stages(self) -> dict[str, dict[str, Any]]:
        """Current state per stage label: ``outcome`` (or ``RUNNING``), start time, seconds."""
        out: dict[str, dict[str, Any]] = {}
        for e in self.events:
            if e["event"] == "stage_start":
                out[_label(e)] = {"outcome": "RUNNING", "started": e["elapsed"], "seconds": None, "message": ""}
            elif e["event"] == "stage_end":
                row = out.setdefault(_label(e), {"started": e["elapsed"]})
                row.update(outcome=e["outcome"], seconds=e.get("seconds"), message=e.get("message", ""))
                row.update({k: e.get(k) for k in ("cell_index", "error", "output_notebook") if e.get(k) is not None})
        return out


class TerminalProgress:
    """Writes events to ``stream``: redrawn in place on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO, *, live: bool | None = None) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.log = ProgressLog()
        self._drawn = 0

    def __call__(self, event: dict[str, Any]) -> None:
        self.log(event)
        if self.live:
            self._redraw()
        else:
            line = self._line(event)
            if line:
                self.stream.write(line + "\n")
                self.stream.flush()

    def _line(self, e: dict[str, Any]) -> str | None:
        stamp = f"[{time.monotonic() - self.log.t0:7.1f}s]"
        kind = e["event"]
        if kind == "pipeline_start":
            return f"{stamp} pipeline {e['pipeline']}: {len(e['stages'])} stage(s)"
        if kind == "stage_start":
            return f"{stamp} {_label(e)} started"
        if kind == "stage_end":
            tail = f" - {e['message']}" if e.get("message") and e["outcome"] not in ("SUCCEEDED",) else ""
            return f"{stamp} {_label(e)} {e['outcome']} ({float(e.get('seconds') or 0):.1f}s){tail}"
        if kind == "sweep_select":
            models = [str(v) for k, v in (e.get("outputs") or {}).items() if str(k).startswith("model:")]
            tail = f" -> {', '.join(models)}" if models else ""
            return f"{stamp} {e['stage']}: selected variant {e['variant']} ({e['metric']}={e['value']:.4g}){tail}"
        if kind == "pipeline_end":
            return f"{stamp} pipeline {e['status']}"
        return None

    def _redraw(self) -> None:
        now = time.monotonic() - self.log.t0
        rows = []
        for label, st in self.log.stages().items():
            secs = st["seconds"] if st.get("seconds") is not None else now - st["started"]
            rows.append(f"  {label:<28} {st['outcome']:<13} {float(secs):6.1f}s")
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
        self.stream.write("\n".join(rows) + ("\n" if rows else ""))
        self.stream.flush()
        self._drawn = len(rows)
