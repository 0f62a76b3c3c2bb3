"""The package's shape: no import cycle between its modules, and no module past the size guide.

The layer rules themselves are import-linter contracts in ``pyproject.toml`` (``lint-imports``
runs in ``make test``); what a layers contract cannot see is a cycle inside one layer, so this
test builds the import graph with grimp (which import-linter is built on) and looks for any.
Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

import jupyter_mlops

PACKAGE = "jupyter_mlops"
MAX_LINES = 450


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, exclude_type_checking_imports=True)


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected set of two or more modules, each as one closed import path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def edges(module: str) -> list[str]:
        return sorted(m for m in graph.find_modules_directly_imported_by(module) if m.startswith(PACKAGE))

    def visit(root: str) -> None:
        # iterative Tarjan, so a deep graph cannot hit the recursion limit
        work = [(root, iter(edges(root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges(child))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in sorted(graph.modules):
        if module.startswith(PACKAGE) and module not in index:
            visit(module)
    return [_closed_path(graph, component) for component in found]


def _closed_path(graph: grimp.ImportGraph, component: list[str]) -> list[str]:
    """A readable cycle through ``component``: its first module, round to itself."""
    first = component[0]
    back = next(m for m in component[1:] if graph.chain_exists(importer=m, imported=first))
    there = graph.find_shortest_chain(importer=first, imported=back) or (first, back)
    home = graph.find_shortest_chain(importer=back, imported=first) or (back, first)
    return [*there, *home[1:]]


def test_the_package_has_no_import_cycle(graph: grimp.ImportGraph) -> None:
    cycles = import_cycles(graph)
    assert not cycles, "import cycles (break each by moving the shared name down a layer):\n" + "\n".join(
        "  " + " -> ".join(cycle) for cycle in cycles
    )


def test_the_cycle_finder_names_a_cycle() -> None:
    """The finder itself: a graph with a two-module and a three-module cycle reports both, by name."""
    g = grimp.ImportGraph()
    for name in ("jupyter_mlops.a", "jupyter_mlops.b", "jupyter_mlops.c", "jupyter_mlops.d", "jupyter_mlops.e"):
        g.add_module(name)
    for importer, imported in (("a", "b"), ("b", "a"), ("c", "d"), ("d", "e"), ("e", "c"), ("a", "c")):
        g.add_import(importer=f"jupyter_mlops.{importer}", imported=f"jupyter_mlops.{imported}")
    assert sorted(import_cycles(g)) == [
        ["jupyter_mlops.a", "jupyter_mlops.b", "jupyter_mlops.a"],
        ["jupyter_mlops.c", "jupyter_mlops.d", "jupyter_mlops.e", "jupyter_mlops.c"],
    ]


def test_no_module_is_past_the_size_guide() -> None:
    root = Path(jupyter_mlops.__file__).parent
    sizes = {str(p.relative_to(root.parent)): len(p.read_text(encoding="utf-8").splitlines()) for p in root.rglob("*.py")}
    over = {path: n for path, n in sorted(sizes.items(), key=lambda kv: -kv[1]) if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them by concern): {over}"
