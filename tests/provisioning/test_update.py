"""`stallpay provision update --bundle DIR --root STAGING`: refuses a bundle that does not verify; installs a new
release into its own venv with real pip, migrates the terminal's 0.1.0 databases with the new code, switches the
symlink; when the new release cannot run, switches back and restores the databases."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from provisioning.bundle import build_wheel
from provisioning.manifest import write_manifest
from tests.provisioning.release_0_1_0 import make_release_0_1_0

STALLPAY = [sys.executable, "-m", "terminal.cli"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("dist"))


def small_bundle(path: Path, wheel: Path) -> Path:
    """A bundle holding only the stallpay wheel (its dependencies are the test's own, see `update`)."""
    (path / "wheels").mkdir(parents=True)
    shutil.copy(wheel, path / "wheels" / wheel.name)
    write_manifest(path, {"python": "3.11", "stallpay": wheel.name, "version": wheel.name.split("-")[1]})
    return path


def staging(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    old = root / "opt/stallpay/venv/bin"
    old.mkdir(parents=True)
    (old / "stallpay").write_text("#!/bin/sh\necho old release\n")
    make_release_0_1_0(root / "var/lib/stallpay", {
        "settings.db": [("INSERT INTO settings VALUES (?, ?)", ("language", "bg"))]})
    return root


def update(root: Path, bundle: Path, *, with_dependencies: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if with_dependencies:  # the new venv finds stallpay's dependencies where this test's interpreter has them
        env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    return subprocess.run([*STALLPAY, "provision", "update", "--bundle", str(bundle), "--root", str(root)],
                          capture_output=True, text=True, env=env, timeout=600)


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.db"))}


def test_a_bundle_that_does_not_verify_is_refused_untouched(tmp_path: Path, wheel: Path) -> None:
    root = staging(tmp_path)
    bundle = small_bundle(tmp_path / "bundle", wheel)
    (bundle / "wheels" / wheel.name).write_bytes(b"PK not the wheel the manifest lists")
    before = digests(root / "var/lib/stallpay")
    done = update(root, bundle, with_dependencies=True)
    assert done.returncode == 1
    assert "refused" in done.stderr and "does not match its manifest" in done.stderr and wheel.name in done.stderr
    assert not (root / "opt/stallpay/releases").exists() and not (root / "opt/stallpay/venv").is_symlink()
    assert digests(root / "var/lib/stallpay") == before


def test_update_installs_migrates_and_switches(tmp_path: Path, wheel: Path) -> None:
    root = staging(tmp_path)
    bundle = small_bundle(tmp_path / "bundle", wheel)
    done = update(root, bundle, with_dependencies=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    link = root / "opt/stallpay/venv"
    assert link.is_symlink() and link.resolve() == (root / "opt/stallpay/releases" / result["release"]).resolve()
    assert result["previous"] == "initial" and (root / "opt/stallpay/releases/initial/bin/stallpay").exists()
    assert (link / "bin/stallpay").exists()
    data = root / "var/lib/stallpay"
    for name in ("journal.db", "operators.db", "settings.db", "face.db"):
        assert sqlite3.connect(data / name).execute("PRAGMA user_version").fetchone()[0] >= 1, name
    assert sqlite3.connect(data / "settings.db").execute("SELECT value FROM settings").fetchone() == ("bg",)
    again = update(root, bundle, with_dependencies=True)
    assert again.returncode == 0 and json.loads(again.stdout)["steps"] == ["already installed"]


def test_a_release_that_cannot_run_is_switched_back(tmp_path: Path, wheel: Path) -> None:
    root = staging(tmp_path)
    bundle = small_bundle(tmp_path / "bundle", wheel)
    before = digests(root / "var/lib/stallpay")
    done = update(root, bundle, with_dependencies=False)  # the new venv cannot import its dependencies
    assert done.returncode == 1
    assert "migrating failed" in done.stderr and "switched back to the previous release" in done.stderr
    link = root / "opt/stallpay/venv"
    assert link.is_symlink() and link.resolve().name == "initial"
    assert (link / "bin/stallpay").read_text().endswith("echo old release\n")
    assert digests(root / "var/lib/stallpay") == before
