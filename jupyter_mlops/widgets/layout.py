"""Laying out the full lineage graph: columns by kind, nearest nodes first, edge labels placed without overlap."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["layout_lineage"]


_TYPE_ORDER = {
    "notebook": 0,
    "cell": 0,
    "pipeline": 0,
    "data": 1,
    "data_version": 1,
    "dataset": 1,
    "quality_report": 2,
    "run": 2,
    "evaluation": 3,
    "model": 3,
    "model_version": 3,
    "card": 4,
    "review": 4,
    "alias": 5,
    "deployment": 6,
}


def layout_lineage(
    nodes: Iterable[str],
    edges: Iterable[tuple[str, str, str]],
    *,
    root: str | None = None,
    max_nodes: int = 60,
    node_width: int = 180,
    node_height: int = 42,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Place ``type:id`` nodes in columns so that edges point left to right.

    With a ``root``, its ancestors go left of it by their distance and its descendants right of
    it, so a reviewer reads "where it came from" on the left and "what came of it" on the right;
    without one (or for nodes neither up- nor downstream) the type order applies (sources, data,
    runs, models, aliases). Beyond ``max_nodes`` nodes the farthest from ``root`` are left out and
    counted in ``hidden``. ``labels`` names nodes (``{"run:<id>": "train-final (arrests)"}``);
    other nodes show their id. Edge labels get positions (``lx``, ``ly``) that do not overlap each
    other or a node.
    """
    keys = list(dict.fromkeys(nodes))
    edge_list = [(s, d, r) for s, d, r in edges]
    for s, d, _ in edge_list:
        for k in (s, d):
            if k not in keys:
                keys.append(k)
    hidden = 0
    if len(keys) > max_nodes:
        keep = _nearest(keys, edge_list, root, max_nodes)
        hidden = len(keys) - len(keep)
        keys = [k for k in keys if k in keep]
        edge_list = [e for e in edge_list if e[0] in keep and e[1] in keep]
    layer = _columns(keys, edge_list, root if root in keys else None)
    used = sorted(set(layer.values()))
    column = {v: i for i, v in enumerate(used)}
    by_col: dict[int, list[str]] = {}
    for k in keys:
        by_col.setdefault(column[layer[k]], []).append(k)
    gap_x, gap_y, pad = 70, 18, 12
    out_nodes = []
    for col, members in by_col.items():
        members.sort(key=lambda k: (k.partition(":")[0], k))
        for row, k in enumerate(members):
            node_type, _, node_id = k.partition(":")
            label = (labels or {}).get(k) or node_id
            label = label if len(label) <= 24 else label[:11] + "\u2026" + label[-11:]
            out_nodes.append(
                {
                    "key": k,
                    "type": node_type,
                    "id": node_id,
                    "label": label,
                    "root": k == root,
                    "x": pad + col * (node_width + gap_x),
                    "y": pad + row * (node_height + gap_y),
                }
            )
    rows = max((len(m) for m in by_col.values()), default=0)
    return {
        "nodes": out_nodes,
        "edges": _place_edge_labels(out_nodes, edge_list, node_width, node_height),
        "width": pad * 2 + max(1, len(by_col)) * (node_width + gap_x) - gap_x,
        "height": pad * 2 + max(1, rows) * (node_height + gap_y) + (14 if hidden else 0),
        "node_width": node_width,
        "node_height": node_height,
        "hidden": hidden,
    }


def _place_edge_labels(
    nodes: list[dict[str, Any]], edges: list[tuple[str, str, str]], node_width: int, node_height: int
) -> list[dict[str, Any]]:
    """Each edge with a label position clear of the other labels and of the nodes (nudged down, then up)."""
    pos = {n["key"]: n for n in nodes}
    taken: list[tuple[float, float, float, float]] = [(n["x"], n["y"], n["x"] + node_width, n["y"] + node_height) for n in nodes]

    def clear(box: tuple[float, float, float, float]) -> bool:
        return all(box[2] <= t[0] or box[0] >= t[2] or box[3] <= t[1] or box[1] >= t[3] for t in taken)

    out = []
    for s, d, r in edges:
        a, b = pos.get(s), pos.get(d)
        edge: dict[str, Any] = {"src": s, "dst": d, "relation": r}
        if a is not None and b is not None:
            cx = (a["x"] + node_width + b["x"]) / 2
            cy = (a["y"] + b["y"] + node_height) / 2 - 4
            half = 3.2 * len(r) + 3
            for shift in (0, 12, -12, 24, -24, 36, -36, 48, -48, 60, -60):
                box = (cx - half, cy + shift - 10, cx + half, cy + shift + 2)
                if clear(box):
                    taken.append(box)
                    edge.update(lx=round(cx, 1), ly=round(cy + shift, 1))
                    break
        out.append(edge)
    return out


def _nearest(keys: list[str], edges: list[tuple[str, str, str]], root: str | None, limit: int) -> set[str]:
    start = root if root in keys else keys[0]
    adj: dict[str, list[str]] = {}
    for s, d, _ in edges:
        adj.setdefault(s, []).append(d)
        adj.setdefault(d, []).append(s)
    seen = [start]
    frontier = [start]
    while frontier and len(seen) < limit:
        nxt = []
        for n in frontier:
            for m in adj.get(n, []):
                if m not in seen and len(seen) < limit:
                    seen.append(m)
                    nxt.append(m)
        frontier = nxt
    return set(seen)


def _distances(start: str, adj: dict[str, list[str]]) -> dict[str, int]:
    dist = {start: 0}
    frontier = [start]
    while frontier:
        nxt = []
        for n in frontier:
            for m in adj.get(n, []):
                if m not in dist:
                    dist[m] = dist[n] + 1
                    nxt.append(m)
        frontier = nxt
    return dist


def _columns(keys: list[str], edges: list[tuple[str, str, str]], root: str | None) -> dict[str, int]:
    """Column of each node: signed distance from ``root`` (ancestors negative), else the type order."""
    by_type = {k: _TYPE_ORDER.get(k.partition(":")[0], 2) for k in keys}
    if root is None:
        return by_type
    down: dict[str, list[str]] = {}
    up: dict[str, list[str]] = {}
    for s, d, _ in edges:
        if s != d:
            down.setdefault(s, []).append(d)
            up.setdefault(d, []).append(s)
    after = _distances(root, down)
    before = _distances(root, up)
    col: dict[str, int] = {}
    for k in keys:
        if k == root:
            col[k] = 0
        elif k in before:
            col[k] = -before[k]
        elif k in after:
            col[k] = after[k]
    for _ in range(len(keys)):  # place the rest next to a placed neighbour, on the side their type suggests
        missing = [k for k in keys if k not in col]
        if not missing:
            break
        for k in missing:
            for s, d, _ in edges:
                other = d if s == k else s if d == k else None
                if other in col:
                    col[k] = col[other] - 1 if s == k else col[other] + 1
                    break
    for k in keys:
        col.setdefault(k, by_type[k] - by_type.get(root, 2))
    return col
