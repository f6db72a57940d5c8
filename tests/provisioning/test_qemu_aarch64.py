"""Opt-in: the offline bundle installed into an arm64 Debian 12 root and run there under user-mode QEMU.

Run with `STALLPAY_QEMU=1 .venv/bin/pytest -s tests/provisioning/test_qemu_aarch64.py` (needs Debian's archive and
the package index once; qemu-user-static is installed when missing). No Pi, no binfmt registration, no root
privileges inside: the root is a minimal unpack (`dpkg-deb -x`) of Python 3.11 and its dependencies from Debian's
arm64 archive, the bundle's own .deb files are unpacked into it the same way, and every aarch64 program runs as
`qemu-aarch64-static -L ROOT ROOT/usr/bin/python3.11 ...`. There, pip (from the bundle's own pip wheel, so it
judges wheel tags as an aarch64 / glibc 2.36 system does) installs the bundle offline with --require-hashes into
a virtualenv, and the venv imports terminal, cv2, mediapipe and smartcard and renders a Turkish receipt.
It prints the bundle's size and the install time under QEMU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from provisioning.bundle import build_bundle, default_cache
from provisioning.debs import DebianArchive
from provisioning.venv_install import install_commands
from tests.provisioning.conftest import require_tool
from tests.provisioning.test_wheel import expected

pytestmark = pytest.mark.skipif(os.environ.get("STALLPAY_QEMU") != "1",
                                reason="opt-in: set STALLPAY_QEMU=1 (downloads an arm64 Python from Debian)")
BASE = ("python3.11", "python3-venv", "fonts-dejavu-core", "libstdc++6", "zlib1g", "libgomp1")
PROBE = """
import sys, platform, cv2, mediapipe, smartcard, terminal
from smartcard.System import readers
from terminal.cli import main
from terminal.printer.language import ReceiptLanguage
print("title", ReceiptLanguage("tr")("SALE"))
print("machine", platform.machine(), "python", sys.version.split()[0], "cv2", cv2.__version__,
      "mediapipe", mediapipe.__version__, "smartcard", smartcard.__file__)
sys.exit(main(["receipt", "sample", "sale", "--lang", "tr", "--printer", "png:" + sys.argv[1]]))
"""


def test_bundle_installs_and_runs_on_arm64_bookworm_under_qemu(tmp_path: Path) -> None:
    qemu = require_tool("qemu-aarch64-static", "qemu-user-static")
    cache = default_cache()
    bundle = tmp_path / "bundle"
    manifest = build_bundle(bundle, progress=lambda line: print(line))
    size = sum(f["size"] for f in manifest["files"])

    root = tmp_path / "root"
    debs = tmp_path / "base-debs"
    archive = DebianArchive(cache)
    archive.download(archive.closure(BASE), debs)
    for deb in [*sorted(debs.glob("*.deb")), *sorted((bundle / "debs").glob("*.deb"))]:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)

    def aarch64(*argv: str, timeout: int = 1800) -> subprocess.CompletedProcess:
        return subprocess.run([qemu, "-L", str(root), *argv], capture_output=True, text=True, timeout=timeout,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"})

    python = root / "usr/bin/python3.11"
    venv = root / "opt/stallpay/venv"
    start = time.monotonic()
    made = aarch64(str(python), "-m", "venv", "--without-pip", "--copies", "--system-site-packages", str(venv))
    assert made.returncode == 0, made.stderr
    pip_wheel = next((bundle / "wheels").glob("pip-*.whl"))
    for argv in install_commands(venv / "bin/python", bundle):
        argv = [argv[0], f"{pip_wheel}/pip", *argv[3:]]  # pip runs from its wheel: the venv has none yet
        done = aarch64(*argv)
        assert done.returncode == 0, done.stderr[-4000:]
    installed = time.monotonic() - start
    png = tmp_path / "receipt-tr.png"
    ran = aarch64(str(venv / "bin/python"), "-c", PROBE, str(png), timeout=900)
    assert ran.returncode == 0, ran.stderr[-4000:]
    assert "machine aarch64" in ran.stdout and png.stat().st_size > 1000
    assert f"title {expected('tr', 'SALE')}\n" in ran.stdout  # the wheel's compiled catalogue, on aarch64
    if os.environ.get("STALLPAY_QEMU_PNG"):  # somewhere to look at the receipt afterwards
        shutil.copy(png, os.environ["STALLPAY_QEMU_PNG"])
    print(f"\nbundle: {len(manifest['files'])} files, {size / 1e6:.0f} MB; install under qemu: {installed:.0f} s")
    print(ran.stdout.strip())
