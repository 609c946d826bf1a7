"""The shape of the code, checked from its source: no import cycles, no private names across modules,
and the layers of DESIGN.md (portal -> ias -> records -> accounts; sandbox apart).

Every import counts, at module level or inside a function body, with one exception written down in
each app's tasks module: services import their tasks module to enqueue, and a tasks module reaches
its services from inside its task bodies. Those deferred imports of a `tasks` module are the only
edges left out of the cycle graph.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("portal", "ias", "records", "accounts", "sandbox")
FORBIDDEN = {
    "accounts": {"portal", "ias", "records", "sandbox"},
    "records": {"portal", "ias", "sandbox"},
    "ias": {"portal", "sandbox"},
    "sandbox": {"portal", "ias", "records", "accounts"},
}


@dataclass
class Module:
    name: str
    top_level: set[str] = field(default_factory=set)
    in_bodies: set[str] = field(default_factory=set)
    private_uses: list[str] = field(default_factory=list)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source_files() -> Iterator[Path]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


class _Reader(ast.NodeVisitor):
    """Collects one module's imports (top level vs. in function bodies) and its private reach-ins."""

    def __init__(self, module: Module, known: set[str]):
        self.module = module
        self.known = known
        self.depth = 0
        self.aliases: dict[str, str] = {}

    def _target(self, dotted: str) -> str | None:
        """The project module an import names (the longest known prefix), if any."""
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.known:
                return candidate
        return None

    def _add(self, target: str | None) -> None:
        if target is None or target == self.module.name:
            return
        (self.module.in_bodies if self.depth else self.module.top_level).add(target)

    def _resolve_relative(self, node: ast.ImportFrom) -> str:
        base = self.module.name.split(".")
        package = base if self.module_is_package else base[:-1]
        package = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        return ".".join([*package, node.module] if node.module else package)

    module_is_package = False

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            target = self._target(alias.name)
            self._add(target)
            if target is not None:
                self.aliases[alias.asname or alias.name.split(".")[0]] = (
                    target if alias.asname else alias.name.split(".")[0]
                )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = self._resolve_relative(node) if node.level else (node.module or "")
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            if submodule in self.known:
                self._add(submodule)
                self.aliases[alias.asname or alias.name] = submodule
                continue
            target = self._target(source)
            if target is None:
                continue
            self._add(target)
            if _private(alias.name):
                self.module.private_uses.append(f"from {source} import {alias.name}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _private(node.attr) and isinstance(node.value, ast.Name) and node.value.id in self.aliases:
            target = self.aliases[node.value.id]
            if target != self.module.name:
                self.module.private_uses.append(f"{target}.{node.attr}")
        self.generic_visit(node)


def _read_project() -> dict[str, Module]:
    paths = {_module_name(path): path for path in _source_files()}
    known = set(paths)
    modules = {}
    for name, path in paths.items():
        module = Module(name)
        reader = _Reader(module, known)
        reader.module_is_package = path.name == "__init__.py"
        reader.visit(ast.parse(path.read_text(), filename=str(path)))
        modules[name] = module
    return modules


PROJECT = _read_project()


def _cycle_edges(name: str, module: Module) -> set[str]:
    return module.top_level if name.rsplit(".", 1)[-1] == "tasks" else module.top_level | module.in_bodies


def _cycles(modules: dict[str, Module], app: str) -> list[list[str]]:
    """Strongly connected components of more than one module among `app`'s imports."""
    graph = {
        name: {t for t in _cycle_edges(name, module) if t.split(".")[0] == app}
        for name, module in modules.items()
        if name.split(".")[0] == app
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


@pytest.mark.parametrize(
    "app",
    [
        "portal",
        "ias",
        "records",
        "accounts",
        "sandbox",
    ],
)
def test_no_import_cycles(app):
    assert _cycles(PROJECT, app) == []


@pytest.mark.parametrize(
    "app",
    [
        "portal",
        "ias",
        "records",
        "accounts",
        "sandbox",
    ],
)
def test_no_private_names_across_modules(app):
    uses = {name: m.private_uses for name, m in PROJECT.items() if name.split(".")[0] == app and m.private_uses}
    assert uses == {}


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_layers_hold(app):
    crossings = {
        name: sorted(t for t in module.top_level | module.in_bodies if t.split(".")[0] in FORBIDDEN[app])
        for name, module in PROJECT.items()
        if name.split(".")[0] == app
    }
    assert {name: found for name, found in crossings.items() if found} == {}


def test_the_checker_sees_a_cycle_and_a_private_name():
    """The checks can fail: a made-up pair of modules that import each other and a private name."""
    known = {"demo.a", "demo.b"}
    a, b = Module("demo.a"), Module("demo.b")
    _Reader(a, known).visit(ast.parse("from demo import b\nx = b._hidden\n"))
    _Reader(b, known).visit(ast.parse("from demo.a import _secret\n"))
    assert a.top_level == {"demo.b"} and b.top_level == {"demo.a"}
    assert a.private_uses == ["demo.b._hidden"] and b.private_uses == ["from demo.a import _secret"]
    assert _cycles({"demo.a": a, "demo.b": b}, "demo") == [["demo.a", "demo.b"]]
    deferred = Module("demo.a", in_bodies={"demo.b"})
    assert _cycles({"demo.a": deferred, "demo.b": b}, "demo") == [["demo.a", "demo.b"]]
    assert (
        _cycles(
            {
                "demo.tasks": Module("demo.tasks", in_bodies={"demo.b"}),
                "demo.b": Module("demo.b", top_level={"demo.tasks"}),
            },
            "demo",
        )
        == []
    )
