"""The offline bundle: everything first boot installs, so a workshop without internet can flash terminals.

Layout: `wheels/` (the project's wheel and every dependency as aarch64 /
CPython 3.11 wheels, fetched with `pip download --platform`), `systemd/`
(the unit files), optional `debs/` (arm64 Debian packages prepared
elsewhere), and `manifest.json`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from provisioning.device import REPO_UNITS

PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "linux_aarch64")
PYTHON = "3.11"
REPO = REPO_UNITS.parent


class BundleBuildError(Exception):
    pass


Runner = Callable[[list[str]], subprocess.CompletedProcess]


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True)


def download_command(wheel: Path, dest: Path) -> list[str]:
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    return [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(dest), *platforms,
            "--python-version", PYTHON, "--implementation", "cp", "--only-binary=:all:", str(wheel)]


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


def build_bundle(output: Path, *, wheel: Path | None = None, debs: Path | None = None, run: Runner = _run,
                 progress: Callable[[str], None] = print) -> dict:
    wheels = output / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    if wheel is None:
        progress("building the stallpay wheel from the source tree")
        wheel = build_wheel(wheels, run=run)
    elif not wheel.is_file():
        raise BundleBuildError(f"{wheel}: no such wheel")
    else:
        shutil.copy(wheel, wheels / wheel.name)
        wheel = wheels / wheel.name
    progress(f"downloading dependencies for aarch64 / Python {PYTHON}")
    done = run(download_command(wheel, wheels))
    if done.returncode != 0:
        raise BundleBuildError("pip download failed (a dependency without an aarch64 wheel, or no network): "
                               + done.stderr.strip()[-400:])
    shutil.copytree(REPO_UNITS, output / "systemd", dirs_exist_ok=True)
    if debs is not None:
        if not debs.is_dir():
            raise BundleBuildError(f"{debs}: no such folder of .deb files")
        (output / "debs").mkdir(exist_ok=True)
        for deb in debs.glob("*.deb"):
            shutil.copy(deb, output / "debs" / deb.name)
    manifest = {"python": PYTHON, "platforms": list(PLATFORMS), "stallpay": wheel.name,
                "wheels": sorted(p.name for p in wheels.glob("*.whl")),
                "debs": sorted(p.name for p in (output / "debs").glob("*.deb")) if debs else []}
    (output / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest
