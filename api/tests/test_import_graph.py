"""The house plan, checked: every import inside ``inventory`` points down the floors, and no two rooms import each
other (directly or around a loop).

A room is the longest entry of ``FLOORS`` that names a module or one of its packages (``inventory.fleet.config``
is its own room on the ground floor, the rest of ``inventory.fleet`` one room two floors up). Every import counts:
inside functions, under ``TYPE_CHECKING``, relative ones resolved. A new module lands in the room of its package;
a new top-level module must be given a floor here (the test says so).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "inventory"

# Floors, bottom up. An import may point to its own floor or below, never above.
FLOORS: dict[str, int] = {
    # 0 ground: configuration, the model, problems, and instruments every floor uses
    "inventory.config": 0,
    "inventory.fleet.config": 0,  # SourceConfig: which engines and clusters, parsed; no backend in sight
    "inventory.model": 0,
    "inventory.problems": 0,
    "inventory.metrics": 0,
    "inventory.logs": 0,
    "inventory.tracing": 0,
    "inventory.cache": 0,
    "inventory.docblock": 0,  # generated tables in docs (config, posture)
    "inventory.apimodel": 0,  # the typed API models' base classes: query validation, encoding, schemas
    # 1 backends and the posture core (rules, engine, waivers)
    "inventory.backends": 1,
    "inventory.posture": 1,
    "inventory.workload": 1,
    "inventory.query": 1,
    # 2 live state, fleet sources, history store and queries
    "inventory.live": 2,
    "inventory.fleet": 2,
    "inventory.history": 2,
    "inventory.findings": 2,  # baselines and gates over posture findings
    "inventory.vulns": 2,  # image reports: parse, store (history tables), read; the migrations import its tables
    # 3 services and the recorder
    "inventory.service": 3,
    "inventory.recorder": 3,
    "inventory.evidence": 3,  # signed statements of a posture report and the history's chain head
    "inventory.history.migrations": 3,  # the schema of every history table: history's and vulns' models
    # 4 views, OpenAPI, the dashboard, app wiring, entry points and command lines
    "inventory": 4,  # the package itself: create_app, lazily
    "inventory.app": 4,
    "inventory.wiring": 4,
    "inventory.wsgi": 4,
    "inventory.views": 4,
    "inventory.openapi": 4,
    "inventory.schemas": 4,  # the answers' API models
    "inventory.auth": 4,
    "inventory.conditional": 4,
    "inventory.ui": 4,
    "inventory.cli": 4,
    "inventory.fleet.openapi": 4,
    "inventory.history.views": 4,
    "inventory.history.openapi": 4,
    "inventory.history.params": 4,
    "inventory.history.__main__": 4,
    "inventory.recorder.run": 4,
    "inventory.recorder.__main__": 4,
    "inventory.posture.docs": 4,
}

# Imports that point down yet must not exist: the consumer gets what it needs handed in by the wiring.
FORBIDDEN: dict[tuple[str, str], str] = {
    ("inventory.backends", "inventory.config"): "a backend takes a SourceConfig, never the settings",
    ("inventory.live", "inventory.config"): "the live state takes a SourceConfig and LiveTimings",
    ("inventory.fleet", "inventory.config"): "sources are built from SourceConfig and LiveTimings",
    ("inventory.service", "inventory.config"): "the service takes its sources, waivers and timings",
    ("inventory.posture", "inventory.config"): "posture never reads the environment",
}

# Edges tolerated while a move is under way (empty since the model room, the CLI floor and the recorder/history split
# of issue 20 landed); nothing configuration-related may be listed here.
PENDING: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every inventory module ``name`` imports, wherever the import statement is."""
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "inventory")
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            if target.split(".")[0] != "inventory":
                continue
            submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            yield from submodules
            if len(submodules) < len(node.names):  # names defined in the module itself
                yield target


def room(module: str) -> str | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in FLOORS:
            return ".".join(parts[:n])
    return None


def room_graph() -> dict[tuple[str, str], list[str]]:
    """(importing room, imported room) -> the module-level imports behind it, e.g. 'inventory.a -> inventory.b'."""
    found = modules()
    unplaced = sorted(m for m in found if m.count(".") == 1 and m not in FLOORS and "migrations" not in m)
    assert not unplaced, f"give these modules a floor in FLOORS: {unplaced}"
    edges: dict[tuple[str, str], list[str]] = {}
    for name, path in found.items():
        for target in imports(name, path, set(found)):
            a, b = room(name), room(target)
            if a is not None and b is not None and a != b:
                edges.setdefault((a, b), []).append(f"{name} -> {target}")
    return edges


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected groups of rooms (Tarjan), each with more than one room."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _show(edges: dict[tuple[str, str], list[str]], pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f"  {a} -> {b}: {', '.join(sorted(set(edges[(a, b)])))}" for a, b in pairs)


def test_no_import_cycle_between_rooms() -> None:
    edges = room_graph()
    live = {e for e in edges if e not in PENDING}
    found = cycles(live)
    detail = "\n".join(
        f"cycle {' <-> '.join(group)}:\n" + _show(edges, sorted(e for e in live if {*e} <= {*group})) for group in found
    )
    assert not found, f"import cycles between rooms:\n{detail}"


def test_every_import_points_down_the_floors() -> None:
    edges = room_graph()
    up = sorted(e for e in edges if FLOORS[e[1]] > FLOORS[e[0]] and e not in PENDING)
    assert not up, "imports that point up a floor (importer floor < imported floor):\n" + _show(edges, up)


def test_no_forbidden_import() -> None:
    edges = room_graph()
    bad = sorted(e for e in edges if e in FORBIDDEN and e not in PENDING)
    why = "\n".join(f"  {a} -> {b}: {FORBIDDEN[(a, b)]}" for a, b in bad)
    assert not bad, f"forbidden imports:\n{why}\n" + _show(edges, bad)


def test_pending_edges_still_exist() -> None:
    """A pending edge that is gone must leave the list (so the list only ever shrinks to empty)."""
    edges = room_graph()
    gone = sorted(PENDING - set(edges))
    assert not gone, f"these edges are gone: remove them from PENDING: {gone}"


def test_the_graph_reader_sees_every_kind_of_import(tmp_path: Path) -> None:
    """Late imports, TYPE_CHECKING imports and relative imports are all edges (the cycle this test first found
    hid behind exactly those)."""
    pkg = tmp_path / "inventory" / "sub"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    src = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..config import Settings\n"
        "def f():\n    from .b import g\n    import inventory.model\n"
    )
    (pkg / "a.py").write_text(src)
    known = {"inventory.sub", "inventory.sub.a", "inventory.sub.b", "inventory.config", "inventory.model"}
    assert set(imports("inventory.sub.a", pkg / "a.py", known)) == {
        "inventory.config",
        "inventory.sub.b",
        "inventory.model",
    }
    assert set(imports("inventory.sub", pkg / "__init__.py", known)) == {"inventory.sub.a"}
    assert cycles({("x", "y"), ("y", "z"), ("z", "x"), ("z", "w")}) == [["x", "y", "z"]]
    assert (
        room("inventory.fleet.config") == "inventory.fleet.config" and room("inventory.fleet.view") == "inventory.fleet"
    )
