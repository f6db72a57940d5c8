"""The bundle builder asks pip for aarch64 / CPython 3.11 binary wheels (pip itself is stubbed: no download)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from provisioning.bundle import BundleBuildError, build_bundle


def test_bundle_has_wheels_units_and_manifest(tmp_path: Path) -> None:
    wheel = tmp_path / "stallpay-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    calls: list[list[str]] = []

    def fake_pip(argv: list[str]) -> subprocess.CompletedProcess:
        calls.append(argv)
        dest = Path(argv[argv.index("--dest") + 1])
        (dest / "pydantic_core-2.0-cp311-cp311-manylinux_2_17_aarch64.whl").write_bytes(b"PK")
        return subprocess.CompletedProcess(argv, 0, "", "")

    manifest = build_bundle(tmp_path / "bundle", wheel=wheel, run=fake_pip, progress=lambda _: None)
    argv = calls[0]
    assert argv[argv.index("--python-version") + 1] == "3.11" and "--only-binary=:all:" in argv
    assert "manylinux2014_aarch64" in argv and argv[-1].endswith("stallpay-0.1.0-py3-none-any.whl")
    assert manifest["wheels"] == ["pydantic_core-2.0-cp311-cp311-manylinux_2_17_aarch64.whl",
                                  "stallpay-0.1.0-py3-none-any.whl"]
    assert (tmp_path / "bundle/systemd/stallpay-terminal.service").exists()
    assert json.loads((tmp_path / "bundle/manifest.json").read_text())["stallpay"] == wheel.name


def test_failed_download_is_reported(tmp_path: Path) -> None:
    wheel = tmp_path / "stallpay-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    with pytest.raises(BundleBuildError, match="aarch64 wheel"):
        build_bundle(tmp_path / "b", wheel=wheel, progress=lambda _: None,
                     run=lambda argv: subprocess.CompletedProcess(argv, 1, "", "No matching distribution"))
