"""Fixtures for provisioning tests: a bare Debian-like root to provision into, and a device file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from provisioning.spec import DeviceSpec, parse_spec

BASE_PASSWD = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
BASE_GROUP = ("root:x:0:\nlp:x:7:\ndialout:x:20:\nsudo:x:27:\nvideo:x:44:\nplugdev:x:46:\ninput:x:101:\n"
              "render:x:102:\nnogroup:x:65534:\n")


def require_tool(name: str, package: str) -> str:
    """The path of a Debian tool the test needs; installed with apt-get when missing (as setup.sh would)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, capture_output=True, check=False)
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        pytest.fail(f"{name} is missing: install the Debian package {package} (scripts/setup.sh)")
    return found


def make_base_root(path: Path) -> Path:
    """The few files of a fresh Debian root that provisioning reads (account databases)."""
    etc = path / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text(BASE_PASSWD)
    (etc / "group").write_text(BASE_GROUP)
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("".join(f"{line.split(':')[0]}:*::\n" for line in BASE_GROUP.splitlines()))
    os.chmod(etc / "shadow", 0o640)
    os.chmod(etc / "gshadow", 0o640)
    (etc / "fstab").write_text("proc  /proc  proc  defaults  0  0\n")
    return path


@pytest.fixture
def base_root(tmp_path: Path) -> Path:
    require_tool("useradd", "passwd")
    return make_base_root(tmp_path / "root")


SPEC = {
    "terminal": {"id": 12, "vendor": "Falafel Stand", "mode": "sale"},
    "event": {"id": "summer-2026", "currency": "EUR", "locale": "en"},
    "collector": {"url": "http://10.0.0.2:8750"},
    "wifi": {"ssid": "festival-staff", "psk": "correct horse battery", "country": "DE"},
    "hardware": {"printer_url": "usb://04b8:0e15"},
    "system": {"ssh_authorized_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests tech@workshop"},
}


@pytest.fixture
def spec() -> DeviceSpec:
    return parse_spec(SPEC, "test")
