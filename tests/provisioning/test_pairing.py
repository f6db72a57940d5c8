"""Pairing from a key file on a USB stick into a provisioned staging root."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from provisioning.device import DeviceOptions, provision_device
from provisioning.pairing import PairingError, pair_from_key_file, pair_from_usb
from provisioning.spec import DeviceSpec
from provisioning.target_root import TargetRoot
from terminal.config import load_keys, new_keys_text

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def provisioned(base_root: Path, spec: DeviceSpec) -> Path:
    provision_device(TargetRoot(base_root), spec, DeviceOptions(units=REPO / "systemd"))
    return base_root


def config(root: Path) -> Path:
    return root / "etc/stallpay/terminal.toml"


def test_usb_key_file_installs_keys_for_the_service_user_alone(provisioned: Path, tmp_path: Path) -> None:
    stick = tmp_path / "usb"
    stick.mkdir()
    organizer = tomllib.loads(new_keys_text("summer-2026"))
    (stick / "stallpay-keys-summer-2026.toml").write_text(
        f"[event]\nid = 'summer-2026'\nmaster_key = '{organizer['event']['master_key']}'\n")
    result = pair_from_usb(provisioned, stick, config=config(provisioned))
    keys_file = provisioned / "etc/stallpay/keys.toml"
    st = keys_file.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and result["owner"] == "stallpay"
    assert st.st_uid == int(next(r.split(":")[2] for r in (provisioned / "etc/passwd").read_text().splitlines()
                                 if r.startswith("stallpay:")))
    keys = load_keys(keys_file, "summer-2026")
    assert keys.master_key.hex() == organizer["event"]["master_key"]
    # re-pairing (say, after a key file was re-issued) keeps the terminal's own signing identity
    again = pair_from_usb(provisioned, stick, config=config(provisioned))
    assert again["terminal_public_key"] == result["terminal_public_key"]


def test_key_file_for_another_event_is_refused(provisioned: Path, tmp_path: Path) -> None:
    other = tmp_path / "keys.toml"
    other.write_text(new_keys_text("winter-2026"))
    with pytest.raises(PairingError, match="winter-2026"):
        pair_from_key_file(provisioned, other, config=config(provisioned))
    assert not (provisioned / "etc/stallpay/keys.toml").exists()


def test_bad_sticks_and_files_are_explained(provisioned: Path, tmp_path: Path) -> None:
    with pytest.raises(PairingError, match="no stallpay-keys"):
        pair_from_usb(provisioned, tmp_path, config=config(provisioned))
    with pytest.raises(PairingError, match="not a directory"):
        pair_from_usb(provisioned, tmp_path / "nothing", config=config(provisioned))
    broken = tmp_path / "keys.toml"
    broken.write_text("[event]\nid = 'summer-2026'\nmaster_key = 'abcd'\n")
    with pytest.raises(PairingError, match="16 bytes"):
        pair_from_key_file(provisioned, broken, config=config(provisioned))
    assert not (provisioned / "etc/stallpay/keys.toml").exists()
    with pytest.raises(PairingError, match="provision the device first"):
        pair_from_key_file(tmp_path, broken)
