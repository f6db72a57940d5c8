"""The built wheel carries compiled catalogues: installed alone into a fresh folder, it translates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from provisioning.bundle import REPO, build_wheel

SAMPLES = {"tr": "SALE", "bg": "Printer out of paper", "zh_CN": "Customer copy"}


def expected(catalogue: str, msgid: str) -> str:
    with (REPO / "terminal/locale" / catalogue / "LC_MESSAGES/stallpay.po").open("rb") as f:
        text = read_po(f).get(msgid).string
    assert text and text != msgid
    return text


def test_installed_wheel_translates(tmp_path: Path) -> None:
    assert_wheel_translates(build_wheel(tmp_path / "dist"), tmp_path)


def assert_wheel_translates(wheel: Path, tmp_path: Path) -> None:
    """Install the wheel alone into a fresh folder and read one string per language from it."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    assert sorted(p.parent.parent.name for p in target.glob("terminal/locale/*/LC_MESSAGES/stallpay.mo")) == [
        "bg", "en", "tr", "zh_CN"]
    assert not list(target.glob("terminal/locale/*/LC_MESSAGES/*.po"))
    probe = ("import json, sys, terminal\n"
             "from terminal.printer.language import ReceiptLanguage\n"
             "words = json.loads(sys.argv[1])\n"
             "print(json.dumps({'file': terminal.__file__,"
             " 'words': {lang: ReceiptLanguage(lang)(msg) for lang, msg in words.items()}}))\n")
    done = subprocess.run([sys.executable, "-c", probe, json.dumps(SAMPLES)], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(target)}, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["file"].startswith(str(target))  # the wheel's copy, not the source tree
    assert out["words"] == {lang: expected(lang, msg) for lang, msg in SAMPLES.items()}
