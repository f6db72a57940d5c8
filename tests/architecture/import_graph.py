"""The product's import graph, read from the source with `ast` (nothing is imported, so no heavy stack loads).

Two views: `module_level` holds what a module imports when it is loaded (the
graph a cycle lives in); `anywhere` adds imports inside functions (a lazy
import still ties the layers together). Imports under `if TYPE_CHECKING:` are
left out of both: they never run.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("terminal", "sync", "provisioning")


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    module_level: set[str] = field(default_factory=set)
    anywhere: set[str] = field(default_factory=set)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _target(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.name.split(".")
    if module.path.name != "__init__.py":
        parts = parts[:-1]
    parts = parts[: len(parts) - node.level + 1]
    return ".".join(parts + ([node.module] if node.module else []))


def _names(module: Module, node: ast.AST, known: set[str]) -> set[str]:
    out: set[str] = set()
    if isinstance(node, ast.Import):
        out.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = _target(module, node)
        for alias in node.names:  # `from pkg import submodule` imports the submodule, as grimp counts it
            out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {n for n in out if n.split(".")[0] in PRODUCT}


def _walk(module: Module, body: list[ast.stmt], known: set[str], *, top: bool) -> None:
    for node in body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            _walk(module, node.orelse, known, top=top)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = _names(module, node, known)
            module.anywhere |= names
            if top:
                module.module_level |= names
            continue
        nested_top = top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child_body in _bodies(node):
            _walk(module, child_body, known, top=nested_top)


def _bodies(node: ast.AST) -> list[list[ast.stmt]]:
    out = []
    for name in ("body", "orelse", "finalbody"):
        value = getattr(node, name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            out.append(value)
    for handler in getattr(node, "handlers", []):
        out.append(handler.body)
    for case in getattr(node, "cases", []):
        out.append(case.body)
    return out


def load(root: Path = ROOT) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for package in PRODUCT:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    known = set(modules)
    for module in modules.values():
        _walk(module, module.tree.body, known, top=True)
        module.module_level = {_owner(n, known) for n in module.module_level} - {None, module.name}
        module.anywhere = {_owner(n, known) for n in module.anywhere} - {None, module.name}
    return modules


def _owner(name: str, known: set[str]) -> str | None:
    """The product module an imported name lives in (`terminal.config.Config` -> `terminal.config`)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components of the module-level graph with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(modules[v].module_level):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for name in sorted(modules):
            if name not in index:
                visit(name)
    finally:
        sys.setrecursionlimit(limit)
    return found
