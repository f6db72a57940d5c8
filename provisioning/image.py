"""Prepare a Raspberry Pi OS card that turns itself into a terminal on first boot, without mounting anything.

The image is copied to the card (or an image file), its partition table read
with `sfdisk --json`, and the first-boot files written into the FAT boot
partition with mtools (`mcopy -i IMAGE@@OFFSET`), so this runs unprivileged
in a container or CI. On first boot `firstrun.sh` (run once through the
kernel command line, as Raspberry Pi Imager does) installs the
stallpay-firstboot unit; that unit installs the offline bundle, provisions
the device from `stallpay/device.toml` and pairs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from provisioning.device import REPO_UNITS
from provisioning.spec import DeviceSpec

SECTOR = 512
FAT_TYPES = {"b", "c", "e", "6", "ef", "0b", "0c", "0e", "06",
             "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"}
RUN_ONCE = ("systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot "
            "systemd.unit=kernel-command-line.target")


class ImageError(Exception):
    """The image or card cannot be prepared; the message says what to do."""


def _tool(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise ImageError(f"{name} is not installed (Debian package {package}; run scripts/setup.sh)")
    return found


def _run(argv: list[str], doing: str, *, input_bytes: bytes | None = None) -> bytes:
    done = subprocess.run(argv, input=input_bytes, capture_output=True, check=False,
                          env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
    if done.returncode != 0:
        raise ImageError(f"{doing} failed: {done.stderr.decode(errors='replace').strip() or done.returncode}")
    return done.stdout


def boot_partition_offset(image: Path) -> int:
    """Byte offset of the first FAT partition (the Pi's /boot/firmware)."""
    out = _run([_tool("sfdisk", "fdisk"), "--json", str(image)], f"reading the partition table of {image}")
    try:
        table = json.loads(out)["partitiontable"]
    except (ValueError, KeyError):
        raise ImageError(f"{image}: no partition table (is this a Raspberry Pi OS image?)") from None
    sector = int(table.get("sectorsize", SECTOR))
    for part in table.get("partitions", []):
        if str(part.get("type", "")).lower() in FAT_TYPES:
            return int(part["start"]) * sector
    raise ImageError(f"{image}: no FAT boot partition in the partition table")


class BootPartition:
    """The FAT boot partition inside an image or card, read and written with mtools."""

    def __init__(self, image: Path, offset: int) -> None:
        self.spec = f"{image}@@{offset}"

    def read(self, path: str) -> bytes | None:
        done = subprocess.run([_tool("mtype", "mtools"), "-i", self.spec, f"::/{path}"], capture_output=True,
                              env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
        return done.stdout if done.returncode == 0 else None

    def mkdir(self, path: str) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if self.list(sub) is None:
                _run([_tool("mmd", "mtools"), "-i", self.spec, f"::/{sub}"], f"creating {sub} on the boot partition")

    def list(self, path: str) -> list[str] | None:
        done = subprocess.run([_tool("mdir", "mtools"), "-b", "-i", self.spec, f"::/{path}"], capture_output=True,
                              env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
        if done.returncode != 0:
            return None
        return [line.rsplit("/", 1)[-1] for line in done.stdout.decode().splitlines() if line.strip()]

    def write(self, path: str, data: bytes) -> None:
        with tempfile.NamedTemporaryFile() as tmp:
            tmp.write(data)
            tmp.flush()
            self.copy(Path(tmp.name), path)

    def copy(self, source: Path, path: str) -> None:
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        if parent:
            self.mkdir(parent)
        args = ["-s"] if source.is_dir() else []
        _run([_tool("mcopy", "mtools"), "-o", "-Q", *args, "-i", self.spec, str(source), f"::/{path}"],
             f"copying {source} to the boot partition (full?)")


def firstrun_script() -> str:
    """Runs once, early, from the kernel command line: installs the first-boot unit, then removes itself."""
    return """#!/bin/sh
# StallPay: run once from cmdline.txt (systemd.run=); installs stallpay-firstboot.service and removes itself.
set -e
B=/boot/firmware
[ -d "$B/stallpay" ] || B=/boot
install -m 0644 "$B/stallpay/stallpay-firstboot.service" /etc/systemd/system/stallpay-firstboot.service
mkdir -p /etc/systemd/system/multi-user.target.wants
ln -sf /etc/systemd/system/stallpay-firstboot.service \\
  /etc/systemd/system/multi-user.target.wants/stallpay-firstboot.service
sed -i 's| systemd.run=[^ ]*||; s| systemd.run_success_action=[^ ]*||; s| systemd.unit=kernel-command-line.target||' \\
  "$B/cmdline.txt"
rm -f "$B/firstrun.sh"
exit 0
"""


# sh: refuses (exit 1) a bundle in $B/bundle that does not match its SHA256SUMS, before anything is installed.
BUNDLE_CHECK = """# Nothing is installed from a bundle that does not match its manifest (half-copied card, swap).
[ -f "$B/bundle/SHA256SUMS" ] || { log "no bundle manifest on the card: nothing installed"; exit 1; }
if ! (cd "$B/bundle" && sha256sum --check --strict --quiet SHA256SUMS); then
  log "the bundle does not match its manifest: nothing installed"; exit 1
fi
listed=$(cut -c67- "$B/bundle/SHA256SUMS" | sort)
present=$(cd "$B/bundle" && find . -type f ! -name manifest.json ! -name SHA256SUMS | sed 's|^\\./||' | sort)
if [ "$listed" != "$present" ]; then
  log "the bundle holds files its manifest does not list: nothing installed"; exit 1
fi
for p in python3-picamera2 python3-libcamera; do  # Raspberry Pi OS packages, not in the bundle
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
    || log "warning: $p is not installed: the camera and face pay stay off (card payments work)"
done
"""


def firstboot_script() -> str:
    """Run by stallpay-firstboot.service on a normal boot: offline install, provision, pair; re-runnable."""
    return """#!/bin/sh
# StallPay first boot: install the offline bundle, provision from device.toml, pair. Safe to run again.
set -eu
B=/boot/firmware/stallpay
[ -d "$B" ] || B=/boot/stallpay
V=/opt/stallpay/venv
log() { echo "stallpay-firstboot: $*"; }
""" + BUNDLE_CHECK + """if ls "$B"/bundle/debs/*.deb >/dev/null 2>&1; then
  log "installing Debian packages from the bundle"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$B"/bundle/debs/*.deb
fi
if [ ! -x "$V/bin/python" ]; then
  log "creating $V"
  mkdir -p /opt/stallpay
  python3 -m venv --system-site-packages "$V"
fi
log "installing stallpay from the bundle (no network needed)"
"$V/bin/pip" install --quiet --no-index --find-links "$B/bundle/wheels" --no-deps --require-hashes \
  -r "$B/bundle/requirements/terminal-aarch64.lock" -r "$B/bundle/requirements/face-nodeps.lock"
"$V/bin/pip" install --quiet --no-index --no-deps --force-reinstall "$B"/bundle/wheels/stallpay-*.whl
"$V/bin/stallpay" provision device --spec "$B/device.toml" --bundle "$B/bundle" --no-start
if [ -f "$B/keys.toml" ]; then
  log "pairing from the key file on the card"
  "$V/bin/stallpay" provision pair --key-file "$B/keys.toml"
  rm -f "$B/keys.toml"
fi
if [ -f "$B/pairing-code" ]; then
  log "pairing with the collector"
  "$V/bin/stallpay" provision pair --code "$(cat "$B/pairing-code")" --url "$(cat "$B/collector-url")" \\
    && rm -f "$B/pairing-code" || log "collector pairing failed; pair later with 'stallpay provision pair'"
fi
mv "$B/device.toml" "$B/device.toml.done"
systemctl disable stallpay-firstboot.service || true
systemctl daemon-reload
systemctl start stallpay-terminal.service stallpay-kiosk.service || true
log "done"
"""


def copy_image(image: Path, output: Path, progress: Callable[[str], None] | None = None) -> None:
    if image.suffix in (".xz", ".gz", ".zip", ".zst"):
        raise ImageError(f"{image}: compressed image; decompress it first (e.g. 'xz -dk {image}')")
    if not image.is_file():
        raise ImageError(f"{image}: no such image file")
    if image.resolve() == output.resolve():
        raise ImageError("--output is the source image; use --in-place to add files to it")
    size = image.stat().st_size
    done = 0
    chunk = 4 * 1024 * 1024
    with open(image, "rb") as src, open(output, "r+b" if output.is_block_device() else "wb") as dst:
        while block := src.read(chunk):
            dst.write(block)
            done += len(block)
            if progress and (done % (64 * chunk) < chunk or done == size):
                progress(f"writing {output}: {done * 100 // size}%")
        dst.flush()
        os.fsync(dst.fileno())


def prepare_card(image: Path, output: Path, spec: DeviceSpec, *, bundle: Path | None = None,
                 keys: Path | None = None, in_place: bool = False,
                 progress: Callable[[str], None] | None = None) -> list[str]:
    """Write `image` to `output` (unless in_place) and add the first-boot files; returns what was written."""
    if bundle is not None and not (bundle / "wheels").is_dir():
        raise ImageError(f"{bundle}: not an offline bundle (no wheels/ folder; build one with "
                         f"'stallpay provision bundle')")
    if keys is not None and not keys.is_file():
        raise ImageError(f"{keys}: no such key file")
    if in_place:
        if not output.exists():
            raise ImageError(f"{output}: no such file or device")
    else:
        copy_image(image, output, progress)
    boot = BootPartition(output, boot_partition_offset(output))
    cmdline = boot.read("cmdline.txt")
    if cmdline is None:
        raise ImageError(f"{output}: the boot partition has no cmdline.txt (not a Raspberry Pi OS image?)")
    written: list[str] = []

    def put(path: str, data: bytes | str) -> None:
        boot.write(path, data.encode() if isinstance(data, str) else data)
        written.append(path)

    put("stallpay/device.toml", spec.to_toml())
    put("stallpay/firstboot.sh", firstboot_script())
    put("stallpay/stallpay-firstboot.service", (REPO_UNITS / "stallpay-firstboot.service").read_bytes())
    put("firstrun.sh", firstrun_script())
    if keys is not None:
        put("stallpay/keys.toml", keys.read_bytes())
    if spec.collector.pairing_code and spec.collector.url:
        put("stallpay/pairing-code", spec.collector.pairing_code + "\n")
        put("stallpay/collector-url", spec.collector.url + "\n")
    if spec.system.ssh_authorized_key:
        put("ssh", b"")  # Raspberry Pi OS enables sshd when this file exists
    put("userconf.txt", "technician:*\n")  # skips the first-boot user wizard; the account has no password
    if bundle is not None:
        if progress:
            progress(f"copying the bundle {bundle} to the boot partition")
        boot.mkdir("stallpay/bundle")
        for item in sorted(bundle.iterdir()):
            boot.copy(item, f"stallpay/bundle/{item.name}")
            written.append(f"stallpay/bundle/{item.name}")
    line = cmdline.decode().strip()
    if "systemd.run=" not in line:
        put("cmdline.txt", f"{line} {RUN_ONCE}\n")
    return written
