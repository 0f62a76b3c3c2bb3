"""What every dashboard shares: the header with Refresh and auto-refresh, error display, and
HTML helpers that escape every value.

Dashboards only call the :class:`~jupyter_mlops.workspace.Workspace` API and render its results,
so a button in a dashboard does exactly what the same call does in a script (same rules, same
audit events). Errors from that API are shown as one readable line in the dashboard, never as a
traceback, and never stop the other parts of the dashboard from working.
"""

from __future__ import annotations

# ruff: noqa: E501  (the embedded ES module and CSS keep their natural line lengths)
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..core.entities import escape
from ..errors import MlopsError

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = [
    "STYLE",
    "Dashboard",
    "badge",
    "html_table",
    "humanize",
    "iso_time",
    "kv_table",
    "note",
    "plural",
    "pre",
    "section",
    "short_json",
]

STYLE = """<style>
.mlops-dash { font-family: var(--jp-ui-font-family, -apple-system, 'Segoe UI', sans-serif); color: #24292f; }
.mlops-dash h3 { margin: 10px 0 6px; font-size: 14px; }
.mlops-dash h4 { margin: 10px 0 4px; font-size: 13px; color: #24292f; }
.mlops-dash .mlops-muted { color: #57606a; font-size: 12px; }
.mlops-dash table.mlops-kv, .mlops-dash table.mlops-grid { border-collapse: collapse; font-size: 12.5px; margin: 2px 0 8px; }
.mlops-dash table.mlops-kv th { text-align: left; color: #57606a; font-weight: 500; padding: 3px 14px 3px 0; vertical-align: top; white-space: nowrap; }
.mlops-dash table.mlops-kv td { padding: 3px 8px 3px 0; vertical-align: top; word-break: break-word; }
.mlops-dash table.mlops-grid th { background: #f6f8fa; text-align: left; padding: 4px 10px; border-bottom: 1px solid #d0d7de; white-space: nowrap; }
.mlops-dash table.mlops-grid td { padding: 3px 10px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
.mlops-dash table.mlops-grid td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mlops-dash table.mlops-grid tr.diff td { background: #fff8c5; }
.mlops-dash .mlops-badge { display: inline-block; padding: 2px 9px; border-radius: 12px; font-size: 12px; font-weight: 600; }
.mlops-dash .tone-good { background: #dafbe1; color: #1a7f37; border: 1px solid #aceebb; }
.mlops-dash .tone-bad { background: #ffebe9; color: #cf222e; border: 1px solid #ffcecb; }
.mlops-dash .tone-warn { background: #fff8c5; color: #9a6700; border: 1px solid #eed888; }
.mlops-dash .tone-info { background: #ddf4ff; color: #0969da; border: 1px solid #b6e3ff; }
.mlops-dash .tone-none { background: #f6f8fa; color: #57606a; border: 1px solid #d0d7de; }
.mlops-dash pre.mlops-pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px; font-size: 12px;
  max-height: 320px; overflow: auto; white-space: pre-wrap; word-break: break-word; }
.mlops-dash .mlops-note { padding: 6px 10px; border-radius: 6px; font-size: 12.5px; margin: 4px 0; }
.mlops-dash .mlops-title { font-size: 16px; font-weight: 600; }
.mlops-dash .mlops-section { border-top: 1px solid #eaeef2; margin-top: 6px; padding-top: 2px; max-width: 100%; overflow-x: auto; }
.mlops-dash button.jupyter-button:disabled { opacity: 1; background: #eaeef2 !important; color: #8c959f !important;
  box-shadow: none; cursor: not-allowed; border: 1px dashed #afb8c1; }
</style>"""

_TONES = ("good", "bad", "warn", "info", "none")


def iso_time(ts: Any) -> str:
    """An ISO 8601 timestamp (text, or a datetime) in this machine's local time with its offset.

    ``"2026-03-01T09:30:00+00:00"`` stays one format everywhere; a value without a zone is taken
    as UTC (how the records are written); text that is not a timestamp is returned as it is.
    """
    if ts is None or ts == "":
        return ""
    if isinstance(ts, datetime):
        when = ts
    else:
        try:
            when = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
        except ValueError:
            return str(ts)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone().isoformat(timespec="seconds")


def humanize(key: Any) -> str:
    """A metric or column key as words: ``"false_positive_rate"`` -> ``"false positive rate"``."""
    return str(key).replace("_", " ").strip()


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """``"1 run"``, ``"3 runs"``."""
    return f"{n} {noun if n == 1 else (plural_form or noun + 's')}"


def badge(text: Any, tone: str = "none") -> str:
    """A small coloured label (``tone``: good, bad, warn, info, none); ``text`` is escaped."""
    return f"<span class='mlops-badge tone-{tone if tone in _TONES else 'none'}'>{escape(text)}</span>"


def note(text: Any, tone: str = "info") -> str:
    """A one-line message box; ``text`` is escaped."""
    return f"<div class='mlops-note tone-{tone if tone in _TONES else 'none'}'>{escape(text)}</div>"


def pre(text: Any) -> str:
    """Preformatted, escaped text (source code, JSON payloads)."""
    return f"<pre class='mlops-pre'>{escape(text)}</pre>"


def section(title: str, body_html: str) -> str:
    """A titled block; ``title`` is escaped, ``body_html`` must already be safe HTML."""
    return f"<div class='mlops-section'><h4>{escape(title)}</h4>{body_html}</div>"


def number(value: float, digits: int = 6) -> str:
    """A float with up to ``digits`` significant digits (a mean year reads 1999.51, not 2000)."""
    a = abs(value)
    if a != 0 and (a >= 10 ** (digits + 1) or a < 1e-4):
        return f"{value:.{max(1, digits - 2)}e}"
    return f"{value:.{digits}g}"


def _cell(value: Any, digits: int = 6) -> tuple[str, bool]:
    if isinstance(value, bool) or value is None:
        return escape("" if value is None else value), False
    if isinstance(value, float):
        return escape(number(value, digits)), True
    if isinstance(value, int):
        return escape(value), True
    return escape(value), False


def html_table(
    headers: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    highlight: Callable[[Sequence[Any]], bool] | None = None,
    digits: int = 6,
) -> str:
    """An HTML table; every header and cell is escaped, numbers are right-aligned (``digits`` significant)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for v in row:
            text, numeric = _cell(v, digits)
            cells.append(f"<td class='num'>{text}</td>" if numeric else f"<td>{text}</td>")
        cls = " class='diff'" if highlight is not None and highlight(row) else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    if not body:
        body.append(f"<tr><td colspan='{max(1, len(headers))}' class='mlops-muted'>none recorded</td></tr>")
    return f"<table class='mlops-grid'><tr>{head}</tr>{''.join(body)}</table>"


def kv_table(items: Mapping[str, Any] | Iterable[tuple[str, Any]], *, empty: str = "none recorded", digits: int = 6) -> str:
    """A two-column key/value table; keys and values are escaped."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    if not pairs:
        return f"<div class='mlops-muted'>{escape(empty)}</div>"
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{_cell(v, digits)[0]}</td></tr>" for k, v in pairs)
    return f"<table class='mlops-kv'>{rows}</table>"


def short_json(value: Any, limit: int = 140) -> str:
    """Compact JSON text for a table cell (plain text; escape it when placing it in HTML)."""
    try:
        text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def safe_html_of(obj: Any) -> str:
    """The ``_repr_html_`` of an API result (those escape user text themselves), or escaped ``str``."""
    rep = getattr(obj, "_repr_html_", None)
    if callable(rep):
        out = rep()
        if isinstance(out, str):
            return out
    return pre(obj)


class Dashboard(w.VBox):  # type: ignore[misc]
    """Base of the four dashboards: a title bar with Refresh, an auto-refresh toggle and a status line.

    Subclasses build their widgets in ``__init__`` and implement :meth:`reload`; every callback
    runs through :meth:`guard`, which shows an :class:`~jupyter_mlops.errors.MlopsError` as one
    line in the status bar instead of a traceback.
    """

    title = "dashboard"

    def __init__(self, ws: Workspace, *, refresh_seconds: float | None = None) -> None:
        self.ws = ws
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._depth = 0
        self.last_error: str | None = None
        self.refresh_button = w.Button(
            description="Refresh", icon="refresh", tooltip="read the records again", layout=w.Layout(width="100px")
        )
        self.auto_refresh = w.Checkbox(
            value=False, description="auto-refresh every", indent=False, layout=w.Layout(width="150px")
        )
        self.refresh_interval = w.BoundedIntText(value=int(refresh_seconds or 30), min=2, max=3600, layout=w.Layout(width="70px"))
        self.status = w.HTML(layout=w.Layout(margin="0 0 0 12px"))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.auto_refresh.observe(self._on_auto, names="value")
        header = w.HBox(
            [
                w.HTML(f"<span class='mlops-title'>{escape(self.title)}</span>", layout=w.Layout(margin="0 16px 0 0")),
                self.refresh_button,
                self.auto_refresh,
                self.refresh_interval,
                w.HTML("<span class='mlops-muted'>s</span>"),
                self.status,
            ],
            layout=w.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.body = w.VBox()
        super().__init__([w.HTML(STYLE), header, self.body])
        self.add_class("mlops-dash")
        self.add_class(f"mlops-dash-{self.title.split()[0].lower()}")
        if refresh_seconds:
            self.auto_refresh.value = True

    # -- errors ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Run a callback; an API error becomes a red status line (and :attr:`last_error`)."""
        self._depth += 1
        if self._depth == 1:
            self.last_error = None
        try:
            yield
        except MlopsError as err:
            self.show_error(what, err)
        except Exception as err:  # a dashboard must stay usable whatever one panel hits
            self.show_error(what, err)
        finally:
            self._depth -= 1

    def show_error(self, what: str, err: BaseException) -> None:
        message = str(err) if isinstance(err, MlopsError) else f"{type(err).__name__}: {err}"
        self.last_error = f"{what}: {message}"
        self.status.value = badge("error", "bad") + f" <span style='color:#cf222e'>{escape(self.last_error)}</span>"

    def show_status(self, text: str, tone: str = "none") -> None:
        self.status.value = f"<span class='mlops-muted'>{escape(text)}</span>" if tone == "none" else badge(text, tone)

    # -- refresh -----------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the records again and redraw (implemented by each dashboard)."""
        raise NotImplementedError

    def refresh(self) -> None:
        """Reload everything; errors are shown in the status line."""
        with self._lock:
            with self.guard("refresh"):
                self.reload()
            if self.last_error is None:
                self.show_status(f"updated {time.strftime('%H:%M:%S')}")

    def _on_auto(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.start_auto_refresh()
        else:
            self.stop_auto_refresh()

    def start_auto_refresh(self, seconds: float | None = None) -> None:
        """Refresh every ``seconds`` (default: the interval box) until stopped or closed."""
        if seconds is not None:
            self.refresh_interval.value = max(2, int(seconds))
        self.stop_auto_refresh()
        self._stop = threading.Event()
        stop = self._stop

        def loop() -> None:
            while not stop.wait(float(self.refresh_interval.value)):
                self.refresh()

        self._timer = threading.Thread(target=loop, name=f"mlops-{self.title}-refresh", daemon=True)
        self._timer.start()

    def stop_auto_refresh(self) -> None:
        self._stop.set()
        self._timer = None

    def close(self) -> None:
        self.stop_auto_refresh()
        super().close()
