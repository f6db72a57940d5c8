"""Device provisioning into a staging root: the files, owners and modes a terminal needs; a re-run changes nothing."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from provisioning.device import DeviceOptions, provision_device
from provisioning.spec import DeviceSpec, parse_spec
from provisioning.target_root import ProvisionError, TargetRoot
from terminal.config import load_config
from tests.provisioning.conftest import SPEC

REPO = Path(__file__).resolve().parents[2]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with type, mode, owner and content (or link target)."""
    seen: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = "/" + str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            seen[rel] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            seen[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        else:
            seen[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                         hashlib.sha256(path.read_bytes()).hexdigest())
    return seen


def provision(root: Path, spec: DeviceSpec) -> list[str]:
    return provision_device(TargetRoot(root), spec, DeviceOptions(units=REPO / "systemd"))


def owner(root: Path, path: str) -> tuple[str, str, int]:
    st = (root / path.lstrip("/")).stat()
    users = {int(r.split(":")[2]): r.split(":")[0] for r in (root / "etc/passwd").read_text().splitlines()}
    groups = {int(r.split(":")[2]): r.split(":")[0] for r in (root / "etc/group").read_text().splitlines()}
    return users[st.st_uid], groups[st.st_gid], stat.S_IMODE(st.st_mode)


def test_provisioned_root_has_users_files_modes_units_and_rules(base_root: Path, spec: DeviceSpec) -> None:
    changed = provision(base_root, spec)
    assert changed
    passwd = (base_root / "etc/passwd").read_text()
    assert "stallpay:" in passwd and "stallpay-kiosk:" in passwd and "technician:" in passwd
    group = {r.split(":")[0]: r.split(":")[3].split(",") for r in (base_root / "etc/group").read_text().splitlines()}
    for g in ("plugdev", "lp", "dialout", "video", "gpio"):  # video: the camera (V4L2, libcamera, dma_heap)
        assert "stallpay" in group[g]
    assert "stallpay" not in group["sudo"] and "stallpay" not in group["input"]  # only the device groups
    assert "stallpay-kiosk" in group["video"] and "stallpay-kiosk" not in group["plugdev"]

    assert owner(base_root, "/etc/stallpay") == ("root", "stallpay", 0o750)
    assert owner(base_root, "/var/lib/stallpay") == ("stallpay", "stallpay", 0o750)
    assert owner(base_root, "/etc/stallpay/terminal.toml") == ("root", "stallpay", 0o640)
    assert owner(base_root, "/etc/stallpay/device.toml") == ("root", "root", 0o600)  # Wi-Fi passphrase
    nm = "/etc/NetworkManager/system-connections/stallpay-wifi.nmconnection"
    assert owner(base_root, nm)[2] == 0o600 and "ssid=festival-staff" in (base_root / nm.lstrip("/")).read_text()
    assert owner(base_root, "/home/technician/.ssh/authorized_keys")[:1] == ("technician",)
    assert owner(base_root, "/home/technician/.ssh/authorized_keys")[2] == 0o600

    config = load_config(base_root / "etc/stallpay/terminal.toml")  # the terminal's own loader accepts it
    assert config.terminal.id == 12 and config.terminal.vendor == "Falafel Stand"
    assert config.event.id == "summer-2026" and config.reader.backend == "pcsc"
    assert str(config.data_dir) == "/var/lib/stallpay" and str(config.keys_path) == "/etc/stallpay/keys.toml"
    assert config.printer.url == "usb://04b8:0e15"
    assert config.collector.url == "http://10.0.0.2:8750"  # serve uploads in the background

    units = base_root / "etc/systemd/system"
    for name in ("stallpay-terminal.service", "stallpay-kiosk.service", "stallpay-upload.timer"):
        assert (units / name).read_text() == (REPO / "systemd" / name).read_text()
        assert owner(base_root, f"/etc/systemd/system/{name}") == ("root", "root", 0o644)
    link = units / "multi-user.target.wants/stallpay-terminal.service"
    assert os.readlink(link) == "/etc/systemd/system/stallpay-terminal.service"
    assert (units / "timers.target.wants/stallpay-upload.timer").is_symlink()  # a collector URL is set
    assert os.readlink(units / "getty@tty1.service") == "/dev/null"
    assert (units / "sockets.target.wants/pcscd.socket").is_symlink()

    rules = (base_root / "etc/udev/rules.d/60-stallpay.rules").read_text()
    assert 'ATTR{idVendor}=="072f", ATTR{idProduct}=="2200"' in rules  # ACR122U
    assert 'ATTR{idVendor}=="072f", ATTR{idProduct}=="223b"' in rules  # ACR1252U
    assert 'ATTR{idVendor}=="04b8"' in rules and 'GROUP="lp"' in rules and 'GROUP="plugdev"' in rules
    assert "blacklist pn533_usb" in (base_root / "etc/modprobe.d/stallpay-nfc.conf").read_text()
    journald = (base_root / "etc/systemd/journald.conf.d/stallpay.conf").read_text()
    assert "SystemMaxUse=" in journald
    assert "NTP=10.0.0.2" in (base_root / "etc/systemd/timesyncd.conf.d/stallpay.conf").read_text()
    assert (base_root / "etc/collector.env").exists() is False
    assert "STALLPAY_COLLECTOR_URL=http://10.0.0.2:8750" in (base_root / "etc/stallpay/collector.env").read_text()


def test_second_run_changes_nothing(base_root: Path, spec: DeviceSpec) -> None:
    provision(base_root, spec)
    first = snapshot(base_root)
    assert provision(base_root, spec) == []
    assert snapshot(base_root) == first


def test_rerun_repairs_drift_and_follows_a_changed_spec(base_root: Path, spec: DeviceSpec) -> None:
    provision(base_root, spec)
    os.chmod(base_root / "etc/stallpay/terminal.toml", 0o666)
    (base_root / "etc/udev/rules.d/60-stallpay.rules").write_text("# edited by hand\n")
    without_collector = parse_spec({**SPEC, "collector": {}}, "test")
    changed = provision(base_root, without_collector)
    assert "file /etc/stallpay/terminal.toml" in changed and "file /etc/udev/rules.d/60-stallpay.rules" in changed
    assert owner(base_root, "/etc/stallpay/terminal.toml")[2] == 0o640
    assert not (base_root / "etc/stallpay/collector.env").exists()
    assert not (base_root / "etc/systemd/system/timers.target.wants/stallpay-upload.timer").exists()


def test_keys_present_are_made_the_service_users_alone(base_root: Path, spec: DeviceSpec) -> None:
    keys = base_root / "etc/stallpay/keys.toml"
    keys.parent.mkdir(parents=True)
    keys.write_text("[event]\nid = 'summer-2026'\n")
    os.chmod(keys, 0o644)
    provision(base_root, spec)
    assert owner(base_root, "/etc/stallpay/keys.toml") == ("stallpay", "stallpay", 0o600)


def test_read_only_root_needs_a_data_partition_and_writes_fstab(base_root: Path) -> None:
    bad = parse_spec({**SPEC, "system": {"read_only_root": True}}, "test")
    with pytest.raises(ProvisionError, match="data_device"):
        provision(base_root, bad)
    good = parse_spec({**SPEC, "system": {"read_only_root": True, "data_device": "/dev/mmcblk0p3"}}, "test")
    provision(base_root, good)
    fstab = (base_root / "etc/fstab").read_text()
    assert fstab.startswith("proc  /proc")  # what was there stays
    assert " /  ext4  ro," in fstab and "/dev/mmcblk0p3  /data" in fstab and "/var/lib/stallpay  none  bind" in fstab
    provision(base_root, good)
    assert (base_root / "etc/fstab").read_text() == fstab  # the block is replaced, not appended again


def test_not_a_system_root_is_a_clear_error(tmp_path: Path, spec: DeviceSpec) -> None:
    with pytest.raises(ProvisionError, match="does not look like a system root"):
        provision(tmp_path, spec)


def test_cli_device_in_staging_mode(base_root: Path, tmp_path: Path) -> None:
    device = tmp_path / "device.toml"
    device.write_text(parse_spec(SPEC, "t").to_toml())
    cmd = [sys.executable, "-m", "terminal.cli", "provision", "device", "--root", str(base_root), "--spec",
           str(device), "--units", str(REPO / "systemd")]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "0 changes" in again.stdout
    data = tomllib.loads((base_root / "etc/stallpay/terminal.toml").read_text())
    assert data["terminal"]["id"] == 12
    bad = tmp_path / "bad.toml"
    bad.write_text("[terminal]\nid = 0\n[event]\nid = 'x'\n")
    failed = subprocess.run([*cmd[:8], str(bad)], capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0 and "terminal.id" in failed.stderr
