"""Opt-in: provision a real Debian 12 root made with debootstrap (several minutes, needs the Debian mirror).

Run with `STALLPAY_DEBOOTSTRAP=1 .venv/bin/pytest tests/provisioning/test_debootstrap.py` (as root). It checks
provisioning against Debian's real account databases and unit directories, then that systemd accepts the
installed units inside that root. A full first boot (systemd as PID 1 in a container) is not covered yet.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from provisioning.device import DeviceOptions, provision_device
from provisioning.spec import DeviceSpec
from provisioning.target_root import TargetRoot
from tests.provisioning.conftest import require_tool

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.environ.get("STALLPAY_DEBOOTSTRAP") != "1",
                                reason="opt-in: set STALLPAY_DEBOOTSTRAP=1 (needs root and the Debian mirror)")


def test_provision_a_debootstrapped_bookworm(tmp_path: Path, spec: DeviceSpec) -> None:
    debootstrap = require_tool("debootstrap", "debootstrap")
    root = tmp_path / "bookworm"
    done = subprocess.run([debootstrap, "--variant=minbase", "--include=systemd,passwd", "bookworm", str(root),
                           "http://deb.debian.org/debian"], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    changed = provision_device(TargetRoot(root), spec, DeviceOptions(units=REPO / "systemd"))
    assert changed and provision_device(TargetRoot(root), spec, DeviceOptions(units=REPO / "systemd")) == []
    venv_bin = root / "opt/stallpay/venv/bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "stallpay").write_text("#!/bin/sh\n")
    (venv_bin / "stallpay").chmod(0o755)
    for stub in ("usr/bin/cage", "usr/bin/chromium"):
        (root / stub).write_text("#!/bin/sh\n")
        (root / stub).chmod(0o755)
    units = [str(root / "etc/systemd/system" / u) for u in ("stallpay-terminal.service", "stallpay-kiosk.service",
                                                          "stallpay-upload.service", "stallpay-upload.timer")]
    verify = subprocess.run([require_tool("systemd-analyze", "systemd"), "verify", "--man=no", f"--root={root}",
                             *units], capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    users = subprocess.run(["chroot", str(root), "id", "stallpay"], capture_output=True, text=True)
    assert "plugdev" in users.stdout and "lp" in users.stdout
