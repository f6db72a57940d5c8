"""The till and its screens stay small: no function over cyclomatic complexity 15, no class over 20 public
methods, no module over 400 lines in terminal/app and terminal/ui; the UI never writes the journal."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (ROOT / "terminal" / "app", ROOT / "terminal" / "ui")
MODULES = sorted(p for package in PACKAGES for p in package.rglob("*.py"))


def test_no_function_above_complexity_15() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run([str(ruff), "check", "--no-cache", "--select", "C901", "--config",
                           "lint.mccabe.max-complexity=15", *map(str, PACKAGES)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout


def test_modules_and_classes_stay_small() -> None:
    too_long = {p.relative_to(ROOT).as_posix(): n for p in MODULES if (n := len(p.read_text().splitlines())) > 400}
    assert not too_long
    big = {}
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                public = {f.name for f in node.body
                          if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) and not f.name.startswith("_")}
                if len(public) > 20:
                    big[f"{path.name}:{node.name}"] = len(public)
    assert not big


def test_the_ui_never_writes_the_journal() -> None:
    ui = [p for p in MODULES if p.is_relative_to(ROOT / "terminal" / "ui")]
    writers = [p.name for p in ui if "journal.append" in p.read_text() or "record_decline" in p.read_text()]
    assert writers == []
