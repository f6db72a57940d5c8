"""Card preparation on a small disk image made here (MBR + FAT boot partition + a Linux one), never mounted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioning.batch import run_batch
from provisioning.image import RUN_ONCE, BootPartition, ImageError, boot_partition_offset, prepare_card
from provisioning.spec import DeviceSpec, SpecError, load_spec
from tests.provisioning.conftest import require_tool

BOOT_START = 2048  # sectors, as on Raspberry Pi OS images (8192 there; any value works)
BOOT_SECTORS = 48 * 2048  # 48 MiB: enough 512-byte clusters for FAT32, as on the real images


def make_pi_image(path: Path) -> Path:
    """An 80 MiB (sparse) image shaped like Raspberry Pi OS: FAT32 boot partition (type c), then a Linux one."""
    sfdisk = require_tool("sfdisk", "fdisk")
    mkfs = require_tool("mkfs.fat", "dosfstools")
    require_tool("mcopy", "mtools")
    with open(path, "wb") as f:
        f.truncate(80 * 1024 * 1024)
    layout = (f"label: dos\nstart={BOOT_START}, size={BOOT_SECTORS}, type=c\n"
              f"start={BOOT_START + BOOT_SECTORS}, type=83\n")
    subprocess.run([sfdisk, "--quiet", str(path)], input=layout, text=True, check=True, capture_output=True)
    subprocess.run([mkfs, "-F", "32", "-s", "1", "-n", "BOOTFS", f"--offset={BOOT_START}", str(path),
                    str(BOOT_SECTORS // 2)], check=True, capture_output=True)
    boot = BootPartition(path, BOOT_START * 512)
    boot.write("cmdline.txt", b"console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 quiet\n")
    boot.write("config.txt", b"[all]\n")
    return path


@pytest.fixture
def pi_image(tmp_path: Path) -> Path:
    return make_pi_image(tmp_path / "raspios-lite.img")


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A tiny stand-in for the offline bundle (real ones are built by 'stallpay provision bundle')."""
    b = tmp_path / "bundle"
    (b / "wheels").mkdir(parents=True)
    (b / "wheels" / "stallpay-0.1.0-py3-none-any.whl").write_bytes(b"PK\x05\x06" + bytes(18))
    (b / "wheels" / "cryptography-42.0.0-cp39-abi3-manylinux_2_28_aarch64.whl").write_bytes(b"PK fake")
    (b / "systemd").mkdir()
    (b / "systemd" / "stallpay-terminal.service").write_text("[Service]\n")
    (b / "manifest.json").write_text('{"python": "3.11", "platform": "manylinux2014_aarch64"}')
    return b


def test_boot_partition_found_from_the_partition_table(pi_image: Path) -> None:
    assert boot_partition_offset(pi_image) == BOOT_START * 512


def test_prepared_image_has_firstboot_files_and_bundle(pi_image: Path, tmp_path: Path, spec: DeviceSpec,
                                                       bundle: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text("[event]\nid = 'summer-2026'\n")
    out = tmp_path / "t12.img"
    prepare_card(pi_image, out, spec, bundle=bundle, keys=keys)
    boot = BootPartition(out, boot_partition_offset(out))
    device = boot.read("stallpay/device.toml")
    assert device is not None
    written = tmp_path / "device-from-card.toml"
    written.write_bytes(device)
    assert load_spec(written) == spec  # the card carries exactly this terminal's settings
    assert boot.read("stallpay/keys.toml") == keys.read_bytes()
    assert b"provision device" in (boot.read("stallpay/firstboot.sh") or b"")
    assert b"[Service]" in (boot.read("stallpay/stallpay-firstboot.service") or b"")
    assert boot.read("firstrun.sh") is not None and boot.read("ssh") == b""
    cmdline = (boot.read("cmdline.txt") or b"").decode()
    assert cmdline.startswith("console=serial0") and cmdline.count(RUN_ONCE) == 1 and cmdline.count("\n") == 1
    assert sorted(boot.list("stallpay/bundle/wheels") or []) == sorted(p.name for p in (bundle / "wheels").iterdir())
    assert boot.read("stallpay/bundle/wheels/cryptography-42.0.0-cp39-abi3-manylinux_2_28_aarch64.whl") == b"PK fake"
    assert boot.read("config.txt") == b"[all]\n"  # what was on the partition stays
    assert pi_image.read_bytes() != out.read_bytes()  # the source image is untouched, the copy changed


def test_in_place_twice_does_not_repeat_the_command_line(pi_image: Path, spec: DeviceSpec) -> None:
    prepare_card(pi_image, pi_image, spec, in_place=True)
    prepare_card(pi_image, pi_image, spec, in_place=True)
    cmdline = (BootPartition(pi_image, BOOT_START * 512).read("cmdline.txt") or b"").decode()
    assert cmdline.count("systemd.run=") == 1


def test_bad_inputs_are_explained(tmp_path: Path, pi_image: Path, spec: DeviceSpec) -> None:
    with pytest.raises(ImageError, match="compressed"):
        prepare_card(tmp_path / "x.img.xz", tmp_path / "o.img", spec)
    with pytest.raises(ImageError, match="no such image"):
        prepare_card(tmp_path / "missing.img", tmp_path / "o.img", spec)
    blank = tmp_path / "blank.img"
    blank.write_bytes(bytes(1024 * 1024))
    with pytest.raises(ImageError, match="partition table"):
        prepare_card(blank, tmp_path / "o.img", spec)
    with pytest.raises(ImageError, match="not an offline bundle"):
        prepare_card(pi_image, tmp_path / "o.img", spec, bundle=tmp_path)


def test_batch_prepares_one_image_per_row_with_progress(pi_image: Path, tmp_path: Path, bundle: Path) -> None:
    rows = tmp_path / "terminals.csv"
    rows.write_text("terminal_id,vendor,event,mode,collector_url\n"
                    "1,Falafel,summer-2026,sale,http://10.0.0.2:8750\n"
                    "2,Top-up North,summer-2026,cashier,\n")
    lines: list[str] = []
    results = run_batch(rows, pi_image, str(tmp_path / "cards" / "t{terminal_id}.img"), bundle=bundle,
                        progress=lines.append)
    assert [r["error"] for r in results] == ["", ""]
    assert any(line.startswith("[1/2] terminal 1") for line in lines) and "[2/2] terminal 2: ready" in lines
    for tid, mode in ((1, "sale"), (2, "cashier")):
        img = tmp_path / "cards" / f"t{tid}.img"
        text = (BootPartition(img, BOOT_START * 512).read("stallpay/device.toml") or b"").decode()
        assert f"id = {tid}" in text and f'mode = "{mode}"' in text


def test_batch_rejects_bad_rows_before_writing_anything(pi_image: Path, tmp_path: Path) -> None:
    rows = tmp_path / "terminals.csv"
    rows.write_text("terminal_id,vendor,event\n1,A,ev\n1,B,ev\n")
    with pytest.raises(SpecError, match="more than once"):
        run_batch(rows, pi_image, str(tmp_path / "t{terminal_id}.img"))
    rows.write_text("terminal_id,vendor,event,colour\n1,A,ev,red\n")
    with pytest.raises(SpecError, match="unknown column"):
        run_batch(rows, pi_image, str(tmp_path / "t{terminal_id}.img"))
    rows.write_text("terminal_id,vendor,event\n0,A,ev\n")
    with pytest.raises(SpecError, match=r"line 2: terminal\.id"):
        run_batch(rows, pi_image, str(tmp_path / "t{terminal_id}.img"))
    assert not list(tmp_path.glob("t*.img"))


def test_cli_image_and_batch(pi_image: Path, tmp_path: Path, spec: DeviceSpec) -> None:
    device = tmp_path / "device.toml"
    device.write_text(spec.to_toml())
    env = {**os.environ}
    done = subprocess.run([sys.executable, "-m", "terminal.cli", "provision", "image", "--image", str(pi_image),
                           "--spec", str(device), "--output", str(tmp_path / "one.img")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    rows = tmp_path / "t.csv"
    rows.write_text("terminal_id,vendor,event\n5,A,ev\n")
    done = subprocess.run([sys.executable, "-m", "terminal.cli", "provision", "batch", "--csv", str(rows),
                           "--image", str(tmp_path / "missing.img"), "--output", str(tmp_path / "t{terminal_id}.img")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1 and "no such image file" in done.stderr
