"""keys.toml sealed to the board where it has a device secret: `stallpay init` writes it sealed, the terminal opens
it, another board (or a copied SD card on a laptop) does not, and `stallpay selftest` says which. The rpi-otp
backend runs against a stand-in `rpi-otp-private-key` on PATH (the physical edge)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from terminal.config import ConfigError, load_keys, new_keys_text, write_secret_file
from terminal.device_secret import ENV
from terminal.key_file_seal import MARKER, describe

CLI = [sys.executable, "-m", "terminal.cli"]
OTP_KEY = "5a" * 32


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def _keys_check(tmp: Path, env: dict[str, str]) -> str:
    done = _run("selftest", "--config", str(tmp / "t" / "terminal.toml"), "--json", "--only", "keys", env=env)
    checks = json.loads(done.stdout)
    rows = checks["checks"] if isinstance(checks, dict) else checks
    keys = next(c for c in rows if c["name"] == "keys")
    assert keys["result"] == "pass", keys
    return keys["detail"]


def test_file_backend_seals_and_other_boards_cannot_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    board = {ENV: f"file:{tmp_path / 'board.secret'}"}
    assert _run("init", "--dir", str(tmp_path / "t"), "--event", "fest", env=board).returncode == 0
    keys_file = tmp_path / "t" / "keys.toml"
    text = keys_file.read_text()
    assert text.startswith(MARKER) and "master_key" not in text
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert "keys sealed to board (file)" in _keys_check(tmp_path, board)
    monkeypatch.setenv(ENV, board[ENV])
    assert load_keys(keys_file, "fest").event_id == "fest"
    monkeypatch.setenv(ENV, f"file:{tmp_path / 'other.secret'}")  # the SD card in another board
    with pytest.raises(ConfigError, match="sealed to another board"):
        load_keys(keys_file)
    monkeypatch.setenv(ENV, "none")  # or on a laptop
    with pytest.raises(ConfigError, match="has no device secret"):
        load_keys(keys_file)


def test_none_backend_keeps_the_0600_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {ENV: "none"}
    assert _run("init", "--dir", str(tmp_path / "t"), "--event", "fest", env=env).returncode == 0
    text = (tmp_path / "t" / "keys.toml").read_text()
    assert not text.startswith(MARKER) and "master_key" in text
    assert "keys in 0600 file, board cannot seal" in _keys_check(tmp_path, env)


def test_rpi_otp_backend_through_the_firmware_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    tool = tools / "rpi-otp-private-key"
    tool.write_text(f"#!/bin/sh\necho {OTP_KEY}\n")
    tool.chmod(0o755)
    env = {ENV: "auto", "PATH": f"{tools}:{os.environ['PATH']}"}
    assert _run("init", "--dir", str(tmp_path / "t"), "--event", "fest", env=env).returncode == 0
    assert (tmp_path / "t" / "keys.toml").read_text().startswith(MARKER)
    assert "keys sealed to board (rpi-otp)" in _keys_check(tmp_path, env)
    # an unprogrammed OTP (all zeros) cannot seal: the key file stays plain
    tool.write_text(f"#!/bin/sh\necho {'00' * 32}\n")
    assert _run("init", "--dir", str(tmp_path / "u"), "--event", "fest", env=env).returncode == 0
    assert "master_key" in (tmp_path / "u" / "keys.toml").read_text()


def test_plain_file_is_sealed_at_its_next_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys_file = tmp_path / "keys.toml"
    monkeypatch.setenv(ENV, "none")
    write_secret_file(keys_file, new_keys_text("fest"))
    monkeypatch.setenv(ENV, f"file:{tmp_path / 'board.secret'}")
    assert describe(keys_file).startswith("keys in 0600 file, not yet sealed")
    before = load_keys(keys_file)
    write_secret_file(keys_file, keys_file.read_text())
    assert describe(keys_file) == "keys sealed to board (file)"
    assert load_keys(keys_file).master_key == before.master_key


def test_the_shared_loader_reads_plain_files_and_names_a_sealed_one(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`sync.format.event_keys.load_keys` (the collector's) knows no board: it reads the plain file with its
    [epochs], and refuses a sealed one with a reason; the terminal's `load_keys` opens it on its board."""
    from sync.format import event_keys

    plain, sealed = tmp_path / "plain.toml", tmp_path / "sealed.toml"
    text = new_keys_text("fest") + '[epochs]\ncurrent = 1\nold_until = 7\n[epochs.band]\n"1" = "' + "ab" * 16 + '"\n'
    monkeypatch.setenv(ENV, "none")
    write_secret_file(plain, text)
    keys = event_keys.load_keys(plain, "fest")
    assert (keys.epoch, keys.old_until, keys.band_masters()[1]) == (1, 7, bytes([0xAB]) * 16)
    monkeypatch.setenv(ENV, f"file:{tmp_path / 'board.secret'}")
    write_secret_file(sealed, text)
    with pytest.raises(ConfigError, match="sealed to a board"):
        event_keys.load_keys(sealed, "fest")
    assert load_keys(sealed, "fest").epoch_keys == keys.epoch_keys
    write_secret_file(plain, text.replace('current = 1', 'current = 2'))
    with pytest.raises(ConfigError, match="no key for it"):
        load_keys(plain)
