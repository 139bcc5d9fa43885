"""The package's layers: every import (module level or inside a function) runs the way the data
flows, and no module imports itself back through others. See README "Architecture".

world -> logs -> models -> policy -> experiment -> metrics -> statistics -> decision -> report:
each room may import the rooms listed for it below and nothing else of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "recsys"

#: room -> the rooms it may import (a room always imports itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "world": {"core"},
    "models": {"core"},
    "stats": {"core"},
    "policies": {"core", "world", "models"},
    "simulate": {"core", "world", "policies.base", "policies.artwork.base"},   # the contracts, no concrete policy
    "experiment": {"core", "world", "models", "policies", "simulate", "stats"},
    "metrics": {"core", "simulate"},
    "evaluate": {"core", "world", "models", "policies", "simulate", "experiment", "stats"},
    "decision": {"core", "stats"},
    "jobs": {"core", "world", "models", "policies", "simulate", "experiment", "metrics", "evaluate", "stats",
             "decision"},
    "tune": {"core", "world", "models", "policies", "simulate", "experiment", "metrics", "stats", "decision"},
    "report": {"core", "world", "stats", "decision", "jobs", "tune"},
    "cli": {"*"},
    "api": {"*"},
    "__main__": {"*"},
}


def _room(module: str) -> str:
    """recsys.policies.base -> "policies"; the top-level package's own modules by name."""
    parts = module.split(".")[1:]
    if not parts:
        return "api"
    return parts[0]


def _allowed(importer: str, imported: str) -> bool:
    room, target = _room(importer), _room(imported)
    if room == target:
        return True
    rules = ALLOWED[room]
    if "*" in rules:
        return True
    dotted = ".".join(imported.split(".")[1:])
    return target in rules or any(dotted == r or dotted.startswith(r + ".") for r in rules if "." in r)


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules a file imports, anywhere in it (``from recsys.x import y`` counts
    y when y is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "recsys":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "recsys")
    return {m for m in found if m in modules}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_every_room_is_known(graph):
    unknown = sorted({_room(m) for m in graph} - set(ALLOWED))
    assert not unknown, f"rooms without a rule in ALLOWED: {unknown}"


def test_imports_run_with_the_flow(graph):
    bad = sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps
                 if not (b == "recsys" or _allowed(a, b)))
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_cycles(graph):
    """No module reaches itself through its imports (package __init__ files re-exporting their
    own modules are followed like any module)."""
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if d == "recsys" or d.startswith(m + "."):      # a package importing its own members
                continue
            if state.get(d) == 1:
                cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_check_catches_a_violation():
    """The rule itself: the simulator may not import a concrete policy, statistics may not
    import the decision, the report may not import the simulator."""
    assert not _allowed("recsys.simulate.engine", "recsys.policies.reference")
    assert _allowed("recsys.simulate.engine", "recsys.policies.base")
    assert not _allowed("recsys.stats.analysis", "recsys.decision.rule")
    assert not _allowed("recsys.report.preview", "recsys.simulate.behaviour")
    assert _allowed("recsys.cli.demo", "recsys.simulate.runner")
