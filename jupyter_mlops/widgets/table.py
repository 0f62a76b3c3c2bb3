"""A sortable, selectable data table as an anywidget (inline ES module, no CDN).

The table only *shows* one page: sorting and paging are asked of the store by the dashboard that
owns it (a click on a header sets :attr:`DataTable.sort`, the dashboard re-queries). Every cell is
written with ``textContent``, so user strings (run names, parameters, actors) are never parsed as
HTML.
"""

from __future__ import annotations

import math
from typing import Any

import anywidget
import traitlets

__all__ = ["DataTable"]

_ESM = r"""
function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "mlops-table-wrap";
  el.appendChild(root);

  function cellText(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") {
      if (!isFinite(v)) return String(v);
      if (Number.isInteger(v)) return String(v);
      return Math.abs(v) >= 1e7 || Math.abs(v) < 1e-4 ? v.toExponential(4) : String(Number(v.toPrecision(6)));
    }
    return String(v);
  }

  function draw() {
    const columns = model.get("columns") || [];
    const rows = model.get("rows") || [];
    const sort = model.get("sort") || "";
    const selectable = model.get("selectable");
    const selected = new Set(model.get("selected") || []);
    const active = model.get("active") || "";
    root.replaceChildren();
    const caption = model.get("caption");
    if (caption) {
      const c = document.createElement("div");
      c.className = "mlops-table-caption";
      c.textContent = caption;
      root.appendChild(c);
    }
    const table = document.createElement("table");
    table.className = "mlops-table";
    const thead = document.createElement("thead");
    const hr = document.createElement("tr");
    if (selectable) {
      const th = document.createElement("th");
      th.className = "mlops-sel";
      hr.appendChild(th);
    }
    for (const col of columns) {
      const th = document.createElement("th");
      let label = col.label;
      if (col.sort_key) {
        th.classList.add("mlops-sortable");
        th.title = "sort by " + col.label;
        if (sort === col.sort_key + " DESC") label += " \u25BC";
        else if (sort === col.sort_key + " ASC") label += " \u25B2";
        const first = col.first === "ASC" ? "ASC" : "DESC", other = first === "ASC" ? "DESC" : "ASC";
        th.addEventListener("click", () => {
          const next = sort === col.sort_key + " " + first ? col.sort_key + " " + other : col.sort_key + " " + first;
          model.set("sort", next);
          model.save_changes();
        });
      }
      if (col.numeric) th.classList.add("mlops-num");
      th.textContent = label;
      hr.appendChild(th);
    }
    thead.appendChild(hr);
    table.appendChild(thead);
    const tbody = document.createElement("tbody");
    for (const row of rows) {
      const tr = document.createElement("tr");
      tr.dataset.rowId = String(row.id);
      if (String(row.id) === active) tr.classList.add("mlops-active");
      if (row._tone) tr.classList.add("mlops-tone-" + String(row._tone).replace(/[^a-z]/g, ""));
      if (selectable) {
        const td = document.createElement("td");
        td.className = "mlops-sel";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.checked = selected.has(row.id);
        box.addEventListener("click", (ev) => {
          ev.stopPropagation();
          const cur = new Set(model.get("selected") || []);
          if (box.checked) cur.add(row.id); else cur.delete(row.id);
          model.set("selected", Array.from(cur));
          model.save_changes();
        });
        td.appendChild(box);
        tr.appendChild(td);
      }
      for (const col of columns) {
        const td = document.createElement("td");
        const v = row[col.key];
        if (col.numeric) td.classList.add("mlops-num");
        if (col.key === "status") td.classList.add("mlops-status-" + String(v || "").toLowerCase().replace(/[^a-z]/g, ""));
        td.textContent = cellText(v);
        const full = String(v === null || v === undefined ? "" : v);
        if (full.length > 40) td.title = full;
        tr.appendChild(td);
      }
      tr.addEventListener("click", () => {
        model.set("active", String(row.id));
        model.save_changes();
      });
      tbody.appendChild(tr);
    }
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = columns.length + (selectable ? 1 : 0);
      td.className = "mlops-empty";
      td.textContent = model.get("empty_text") || "nothing to show";
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
    root.appendChild(table);
    root.dataset.rows = String(rows.length);
    root.dataset.painted = String(model.get("version"));
  }
  for (const t of ["columns", "rows", "sort", "selected", "active", "caption", "selectable"]) {
    model.on("change:" + t, draw);
  }
  draw();
}
export default { render };
"""

_CSS = """
.mlops-table-wrap { max-height: 460px; overflow: auto; border: 1px solid #d0d7de; border-radius: 6px; }
.mlops-table-caption { font-size: 12px; color: #57606a; padding: 4px 8px; background: #f6f8fa; border-bottom: 1px solid #d0d7de; }
.mlops-table { border-collapse: collapse; width: 100%; font-size: 12.5px; font-family: var(--jp-ui-font-family, sans-serif); }
.mlops-table th { position: sticky; top: 0; background: #f6f8fa; text-align: left; padding: 5px 8px;
  border-bottom: 1px solid #d0d7de; white-space: nowrap; font-weight: 600; color: #24292f; }
.mlops-table th.mlops-sortable { cursor: pointer; }
.mlops-table th.mlops-sortable:hover { background: #eaeef2; }
.mlops-table td { padding: 4px 8px; border-bottom: 1px solid #eaeef2; max-width: 260px; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; color: #24292f; }
.mlops-table tbody tr { cursor: pointer; }
.mlops-table tbody tr:nth-child(even) { background: #fbfcfd; }
.mlops-table tbody tr:hover { background: #eef4ff; }
.mlops-table tr.mlops-active { background: #ddeaff !important; }
.mlops-table .mlops-num { text-align: right; font-variant-numeric: tabular-nums; }
.mlops-table .mlops-sel { width: 22px; text-align: center; }
.mlops-table .mlops-empty { color: #57606a; font-style: italic; text-align: center; padding: 14px; }
.mlops-table .mlops-status-finished { color: #1a7f37; font-weight: 600; }
.mlops-table .mlops-status-failed { color: #cf222e; font-weight: 600; }
.mlops-table .mlops-status-killed { color: #9a6700; font-weight: 600; }
.mlops-table .mlops-status-running { color: #0969da; font-weight: 600; }
.mlops-table tr.mlops-tone-bad td { color: #cf222e; }
.mlops-table tr.mlops-tone-good td:first-of-type { border-left: 3px solid #1a7f37; }
"""


class DataTable(anywidget.AnyWidget):  # type: ignore[misc]
    """One page of rows.

    ``columns`` is a list of ``{"key", "label", "numeric", "sort_key"}`` (a column with a
    ``sort_key`` is sortable; clicking it sets :attr:`sort` to ``"<sort_key> DESC|ASC"``),
    ``rows`` a list of dicts with an ``"id"`` plus one value per column key. :attr:`selected`
    holds the ids whose check box is ticked, :attr:`active` the id of the last row clicked.
    """

    _esm = _ESM
    _css = _CSS
    columns = traitlets.List(traitlets.Dict()).tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    sort = traitlets.Unicode("").tag(sync=True)
    selectable = traitlets.Bool(False).tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    active = traitlets.Unicode("").tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("nothing to show").tag(sync=True)
    version = traitlets.Int(0).tag(sync=True)

    def show(
        self, rows: list[dict[str, Any]], *, columns: list[dict[str, Any]] | None = None, caption: str | None = None
    ) -> None:
        """Replace the page shown (the front-end redraws once)."""
        with self.hold_sync():
            if columns is not None:
                self.columns = columns
            self.rows = [{k: _jsonable(v) for k, v in r.items()} for r in rows]
            if caption is not None:
                self.caption = caption
            self.version += 1


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)
