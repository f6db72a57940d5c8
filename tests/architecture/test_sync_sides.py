"""The sync split holds: the shared format imports neither side, the collector imports only the format.

Read from the source's AST (every `import`, `from ... import`, relative import and
`importlib.import_module("...")` with a literal name, at any depth: lazy imports
inside functions count too), so a violation fails here before anything runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, the source of `module`."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name
            for alias in node.names:  # `from sync import collector` imports sync.collector
                yield node.lineno, f"{name}.{alias.name}"
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.lineno, node.args[0].value


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    files = sorted((ROOT / package.replace(".", "/")).rglob("*.py"))
    assert files, f"no source found for {package}"
    for path in files:
        module = module_name(path)
        seen: set[int] = set()  # one report per import statement
        for line, name in imported(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            if line not in seen and any(within(name, bad) for bad in forbidden):
                seen.add(line)
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return found


def test_the_format_imports_neither_side() -> None:
    assert violations("sync.format", ("terminal", "sync.collector", "sync.sim")) == []


def test_the_collector_never_imports_the_terminal() -> None:
    assert violations("sync.collector", ("terminal", "sync.sim")) == []


@pytest.mark.parametrize(("source", "module", "expected"), [
    ("import terminal.config\n", "sync.format.x", "terminal.config"),
    ("def f():\n    from terminal.wallet import journal\n", "sync.collector.x", "terminal.wallet"),
    ("from ..collector import ledger\n", "sync.format.x", "sync.collector"),
    ("from .. import collector\n", "sync.format.x", "sync.collector"),
    ("import importlib\nimportlib.import_module('terminal.camera')\n", "sync.collector.x", "terminal.camera"),
])
def test_the_checker_sees_every_form_of_import(source: str, module: str, expected: str) -> None:
    names = [name for _line, name in imported(source, module)]
    assert any(within(name, expected) for name in names), names


def test_a_planted_upward_import_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "sync" / "format"
    bad.mkdir(parents=True)
    (bad / "leak.py").write_text("from terminal.config import load_keys\n", encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert violations("sync.format", ("terminal",)) == ["sync/format/leak.py:1 imports terminal.config"]
