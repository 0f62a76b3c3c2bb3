"""Charts and the lineage graph as anywidget ES modules that draw SVG themselves.

No charting library, no CDN, no external script: the JavaScript below is sent with the widget and
draws bar charts, line charts and a layered lineage graph with ``createElementNS``; every label
is set with ``textContent``, so names chosen by users stay text. Layout decisions that need to be
tested (scales, graph layers) are made in Python.
"""

from __future__ import annotations

# ruff: noqa: E501  (the embedded ES module and CSS keep their natural line lengths)
import math
from collections.abc import Sequence
from typing import Any

import anywidget
import traitlets

from .layout import layout_lineage

__all__ = ["Chart", "LineageView", "bar_chart", "layout_lineage", "line_chart", "nice_ticks"]

_CHART_ESM = r"""
const NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#0969da", "#e16f24", "#1a7f37", "#8250df", "#cf222e", "#1b7c83", "#9a6700", "#bf3989", "#57606a", "#4d2d00"];
function S(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}
function T(parent, x, y, text, attrs) {
  const t = S("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
  t.textContent = String(text);
  return t;
}
function fmt(v) {
  if (v === null || v === undefined || !isFinite(v)) return "";
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Math.round(v * 1000) / 1000);
}
function short(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }

function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "mlops-chart";
  el.appendChild(box);
  function draw() {
    const spec = model.get("spec") || {};
    box.replaceChildren();
    const W = spec.width || 560, H = spec.height || 260;
    const series = spec.series || [];
    const cats = spec.categories || [];
    const ticks = spec.ticks || [0, 1];
    const lo = ticks[0], hi = ticks[ticks.length - 1];
    const rotate = cats.length > 6 || cats.some((c) => String(c).length > 10);
    const m = { l: 54, r: 14, t: 30 + 16 * Math.ceil(series.length / 4), b: rotate ? 78 : 38 };
    const svg = S("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", class: "mlops-chart-svg" }, box);
    const title = S("title", {}, svg); title.textContent = spec.title || "chart";
    T(svg, m.l, 16, spec.title || "", { class: "mlops-chart-title" });
    const pw = W - m.l - m.r, ph = H - m.t - m.b;
    const y = (v) => m.t + ph - ((v - lo) / (hi - lo || 1)) * ph;
    for (const tk of ticks) {
      S("line", { x1: m.l, x2: m.l + pw, y1: y(tk), y2: y(tk), class: "mlops-grid" }, svg);
      T(svg, m.l - 6, y(tk) + 4, fmt(tk), { "text-anchor": "end", class: "mlops-tick" });
    }
    if (spec.y_label) T(svg, 12, m.t + ph / 2, short(spec.y_label, 30), { transform: `rotate(-90 12 ${m.t + ph / 2})`, "text-anchor": "middle", class: "mlops-axis" });
    // legend
    series.forEach((s, i) => {
      const lx = m.l + (i % 4) * Math.floor(pw / 4), ly = 24 + 16 * Math.floor(i / 4);
      S("rect", { x: lx, y: ly, width: 10, height: 10, rx: 2, fill: PALETTE[i % PALETTE.length] }, svg);
      T(svg, lx + 14, ly + 9, short(s.name, 22), { class: "mlops-legend" });
    });
    const n = Math.max(cats.length, 1);
    const band = pw / n;
    cats.forEach((c, j) => {
      const cx = m.l + band * j + band / 2;
      if (rotate) T(svg, cx, m.t + ph + 12, short(c, 16), { transform: `rotate(-35 ${cx} ${m.t + ph + 12})`, "text-anchor": "end", class: "mlops-tick" });
      else T(svg, cx, m.t + ph + 16, short(c, 18), { "text-anchor": "middle", class: "mlops-tick" });
    });
    S("line", { x1: m.l, x2: m.l + pw, y1: m.t + ph, y2: m.t + ph, class: "mlops-axisline" }, svg);
    if (spec.kind === "line") {
      series.forEach((s, i) => {
        const col = PALETTE[i % PALETTE.length];
        const pts = [];
        (s.values || []).forEach((v, j) => { if (v !== null && isFinite(v)) pts.push([m.l + band * j + band / 2, y(v), v]); });
        if (pts.length > 1) S("polyline", { points: pts.map((p) => p[0] + "," + p[1]).join(" "), fill: "none", stroke: col, "stroke-width": 2 }, svg);
        for (const p of pts) {
          const dot = S("circle", { cx: p[0], cy: p[1], r: 3, fill: col }, svg);
          const tt = S("title", {}, dot); tt.textContent = s.name + ": " + fmt(p[2]);
        }
      });
    } else {
      const k = Math.max(series.length, 1);
      const bw = Math.max(2, Math.min(36, (band * 0.8) / k));
      const base = y(Math.max(lo, Math.min(0, hi)));
      series.forEach((s, i) => {
        (s.values || []).forEach((v, j) => {
          if (v === null || !isFinite(v)) return;
          const x0 = m.l + band * j + band / 2 - (bw * k) / 2 + bw * i;
          const yv = y(v);
          const r = S("rect", { x: x0, y: Math.min(yv, base), width: bw - 1, height: Math.max(1, Math.abs(base - yv)), fill: PALETTE[i % PALETTE.length], class: "mlops-bar" }, svg);
          const tt = S("title", {}, r); tt.textContent = s.name + " \u00B7 " + cats[j] + ": " + fmt(v);
          if (k * n <= 16) T(svg, x0 + (bw - 1) / 2, Math.min(yv, base) - 3, fmt(v), { "text-anchor": "middle", class: "mlops-value" });
        });
      });
    }
    if (spec.reference !== undefined && spec.reference !== null && isFinite(spec.reference)) {
      S("line", { x1: m.l, x2: m.l + pw, y1: y(spec.reference), y2: y(spec.reference), class: "mlops-ref" }, svg);
      T(svg, m.l + pw - 2, y(spec.reference) - 4, spec.reference_label || "threshold", { "text-anchor": "end", class: "mlops-ref-label" });
    }
    box.dataset.painted = "1";
  }
  model.on("change:spec", draw);
  draw();
}
export default { render };
"""

_CHART_CSS = """
.mlops-chart { display: inline-block; margin: 4px 8px 4px 0; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
.mlops-chart-svg { font-family: var(--jp-ui-font-family, sans-serif); }
.mlops-chart-title { font-size: 13px; font-weight: 600; fill: #24292f; }
.mlops-tick, .mlops-legend { font-size: 10.5px; fill: #57606a; }
.mlops-value { font-size: 9.5px; fill: #24292f; }
.mlops-axis { font-size: 11px; fill: #57606a; }
.mlops-grid { stroke: #eaeef2; }
.mlops-axisline { stroke: #8c959f; }
.mlops-ref { stroke: #cf222e; stroke-dasharray: 4 3; }
.mlops-ref-label { font-size: 10px; fill: #cf222e; }
"""

_GRAPH_ESM = r"""
const NS = "http://www.w3.org/2000/svg";
const COLORS = { notebook: "#8250df", cell: "#8250df", data: "#1a7f37", data_version: "#1a7f37", dataset: "#1a7f37",
  run: "#0969da", model: "#e16f24", model_version: "#e16f24", alias: "#1b7c83", evaluation: "#9a6700",
  card: "#57606a", review: "#bf3989", deployment: "#cf222e", quality_report: "#4d2d00", pipeline: "#6639ba" };
function S(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}
let counter = 0;
function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "mlops-graph";
  el.appendChild(box);
  const mid = "mlops-arrow-" + (++counter) + "-" + Math.floor(Math.random() * 1e9);
  function draw() {
    const g = model.get("graph") || {};
    box.replaceChildren();
    const nodes = g.nodes || [], edges = g.edges || [];
    if (nodes.length === 0) {
      const p = document.createElement("div");
      p.className = "mlops-graph-empty";
      p.textContent = g.empty_text || "no lineage recorded";
      box.appendChild(p);
      return;
    }
    const W = g.width || 600, H = g.height || 200, NW = g.node_width || 180, NH = g.node_height || 42;
    const svg = S("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "mlops-graph-svg" }, box);
    const defs = S("defs", {}, svg);
    const mk = S("marker", { id: mid, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    S("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8c959f" }, mk);
    const pos = {};
    for (const n of nodes) pos[n.key] = n;
    for (const e of edges) {
      const a = pos[e.src], b = pos[e.dst];
      if (!a || !b) continue;
      const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2;
      const dx = Math.max(30, (x2 - x1) / 2);
      S("path", { d: `M ${x1} ${y1} C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`, class: "mlops-edge", "marker-end": `url(#${mid})` }, svg);
      const path = svg.lastChild;
      const et = S("title", {}, path); et.textContent = String(e.relation);
      if (e.lx === undefined) continue;  // no room without overlapping: the relation is on hover
      const lbl = S("text", { x: e.lx, y: e.ly, "text-anchor": "middle", class: "mlops-edge-label" }, svg);
      lbl.textContent = String(e.relation);
    }
    for (const n of nodes) {
      const grp = S("g", { class: "mlops-node" + (n.root ? " mlops-node-root" : ""), transform: `translate(${n.x},${n.y})` }, svg);
      const col = COLORS[n.type] || "#57606a";
      S("rect", { width: NW, height: NH, rx: 7, fill: "#ffffff", stroke: col, "stroke-width": n.root ? 3 : 1.5 }, grp);
      S("rect", { width: 6, height: NH, rx: 3, fill: col }, grp);
      const t1 = S("text", { x: 12, y: 16, class: "mlops-node-type" }, grp); t1.textContent = String(n.type);
      const t2 = S("text", { x: 12, y: 33, class: "mlops-node-label" }, grp); t2.textContent = String(n.label);
      const tt = S("title", {}, grp); tt.textContent = n.type + ": " + n.id;
    }
    if (g.hidden) {
      const more = S("text", { x: 8, y: H - 6, class: "mlops-edge-label" }, svg);
      more.textContent = g.hidden + " more nodes not drawn";
    }
    box.dataset.painted = "1";
  }
  model.on("change:graph", draw);
  draw();
}
export default { render };
"""

_GRAPH_CSS = """
.mlops-graph { overflow: auto; max-width: 100%; border: 1px solid #d0d7de; border-radius: 6px; background: #fff; }
.mlops-graph-svg { font-family: var(--jp-ui-font-family, sans-serif); }
.mlops-edge { fill: none; stroke: #8c959f; stroke-width: 1.4; }
.mlops-edge-label { font-size: 10px; fill: #57606a; }
.mlops-node-type { font-size: 10px; fill: #57606a; text-transform: uppercase; letter-spacing: .04em; }
.mlops-node-label { font-size: 12px; fill: #24292f; font-weight: 600; }
.mlops-graph-empty { padding: 14px; color: #57606a; font-style: italic; }
"""


class Chart(anywidget.AnyWidget):  # type: ignore[misc]
    """A bar or line chart drawn as SVG; build the ``spec`` with :func:`bar_chart` / :func:`line_chart`."""

    _esm = _CHART_ESM
    _css = _CHART_CSS
    spec = traitlets.Dict().tag(sync=True)


class LineageView(anywidget.AnyWidget):  # type: ignore[misc]
    """A lineage graph (left to right: sources, data, runs, models, aliases); see :func:`layout_lineage`."""

    _esm = _GRAPH_ESM
    _css = _GRAPH_CSS
    graph = traitlets.Dict().tag(sync=True)


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (always including 0 when the range crosses it)."""
    if lo == hi:
        lo, hi = (0.0, 1.0) if lo == 0 else (min(0.0, lo), max(0.0, hi))
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v < hi + step * 0.999:
        ticks.append(round(v, 12))
        v += step
    return ticks if len(ticks) >= 2 else [start, start + step]


def _spec(kind: str, title: str, categories: Sequence[Any], series: dict[str, Sequence[Any]], **extra: Any) -> dict[str, Any]:
    values_of = {str(name): [_finite(v) for v in values] for name, values in series.items()}
    clean = [{"name": name, "values": vals} for name, vals in values_of.items()]
    numbers = [v for vals in values_of.values() for v in vals if v is not None]
    ref = _finite(extra.get("reference"))
    if ref is not None:
        numbers.append(ref)
    lo = min(numbers, default=0.0)
    hi = max(numbers, default=1.0)
    if kind == "bar":
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    spec = {
        "kind": kind,
        "title": str(title),
        "categories": [str(c) for c in categories],
        "series": clean,
        "ticks": nice_ticks(lo, hi),
    }
    spec.update({k: v for k, v in extra.items() if v is not None})
    return spec


def bar_chart(title: str, categories: Sequence[Any], series: dict[str, Sequence[Any]], **extra: Any) -> dict[str, Any]:
    """A grouped bar chart spec: one group per category, one bar per series."""
    return _spec("bar", title, categories, series, **extra)


def line_chart(title: str, xs: Sequence[Any], series: dict[str, Sequence[Any]], **extra: Any) -> dict[str, Any]:
    """A line chart spec: one line per series over the shared x values ``xs``."""
    return _spec("line", title, xs, series, **extra)
