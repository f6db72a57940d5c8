"""python-escpos' printer profiles, parsed once per installation instead of at every start.

python-escpos parses its capabilities file (a large YAML document) when it is
first imported, unless a pickle of the result is in
`ESCPOS_CAPABILITIES_PICKLE_DIR`; by default that is a new temporary directory
in every process, so each start of the terminal parsed it again (the largest
part of start-up, seconds of CPU on a Pi) and left a directory behind. The
entry point points it, once, at the service's cache directory (systemd's
`CacheDirectory=` sets `$CACHE_DIRECTORY`) or the user's, and only at a
directory private to this user, since python-escpos unpickles what it finds.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

VARIABLE = "ESCPOS_CAPABILITIES_PICKLE_DIR"


def keep_profiles_cached(environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """Set the cache directory unless one is set; returns the one in use (None: python-escpos' default)."""
    if environ.get(VARIABLE):
        return environ[VARIABLE]
    folder = _cache_base(environ)
    if folder is None or not _private(folder / "escpos"):
        return None
    environ[VARIABLE] = str(folder / "escpos")
    return environ[VARIABLE]


def _cache_base(environ: dict[str, str] | os._Environ[str]) -> Path | None:
    systemd = environ.get("CACHE_DIRECTORY", "").split(":")[0]
    if systemd:
        return Path(systemd)
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]) / "stallpay"
    try:
        return Path.home() / ".cache" / "stallpay"
    except RuntimeError:  # no home directory
        return None


def _private(folder: Path) -> bool:
    """Ours, writable, and writable by nobody else (so nobody else can plant a pickle in it)."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError:
        return False
    return (info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            and os.access(folder, os.W_OK))
