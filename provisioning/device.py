"""Turn a Raspberry Pi OS (or any Debian 12) system into a StallPay terminal; safe to run again.

Each step states what the system should look like and only changes what
differs, so a re-run after a failure (or on an already provisioned terminal)
finishes the job without breaking what was done. With `--root DIR` nothing
outside DIR is touched: packages, the virtualenv and service starts are
skipped (listed as such), everything else is written into DIR.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from provisioning.spec import DeviceSpec
from provisioning.target_root import ProvisionError, TargetRoot
from provisioning.udev import MODPROBE_PATH, RULES_PATH, modprobe_blacklist, udev_rules
from terminal.config import Config

SERVICE_USER = "stallpay"
KIOSK_USER = "stallpay-kiosk"
TECH_USER = "technician"
SERVICE_GROUPS = ("plugdev", "lp", "dialout", "video", "gpio")  # reader, printer (USB / serial), camera, LEDs
KIOSK_GROUPS = ("video", "render", "input")

ETC = "/etc/stallpay"
STATE = "/var/lib/stallpay"
VENV = "/opt/stallpay/venv"
CONFIG_PATH = f"{ETC}/terminal.toml"
KEYS_PATH = f"{ETC}/keys.toml"
UNIT_DIR = "/etc/systemd/system"

# Debian / Raspberry Pi OS packages; the optional ones are installed when the archive has them
# (python3-picamera2 and python3-lgpio are only in the Raspberry Pi archive; the bundle carries lgpio as a wheel
# too, for the Pi 5; chromium is called chromium-browser on older images).
PACKAGES = ("pcscd", "libccid", "python3-venv", "cage", "chromium", "systemd-timesyncd", "fonts-wqy-zenhei",
            "libcap2-bin")
OPTIONAL_PACKAGES = ("python3-picamera2", "python3-libcamera", "rpicam-apps-lite", "python3-lgpio")

REPO_UNITS = Path(__file__).resolve().parent.parent / "systemd"


@dataclass
class DeviceOptions:
    bundle: Path | None = None  # offline bundle: wheels/, debs/, systemd/
    units: Path | None = None  # unit files (default: the bundle's, else the source tree's)
    packages: bool = True  # install system packages (live system only)
    start: bool = True  # enable --now and restart services (live system only)


def units_dir(options: DeviceOptions) -> Path:
    for candidate in (options.units, options.bundle / "systemd" if options.bundle else None, REPO_UNITS):
        if candidate is not None and candidate.is_dir() and any(candidate.glob("*.service")):
            return candidate
    raise ProvisionError("no systemd unit files found: give --units DIR or a bundle with a systemd/ folder")


# --- steps -----------------------------------------------------------------------------------------------


def step_packages(root: TargetRoot, spec: DeviceSpec, options: DeviceOptions) -> None:
    if not root.live or not options.packages:
        root.log.append("packages: skipped (staging root or --no-packages)")
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    debs = sorted((options.bundle / "debs").glob("*.deb")) if options.bundle else []
    if debs:  # the offline bundle carries the reader stack (pyscard, pcscd): no network needed for payments
        _apt(["apt-get", "install", "-y", "--no-install-recommends", *map(str, debs)], env)
    wanted = [p for p in PACKAGES if not _installed(p)]
    wanted += [p for p in OPTIONAL_PACKAGES if not _installed(p) and _available(p)]
    if wanted and debs:  # offline first boot: the kiosk's packages follow when the archive can be reached
        try:
            _apt(["apt-get", "update", "-qq"], env)
            _apt(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *wanted], env)
            root.changed.append(f"packages {' '.join(wanted)}")
        except ProvisionError as exc:
            root.log.append(f"packages: {' '.join(wanted)} not installed ({exc}); run provisioning again online")
    elif wanted:
        _apt(["apt-get", "update", "-qq"], env)
        _apt(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *wanted], env)
        root.changed.append(f"packages {' '.join(wanted)}")


def _installed(package: str) -> bool:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return "install ok installed" in done.stdout


def _available(package: str) -> bool:
    done = subprocess.run(["apt-cache", "show", package], capture_output=True, text=True)
    return done.returncode == 0 and bool(done.stdout.strip())


def _apt(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ProvisionError(f"{' '.join(argv[:3])} failed: {' / '.join(tail)} (no network? put .debs in the "
                             f"bundle's debs/ folder)")


def step_accounts(root: TargetRoot, spec: DeviceSpec, options: DeviceOptions) -> None:
    for group in (*SERVICE_GROUPS, *KIOSK_GROUPS, SERVICE_USER, KIOSK_USER):
        if root.gid(group) is None:
            root.run(["groupadd", "--system", group])
            root.changed.append(f"group {group}")
    users = ((SERVICE_USER, STATE, SERVICE_GROUPS), (KIOSK_USER, "/var/lib/stallpay-kiosk", KIOSK_GROUPS))
    for user, home, groups in users:
        if root.uid(user) is None:
            root.run(["useradd", "--system", "--gid", user, "--home-dir", home, "--no-create-home",
                      "--shell", "/usr/sbin/nologin", "--comment", "StallPay", user])
            root.changed.append(f"user {user}")
        for group in groups:
            if user not in root.members(group):
                root.run(["usermod", "--append", "--groups", group, user])
                root.changed.append(f"{user} in {group}")
    if spec.system.ssh_authorized_key:
        if root.gid("sudo") is None:
            root.run(["groupadd", "--system", "sudo"])
        if root.uid(TECH_USER) is None:
            root.run(["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", "--groups", "sudo",
                      "--comment", "StallPay technician (SSH key only)", TECH_USER])
            root.changed.append(f"user {TECH_USER}")
        group = next(row[3] for row in root._table("passwd") if row[0] == TECH_USER)
        group_name = next(row[0] for row in root._table("group") if row[2] == group)
        root.directory(f"/home/{TECH_USER}", mode=0o750, owner=TECH_USER, group=group_name)
        root.directory(f"/home/{TECH_USER}/.ssh", mode=0o700, owner=TECH_USER, group=group_name)
        root.file(f"/home/{TECH_USER}/.ssh/authorized_keys", spec.system.ssh_authorized_key + "\n", mode=0o600,
                  owner=TECH_USER, group=group_name)
        root.file("/etc/ssh/sshd_config.d/stallpay.conf",
                  "# StallPay: keys only, no root login.\nPasswordAuthentication no\nPermitRootLogin no\n"
                  "KbdInteractiveAuthentication no\n")
        root.file("/etc/sudoers.d/stallpay-technician", f"{TECH_USER} ALL=(ALL) NOPASSWD: ALL\n", mode=0o440)
        root.symlink("/etc/systemd/system/multi-user.target.wants/ssh.service", "/lib/systemd/system/ssh.service")


def terminal_config(spec: DeviceSpec) -> dict:
    """terminal.toml for this device, in the schema of terminal/config (whose sections the device file reuses)."""
    config: dict = {
        "event": spec.event.model_dump(),
        "terminal": {**spec.terminal.model_dump(), "name": spec.terminal.name or spec.hostname},
        "reader": {"backend": spec.hardware.reader, "name": spec.hardware.reader_name},
        "paths": {"data": STATE, "keys": KEYS_PATH},
        "printer": {"width": spec.hardware.printer_width},
    }
    if spec.hardware.printer_url:
        config["printer"]["url"] = spec.hardware.printer_url
    if spec.hardware.camera:
        config["camera"] = {"source": spec.hardware.camera}
    if spec.collector.url:  # `stallpay serve` uploads in the background
        config["collector"] = spec.collector.model_dump(exclude={"pairing_code"}, exclude_defaults=True)
    Config.model_validate(config)  # a check: the device file's sections are terminal.toml's, so it holds
    return config


def step_files(root: TargetRoot, spec: DeviceSpec, options: DeviceOptions) -> None:
    root.directory(ETC, mode=0o750, owner="root", group=SERVICE_USER)
    root.directory(STATE, mode=0o750, owner=SERVICE_USER, group=SERVICE_USER)
    root.directory("/var/lib/stallpay-kiosk", mode=0o750, owner=KIOSK_USER, group=KIOSK_USER)
    root.directory("/opt/stallpay", mode=0o755)
    root.file(CONFIG_PATH, tomli_w.dumps(terminal_config(spec)), mode=0o640, owner="root", group=SERVICE_USER)
    root.file(f"{ETC}/device.toml", spec.to_toml(), mode=0o600)  # has the Wi-Fi passphrase: root only
    root.file(f"{ETC}/kiosk.env", f"STALLPAY_UI_URL={spec.system.ui_url}\n", mode=0o644)
    if spec.collector.url:
        root.file(f"{ETC}/collector.env", f"STALLPAY_COLLECTOR_URL={spec.collector.url}\n", mode=0o640,
                  owner="root", group=SERVICE_USER)
    else:
        root.absent(f"{ETC}/collector.env")
    keys = root(KEYS_PATH)
    if keys.exists():  # keys come from pairing; whatever is there must stay the service user's alone
        root.file(KEYS_PATH, keys.read_bytes(), mode=0o600, owner=SERVICE_USER, group=SERVICE_USER)
    root.file("/etc/hostname", spec.hostname + "\n")
    root.file(RULES_PATH, udev_rules())
    root.file(MODPROBE_PATH, modprobe_blacklist())


def step_system(root: TargetRoot, spec: DeviceSpec, options: DeviceOptions) -> None:
    root.file("/etc/systemd/journald.conf.d/stallpay.conf",
              "# StallPay: keep logs across reboots, but never let them fill the card.\n[Journal]\n"
              "Storage=persistent\nSystemMaxUse=64M\nSystemKeepFree=256M\nRuntimeMaxUse=16M\n"
              "MaxRetentionSec=3month\nCompress=yes\n")
    servers = [*spec.system.ntp]
    if spec.collector.url:
        host = spec.collector.url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
        servers.append(host)
    root.file("/etc/systemd/timesyncd.conf.d/stallpay.conf",
              "# StallPay: the collector first (it is there when the internet is not), then the pool.\n"
              f"[Time]\nNTP={' '.join(servers)}\nFallbackNTP=0.debian.pool.ntp.org 1.debian.pool.ntp.org\n")
    root.symlink("/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service",
                 "/lib/systemd/system/systemd-timesyncd.service")
    root.symlink("/etc/systemd/system/sockets.target.wants/pcscd.socket", "/lib/systemd/system/pcscd.socket")
    if spec.system.timezone:
        root.symlink("/etc/localtime", f"/usr/share/zoneinfo/{spec.system.timezone}")
        root.file("/etc/timezone", spec.system.timezone + "\n")
    if spec.wifi.ssid:
        root.file("/etc/NetworkManager/system-connections/stallpay-wifi.nmconnection", _nmconnection(spec),
                  mode=0o600)
    else:
        root.absent("/etc/NetworkManager/system-connections/stallpay-wifi.nmconnection")
    if spec.system.read_only_root:
        if not spec.system.data_device:
            raise ProvisionError("system.read_only_root needs system.data_device (the data partition)")
        root.directory("/data", mode=0o755)
        root.block("/etc/fstab", "stallpay", _fstab(spec.system.data_device))
    else:
        root.block("/etc/fstab", "stallpay", "")


def _nmconnection(spec: DeviceSpec) -> str:
    security = f"[wifi-security]\nkey-mgmt=wpa-psk\npsk={spec.wifi.psk}\n\n" if spec.wifi.psk else ""
    return (f"[connection]\nid=stallpay-wifi\ntype=wifi\nautoconnect=true\n\n[wifi]\nmode=infrastructure\n"
            f"ssid={spec.wifi.ssid}\n\n{security}[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n")


def _fstab(device: str) -> str:
    """Root read-only; everything that is written at run time lives on the data partition or in RAM.

    The journal database is in /var/lib/stallpay on the data partition (ext4, data=journal) and SQLite
    commits with synchronous=FULL, so a power cut loses at most the entry being written, never the system.
    """
    return (
        "/dev/mmcblk0p2  /  ext4  ro,noatime  0  1\n"
        f"{device}  /data  ext4  defaults,noatime,data=journal,commit=1  0  2\n"
        "/data/stallpay  /var/lib/stallpay  none  bind,x-systemd.requires-mounts-for=/data  0  0\n"
        "/data/stallpay-kiosk  /var/lib/stallpay-kiosk  none  bind,x-systemd.requires-mounts-for=/data  0  0\n"
        "/data/log  /var/log  none  bind,x-systemd.requires-mounts-for=/data  0  0\n"
        "tmpfs  /tmp  tmpfs  nosuid,nodev,size=64m  0  0\n"
        "tmpfs  /var/tmp  tmpfs  nosuid,nodev,size=32m  0  0\n"
    )


TERMINAL_UNITS = ("stallpay-terminal.service", "stallpay-kiosk.service", "stallpay-upload.service",
                  "stallpay-upload.timer", "stallpay-firstboot.service")
ENABLED = {"stallpay-terminal.service": "multi-user.target", "stallpay-kiosk.service": "multi-user.target"}


def step_units(root: TargetRoot, spec: DeviceSpec, options: DeviceOptions) -> None:
    source = units_dir(options)
    for name in TERMINAL_UNITS:
        unit = source / name
        if not unit.exists():
            raise ProvisionError(f"{unit} is missing")
        root.file(f"{UNIT_DIR}/{name}", unit.read_text(encoding="utf-8"))
    enabled = dict(ENABLED)
    if spec.collector.url:
        enabled["stallpay-upload.timer"] = "timers.target"
    else:
        root.absent(f"{UNIT_DIR}/timers.target.wants/stallpay-upload.timer")
    for name, target in enabled.items():
        root.symlink(f"{UNIT_DIR}/{target}.wants/{name}", f"{UNIT_DIR}/{name}")
    root.symlink(f"{UNIT_DIR}/getty@tty1.service", "/dev/null")  # masked: the kiosk owns tty1


def step_venv(root: TargetRoot, spec: DeviceSpec, options: DeviceOptions) -> None:
    """A virtualenv that sees the distribution's picamera2/libcamera, filled from the offline bundle."""
    if not root.live:
        root.log.append("virtualenv: skipped (staging root)")
        return
    python = Path(VENV) / "bin" / "python"
    if not python.exists():
        _check(["python3", "-m", "venv", "--system-site-packages", VENV], "creating the virtualenv")
        root.changed.append(f"virtualenv {VENV}")
    if options.bundle is not None and (options.bundle / "wheels").is_dir():
        from provisioning.venv_install import install_commands

        for argv in install_commands(python, options.bundle):
            _check(argv, "installing the bundle")
    elif not (Path(VENV) / "bin" / "stallpay").exists():
        _check([str(python), "-m", "pip", "install", "--quiet", "stallpay[terminal,face]"],
               "installing stallpay from PyPI")


def step_start(root: TargetRoot, spec: DeviceSpec, options: DeviceOptions) -> None:
    if not root.live or not options.start:
        root.log.append("services: not started (staging root or --no-start)")
        return
    _check(["udevadm", "control", "--reload"], "reloading udev rules")
    _check(["udevadm", "trigger", "--subsystem-match=usb"], "applying udev rules")
    _check(["systemctl", "daemon-reload"], "reloading systemd")
    _check(["systemctl", "restart", "systemd-journald", "systemd-timesyncd"], "restarting journald/timesyncd")
    if Path(KEYS_PATH).exists():
        _check(["systemctl", "restart", "stallpay-terminal.service", "stallpay-kiosk.service"], "starting")
    else:
        root.log.append("services: enabled, not started (no keys yet: run 'stallpay provision pair')")


def _check(argv: list[str], doing: str) -> None:
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        raise ProvisionError(f"{doing}: {argv[0]} is not installed")
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise ProvisionError(f"{doing} failed: {(done.stderr or done.stdout).strip()[-300:]}")


STEPS: tuple[tuple[str, Callable[[TargetRoot, DeviceSpec, DeviceOptions], None]], ...] = (
    ("packages", step_packages),
    ("accounts", step_accounts),
    ("files", step_files),
    ("system", step_system),
    ("units", step_units),
    ("virtualenv", step_venv),
    ("start", step_start),
)


def provision_device(root: TargetRoot, spec: DeviceSpec, options: DeviceOptions,
                     progress: Callable[[str], None] | None = None) -> list[str]:
    """Run every step; returns what changed (empty on a re-run of a provisioned system)."""
    if not root.path.is_dir():
        raise ProvisionError(f"{root.path}: no such directory")
    for name, step in STEPS:
        if progress:
            progress(name)
        try:
            step(root, spec, options)
        except ProvisionError as exc:
            raise ProvisionError(f"step {name}: {exc}") from None
    return root.changed
