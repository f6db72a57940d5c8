"""One exit-code table: the README, `stallpay --help` and every command agree on it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from terminal.commands import exitcodes
from terminal.commands.exitcodes import Exit

REPO = Path(__file__).resolve().parents[2]


def test_readme_prints_the_table() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- exit-codes:start -->\n(.*?)\n<!-- exit-codes:end -->", text, re.S)
    assert block and block.group(1) == exitcodes.markdown()


def test_help_prints_the_table() -> None:
    out = subprocess.run([sys.executable, "-m", "terminal.cli", "--help"], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout
    for code, meaning in exitcodes.MEANINGS.items():
        assert f"  {int(code)}  {meaning[:40]}" in out


def test_no_command_returns_a_code_outside_the_table() -> None:
    allowed = {int(code) for code in Exit}
    for path in sorted((REPO / "terminal" / "commands").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            value = node.value if isinstance(node, ast.Return) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, int) and not isinstance(value.value, bool):
                assert value.value in allowed, f"{path.name}:{node.lineno} returns {value.value}"
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_fail":
                codes = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
                assert all(c in allowed for c in codes if isinstance(c, int)), f"{path.name}:{node.lineno}"
