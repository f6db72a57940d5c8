"""python-escpos' parsed printer profiles go to a private cache directory, never a shared one."""

from __future__ import annotations

import os
from pathlib import Path

from terminal.printer.profiles_cache import VARIABLE, keep_profiles_cached


def test_the_service_cache_directory_is_used_and_kept_private(tmp_path: Path) -> None:
    env = {"CACHE_DIRECTORY": str(tmp_path / "cache")}
    assert keep_profiles_cached(env) == str(tmp_path / "cache" / "escpos")
    assert env[VARIABLE] == str(tmp_path / "cache" / "escpos")
    assert (tmp_path / "cache" / "escpos").stat().st_mode & 0o077 == 0


def test_a_directory_others_may_write_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "xdg" / "stallpay" / "escpos"
    shared.mkdir(parents=True)
    os.chmod(shared, 0o777)  # someone else could plant a pickle there: python-escpos' default stays
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert keep_profiles_cached(env) is None and VARIABLE not in env


def test_a_directory_set_by_the_operator_wins(tmp_path: Path) -> None:
    env = {VARIABLE: str(tmp_path / "mine"), "CACHE_DIRECTORY": str(tmp_path / "cache")}
    assert keep_profiles_cached(env) == str(tmp_path / "mine") and not (tmp_path / "cache").exists()
