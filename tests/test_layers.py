"""The code's shape: layers import downwards only (ARCHITECTURE.md, principle 7)."""

from __future__ import annotations

import ast
from pathlib import Path

import emulator

PACKAGE = Path(emulator.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every emulator module and the emulator modules it imports, at run time or
    for type checking alike."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py") if "_data" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = imports()
    cycles = []

    def visit(name: str, path: list[str], seen: set[str]) -> None:
        for target in graph[name]:
            if target == path[0]:
                cycles.append(" -> ".join([*path, target]))
            elif target not in seen and target > path[0]:
                seen.add(target)
                visit(target, [*path, target], seen)

    for start in sorted(graph):
        visit(start, [start], {start})
    assert cycles == []


def test_the_schema_package_does_not_import_the_protocol():
    graph = imports()
    offending = {name: sorted(t for t in targets if t.startswith("emulator.netconf"))
                 for name, targets in graph.items() if name.startswith("emulator.schema")}
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_protocol_core_knows_no_device_transport_or_server():
    graph = imports()
    above = ("emulator.device", "emulator.sessions", "emulator.transports", "emulator.server",
             "emulator.api", "emulator.fleet", "emulator.runtime")
    for name, targets in graph.items():
        if name.startswith("emulator.netconf"):
            assert not [t for t in targets if t.startswith(above)], name
