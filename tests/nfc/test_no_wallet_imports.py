"""`terminal.nfc` sits below the wallet: no module of it imports `terminal.wallet` (issue 12)."""

from __future__ import annotations

import ast
from pathlib import Path

NFC = Path(__file__).resolve().parents[2] / "terminal" / "nfc"


def test_nfc_never_imports_the_wallet() -> None:
    offenders = []
    for path in sorted(NFC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(NFC)}: {n}" for n in names if n.startswith("terminal.wallet")]
    assert len(list(NFC.rglob("*.py"))) > 10
    assert offenders == []
