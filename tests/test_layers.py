"""The import rules of the package, over the real import graph (every import statement,
inside functions and under TYPE_CHECKING included).

The layers, lowest first; a module imports only from its own layer or those below it:

    core < config < state < notify < app < daemon < system < cli < entry

plus the shared modules at the top of the package (errors, paths, fsutil, tasks), which every
layer may use and which import nothing of attuned but each other. `core` imports no I/O
module. Nothing imports upward, and there is no cycle between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "attuned"
LAYERS = ("core", "config", "state", "notify", "app", "daemon", "system", "cli", "entry")
SHARED = frozenset({"errors", "paths", "fsutil", "tasks", "__init__"})
# What a pure core may not touch: files, processes, sockets, the clock's source, databases.
IO_MODULES = frozenset({
    "os", "io", "pathlib", "socket", "subprocess", "sqlite3", "shutil", "tempfile", "fcntl",
    "asyncio", "select", "signal", "threading", "logging", "importlib.resources", "sys",
    "time", "platformdirs", "tzlocal", "dbus_fast", "click", "tomli", "tomllib", "tomlkit",
})


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file; `from attuned.x import y` gives both
    attuned.x and attuned.x.y (y may be a module)."""
    tree = ast.parse(path.read_text("utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
    return found


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> str | None:
    """The layer of an attuned module, "shared" for the top-level helpers, None when the
    name is not one of ours (an imported name that is not a module)."""
    if module not in MODULES:
        return None
    parts = module.split(".")
    if len(parts) == 1:
        return "shared"
    if len(parts) == 2 and parts[1] in SHARED:
        return "shared"
    if len(parts) == 2 and parts[1] == "__main__":
        return "entry"
    return parts[1] if parts[1] in LAYERS else "entry"


def _graph() -> dict[str, set[str]]:
    return {m: {name for _, name in _imports(p) if name in MODULES and name != m}
            for m, p in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    assert {m: _layer(m) for m in MODULES if _layer(m) is None} == {}


def test_nothing_imports_upward() -> None:
    rank = {name: i for i, name in enumerate(LAYERS)}
    wrong = []
    for module, path in MODULES.items():
        mine = _layer(module)
        for line, name in _imports(path):
            theirs = _layer(name)
            if theirs is None or name == module:
                continue
            if mine == "shared":
                ok = theirs == "shared"
            else:
                ok = theirs == "shared" or rank[theirs] <= rank[str(mine)]
            if not ok:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {mine} imports "
                             f"{name} ({theirs})")
    assert wrong == []


def test_the_core_does_no_io() -> None:
    wrong = []
    for module, path in MODULES.items():
        if _layer(module) != "core":
            continue
        for line, name in _imports(path):
            top = name.split(".")[0]
            if name in IO_MODULES or top in IO_MODULES:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {name}")
    assert wrong == []


def test_no_cycles() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    # A package's __init__ importing its own modules is not a cycle of the design.
    cycles = [c for c in cycles if not any(c[i] == c[i + 1].rpartition(".")[0]
                                           for i in range(len(c) - 1))]
    assert cycles == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_600_lines(module: str) -> None:
    lines = MODULES[module].read_text("utf-8").count("\n")
    assert lines <= 600, f"{module} has {lines} lines"
