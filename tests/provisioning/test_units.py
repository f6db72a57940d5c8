"""The unit files: systemd accepts them, and they keep the promises the issue makes (watchdog, sandbox...)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.provisioning.conftest import require_tool

UNITS = Path(__file__).resolve().parents[2] / "systemd"
STUB_COMMANDS = ("opt/stallpay/venv/bin/stallpay", "usr/bin/cage", "usr/bin/chromium", "bin/sh")


def unit_files() -> list[Path]:
    return sorted(p for p in UNITS.iterdir() if p.suffix in (".service", ".timer"))


def verify(units: list[Path], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` in a root that has systemd's own units and stand-ins for the commands the units
    run (the venv and cage exist only on a provisioned Pi), so only real problems in our units are reported."""
    analyze = require_tool("systemd-analyze", "systemd")
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    for command in STUB_COMMANDS:
        stub = root / command
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        os.chmod(stub, 0o755)
    target = root / "etc/systemd/system"
    target.mkdir(parents=True)
    for unit in units:
        shutil.copy(unit, target / unit.name)
    return subprocess.run([analyze, "verify", "--man=no", f"--root={root}", *(str(target / u.name) for u in units)],
                          capture_output=True, text=True, timeout=60)


def parse(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    text = path.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def test_every_unit_verifies_clean(tmp_path: Path) -> None:
    units = unit_files()
    assert {u.name for u in units} >= {"stallpay-terminal.service", "stallpay-kiosk.service",
                                       "stallpay-upload.service", "stallpay-upload.timer",
                                       "stallpay-collector.service", "stallpay-firstboot.service"}
    done = verify(units, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # warnings (unknown keys, bad values) count as failures


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    broken = tmp_path / "stallpay-broken.service"
    broken.write_text("[Service]\nType=bogus\nProtectSystm=strict\nExecStart=/opt/stallpay/venv/bin/stallpay\n")
    done = verify([broken], tmp_path)
    assert "bogus" in done.stderr and "ProtectSystm" in done.stderr


def test_terminal_unit_is_notify_watchdog_and_sandboxed() -> None:
    s = parse(UNITS / "stallpay-terminal.service")["Service"]
    u = parse(UNITS / "stallpay-terminal.service")["Unit"]
    assert s["Type"] == ["notify"] and int(s["WatchdogSec"][0]) > 0
    assert s["Restart"] == ["on-failure"]
    assert any("pcscd" in a for a in u["After"])
    assert s["ProtectSystem"] == ["strict"] and s["NoNewPrivileges"] == ["yes"] and s["PrivateTmp"] == ["yes"]
    assert s["ReadWritePaths"] == ["/var/lib/stallpay"] and s["StateDirectory"] == ["stallpay"]
    assert s["User"] == ["stallpay"] and s["StandardOutput"] == ["journal"]


def test_kiosk_runs_chromium_under_cage_and_always_restarts() -> None:
    s = parse(UNITS / "stallpay-kiosk.service")["Service"]
    command = s["ExecStart"][0]
    assert command.startswith("/usr/bin/cage ") and "chromium" in command and "--kiosk" in command
    assert "${STALLPAY_UI_URL}" in command and s["Restart"] == ["always"]
    assert s["User"] != ["stallpay"]  # the browser never runs as the user that can read the keys


def test_upload_timer_starts_the_upload_service() -> None:
    timer = parse(UNITS / "stallpay-upload.timer")
    assert "Timer" in timer and timer["Install"]["WantedBy"] == ["timers.target"]
    service = parse(UNITS / "stallpay-upload.service")["Service"]
    assert service["Type"] == ["oneshot"] and "sync" in service["ExecStart"][0]


@pytest.mark.parametrize("unit", ["stallpay-collector.service", "stallpay-upload.service"])
def test_server_side_units_are_sandboxed(unit: str) -> None:
    s = parse(UNITS / unit)["Service"]
    assert s["ProtectSystem"] == ["strict"] and s["NoNewPrivileges"] == ["yes"] and s["PrivateTmp"] == ["yes"]


EXPOSURE_LIMITS = {"stallpay-terminal.service": 2.5, "stallpay-upload.service": 2.5, "stallpay-kiosk.service": 6.0,
                   "stallpay-collector.service": 2.5}


def exposure(unit: Path, tmp_path: Path) -> float:
    """`systemd-analyze security --offline=yes` (systemd 252+): the unit file is scored without loading it."""
    analyze = require_tool("systemd-analyze", "systemd")
    done = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(unit)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    assert match, done.stdout + done.stderr
    return float(match.group(1))


@pytest.mark.parametrize("unit", sorted(EXPOSURE_LIMITS))
def test_exposure_scores(unit: str, tmp_path: Path) -> None:
    assert exposure(UNITS / unit, tmp_path) <= EXPOSURE_LIMITS[unit]


def test_exposure_score_notices_a_weak_unit(tmp_path: Path) -> None:
    weak = tmp_path / "stallpay-weak.service"
    weak.write_text("[Service]\nExecStart=/opt/stallpay/venv/bin/stallpay serve\n")
    assert exposure(weak, tmp_path) > 9


def test_terminal_unit_allows_only_its_devices() -> None:
    s = parse(UNITS / "stallpay-terminal.service")["Service"]
    assert s["DevicePolicy"] == ["closed"]
    allowed = {entry.split()[0] for entry in s["DeviceAllow"]}
    assert allowed >= {"char-usb_device", "char-usb", "char-ttyUSB", "char-video4linux", "char-media",
                       "char-dma_heap", "char-gpiochip"}
    assert "video" in s["SupplementaryGroups"][0].split() and "gpio" in s["SupplementaryGroups"][0].split()


def test_terminal_unit_caps_malloc_arenas() -> None:
    """Two glibc arenas: with one per allocating thread, the terminal's RSS stepped up ~10 MB at a time in a 2 h
    soak; with two it stayed within 1.1 MB of its post-warm-up baseline for an hour (bench/reliability/soak.py)."""
    environment = parse(UNITS / "stallpay-terminal.service")["Service"]["Environment"]
    assert "MALLOC_ARENA_MAX=2" in environment
