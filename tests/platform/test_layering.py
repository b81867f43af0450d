"""The platform's layering, read from the source: the trainable gets its tracker as a callback
(it imports nothing of vaesweep.platform), and the platform's modules import each other
without a cycle (counting imports inside functions and for type checking too)."""

from __future__ import annotations

import ast
from pathlib import Path

import vaesweep

PACKAGE = Path(vaesweep.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import statement stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_the_trainables_import_nothing_of_the_platform():
    for path in (PACKAGE / "trainables").glob("*.py"):
        platform = {name for name in _imports(path) if name.startswith("vaesweep.platform")}
        assert not platform, f"{path.name} imports {platform}"


def test_the_platform_modules_import_each_other_without_a_cycle():
    modules = {p.stem: p for p in (PACKAGE / "platform").glob("*.py") if p.stem != "__init__"}
    graph = {
        name: {m.split(".")[2] for m in _imports(path) if m.startswith("vaesweep.platform.")} & set(modules)
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for imported in graph[name]:
            visit(imported, (*path, name))
        done.add(name)

    for name in graph:
        visit(name, ())
    assert graph["progress"] and "progress" in graph["sweep"]  # the check sees real edges
