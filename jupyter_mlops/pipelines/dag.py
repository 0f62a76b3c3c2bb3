"""The stage graph: cycle detection, upstream closure, and reference resolution between stages.

Kept free of execution so that validation (``--dry-run``) and scheduling share one definition of
"what depends on what".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import InvalidInput

#: A reference to a parameter or an upstream result inside a stage value: ``${name}``.
REF_RE = re.compile(r"\$\{([^}]*)\}")

__all__ = ["downstream_of", "find_cycle", "resolve_parameters", "topological_order", "upstream_closure"]


def find_cycle(needs: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle as ``[a, b, ..., a]``, or ``None`` when the graph is acyclic."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for up in needs.get(node, ()):
            if state.get(up) == 1:
                return [*path[path.index(up) :], up]
            if state.get(up, 0) == 0 and up in needs:
                found = visit(up)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for n in needs:
        if state.get(n, 0) == 0:
            found = visit(n)
            if found:
                return found
    return None


def topological_order(needs: Mapping[str, Iterable[str]]) -> list[str]:
    """Stages in an order where every stage comes after the stages it needs (declaration order kept)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        if node in seen:
            return
        seen.add(node)
        for up in needs.get(node, ()):
            visit(up)
        done.append(node)

    for n in needs:
        visit(n)
    return done


def upstream_closure(needs: Mapping[str, Iterable[str]], selected: Iterable[str]) -> set[str]:
    """``selected`` and every stage they transitively need."""
    out: set[str] = set()
    todo = list(selected)
    while todo:
        n = todo.pop()
        if n not in out:
            out.add(n)
            todo.extend(needs.get(n, ()))
    return out


def downstream_of(needs: Mapping[str, Iterable[str]], stage: str) -> set[str]:
    """Every stage that transitively needs ``stage``."""
    out: set[str] = set()
    changed = True
    while changed:
        changed = False
        for n, ups in needs.items():
            if n not in out and any(u == stage or u in out for u in ups):
                out.add(n)
                changed = True
    return out


def _lookup(ref: str, params: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]]) -> Any:
    parts = ref.split(".")
    if parts[0] == "params":
        return params[parts[1]]
    stage = results.get(parts[1])
    if stage is None:
        raise InvalidInput(f"${{{ref}}} refers to stage {parts[1]!r}, which has no result", value=ref)
    if parts[2] == "run_id":
        return stage.get("run_id") or stage.get("source_run_id")
    name = ".".join(parts[3:])
    table = stage.get(parts[2]) or {}
    models = [k for k in table if parts[2] == "outputs" and str(k).startswith("model:")]
    if name == "model" and name not in table and len(models) == 1:
        name = models[0]  # ${stages.S.outputs.model}: the one model the stage declares
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise InvalidInput(
            f"${{{ref}}}: stage {parts[1]!r} recorded no {parts[2][:-1] if parts[2] != 'params' else 'parameter'} {name!r}",
            value=ref,
            hint=f"known: {known}",
        )
    return table[name]


def resolve_parameters(value: Any, params: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]]) -> Any:
    """Replace ``${...}`` references; a value that is exactly one reference keeps the referenced type."""
    if isinstance(value, str):
        whole = REF_RE.fullmatch(value.strip())
        if whole:
            return _lookup(whole.group(1).strip(), params, results)
        return REF_RE.sub(lambda m: str(_lookup(m.group(1).strip(), params, results)), value)
    if isinstance(value, dict):
        return {k: resolve_parameters(v, params, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_parameters(v, params, results) for v in value]
    return value
