"""The layering of DESIGN.md, checked over the source's import graph (ast; nothing is imported).

`ui` -> `app` -> `wallet`, `camera`, `printer` -> `nfc` -> config/stores. Each
rule names the packages it holds for. Where today's code still breaks a rule
because another part of issue 12 owns the fix, the exception is listed in
ALLOWED with that owner: the list only shrinks, and an entry that no longer
matches anything fails the test, so whoever fixes the code also empties it.
"""

from __future__ import annotations

import ast

import pytest

from tests.architecture.import_graph import ROOT, Module, cycles, in_package, load

MAX_LINES = 500
MAX_PUBLIC_METHODS = 20

# The bottom of the terminal: configuration, stores and what they need (money, words). They import only each other.
BOTTOM = ("terminal.config", "terminal.settings_store", "terminal.schema", "terminal.store", "terminal.tomlfile",
          "terminal.money", "terminal.i18n", "terminal.refusal", "terminal.catalogue", "terminal.catalogue_store",
          "terminal.operators", "terminal.key_file_seal", "terminal.device_secret")
# Outside `terminal`, the bottom may use the file-mode helper and the shared wire format, nothing else.
BOTTOM_MAY_USE = ("sync.format",)

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "terminal.wallet": ("terminal.camera", "terminal.ui", "terminal.app", "terminal.printer"),
    "terminal.nfc": ("terminal.wallet", "terminal.camera", "terminal.printer", "terminal.app", "terminal.ui"),
    "terminal.printer": ("terminal.ui", "terminal.app", "terminal.wallet", "terminal.camera"),
    "terminal.camera": ("terminal.ui", "terminal.app", "terminal.printer", "terminal.wallet"),
    "sync.format": ("terminal", "sync.collector"),
    "sync.collector": ("terminal",),
}

# Known exceptions, each owned by another part of issue 12; the coordinator empties this list after merging.
ALLOWED: dict[str, set[tuple[str, str]]] = {
    # issue 12, card interface (wallet <-> nfc): CardError and the purse-state interface move out of wallet
    "imports": {
    },
    "size": {
    },
    "refusals": {
    },
    "classes": {
    },
}


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return load()


def _bottom(name: str) -> bool:
    return any(in_package(name, b) for b in BOTTOM)


def _check_allowed(kind: str, found: set[tuple[str, str]]) -> list[str]:
    """Violations not on the list, and list entries that no longer happen (stale: remove them)."""
    allowed = ALLOWED[kind]
    keys = {a[0] for a in allowed} if kind != "imports" else allowed
    problems = [f"{a} -> {b}" if kind == "imports" else f"{a}: {b}" for a, b in sorted(found)
                if ((a, b) if kind == "imports" else a) not in keys]
    seen = found if kind == "imports" else {a for a, _ in found}
    for entry in sorted(allowed):
        if (entry if kind == "imports" else entry[0]) not in seen:
            problems.append(f"stale allow-list entry {entry}: the code is fixed, remove it from ALLOWED[{kind!r}]")
    return problems


def test_packages_import_only_downwards(modules: dict[str, Module]) -> None:
    """Every import, module level or inside a function (a lazy import still ties the layers)."""
    found = set()
    for name, module in modules.items():
        for package, banned in FORBIDDEN.items():
            if in_package(name, package):
                found |= {(name, t) for t in module.anywhere if any(in_package(t, b) for b in banned)}
        if _bottom(name):
            found |= {(name, t) for t in module.anywhere
                      if (in_package(t, "terminal") and not _bottom(t))
                      or (not in_package(t, "terminal") and not any(in_package(t, ok) for ok in BOTTOM_MAY_USE))}
    assert not _check_allowed("imports", found), "\n".join(_check_allowed("imports", found))


@pytest.mark.parametrize("package", ["sync.format", "sync.collector"])
def test_sync_shared_parts_never_import_the_terminal(modules: dict[str, Module], package: str) -> None:
    members = [n for n in modules if in_package(n, package)]
    if not members:
        pytest.skip(f"{package} does not exist yet (issue 12, sync split)")
    bad = sorted((n, t) for n in members for t in modules[n].anywhere if any(
        in_package(t, b) for b in FORBIDDEN[package]))
    assert not bad


def test_terminal_never_imports_the_collector(modules: dict[str, Module]) -> None:
    """The terminal speaks to the collector only through `sync.format` (`stallpay collector` loads the collector's
    CLI by name, which is no import of the terminal's own code)."""
    bad = sorted((n, t) for n, module in modules.items() if in_package(n, "terminal")
                 for t in module.anywhere if in_package(t, "sync.collector"))
    assert not bad


def test_no_import_cycles(modules: dict[str, Module]) -> None:
    """Module-level imports only: what runs when a module is loaded."""
    assert cycles(modules) == []


def test_graph_sees_imports_at_every_depth(modules: dict[str, Module]) -> None:
    """The reader itself: a module-level import, a lazy one, and a `from package import submodule`."""
    assert "terminal.config" in modules["terminal.gpio"].module_level
    assert "sync.format.private_files" in modules["terminal.config.model"].anywhere
    assert "sync.format.private_files" not in modules["terminal.config.model"].module_level
    assert "terminal.config.model" in modules["terminal.config"].module_level


def test_cycle_finder_finds_a_cycle() -> None:
    a = Module("a", ROOT / "a.py", ast.Module(body=[], type_ignores=[]), module_level={"b"})
    b = Module("b", ROOT / "b.py", ast.Module(body=[], type_ignores=[]), module_level={"c"})
    c = Module("c", ROOT / "c.py", ast.Module(body=[], type_ignores=[]), module_level={"a"})
    assert cycles({"a": a, "b": b, "c": c}) == [["a", "b", "c"]]


def test_no_product_module_over_500_lines(modules: dict[str, Module]) -> None:
    found = set()
    for module in modules.values():
        lines = len(module.path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found.add((str(module.path.relative_to(ROOT)), f"{lines} lines"))
    assert not _check_allowed("size", found), "\n".join(_check_allowed("size", found))


def test_no_class_over_20_public_methods(modules: dict[str, Module]) -> None:
    """Public methods: functions of the class body not starting with '_' (properties are attributes, not counted)."""
    found = set()
    for name, module in modules.items():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ClassDef):
                public = [f for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                          and not f.name.startswith("_") and not _is_property(f)]
                if len(public) > MAX_PUBLIC_METHODS:
                    found.add((f"{name}.{node.name}", f"{len(public)} public methods"))
    assert not _check_allowed("classes", found), "\n".join(_check_allowed("classes", found))


def test_code_and_message_errors_derive_from_refusal(modules: dict[str, Module]) -> None:
    """An exception that sets both `self.code` and `self.message` is a refusal: it says so by its base."""
    found = set()
    for name, module in modules.items():
        if not in_package(name, "terminal"):
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ClassDef) and _sets_code_and_message(node):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if "Refusal" not in bases:
                    found.add((f"{name}.{node.name}", "sets code and message without deriving from Refusal"))
    assert not _check_allowed("refusals", found), "\n".join(_check_allowed("refusals", found))


def _sets_code_and_message(node: ast.ClassDef) -> bool:
    assigned = {t.attr for n in ast.walk(node) if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}
    return {"code", "message"} <= assigned and node.name != "Refusal"


def _is_property(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any((isinstance(d, ast.Name) and d.id in ("property", "cached_property"))
               or (isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter")) for d in node.decorator_list)
