"""Files only their owner may read: created with that mode from the start (never a window of 0644), and
tightened if an older version left them open. Used for every file holding a secret, a PIN hash, a journal,
a card image, batches, bundles and pairing files, on the terminal and at the collector.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE = 0o600
SHARED_WITH_GROUP = 0o640  # configuration the service group reads but nobody else


def ensure_private(path: Path | str, mode: int = PRIVATE) -> None:
    """Create `path` empty with `mode` if it does not exist, else take away what `mode` does not grant."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            os.chmod(path, current & mode)
        return
    os.close(fd)
    os.chmod(path, mode)  # whatever the umask took away or left


def write_private(path: Path | str, data: bytes, mode: int = PRIVATE) -> None:
    """Write-then-rename (a crash leaves the old file), fsync'd, the new file created with `mode`."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)


def private_sqlite(path: Path | str) -> None:
    """Before SQLite opens a database: the file (and its -wal/-shm, which SQLite creates with the database
    file's mode) readable by the owner alone."""
    if str(path) == ":memory:":
        return
    ensure_private(path)
    for suffix in ("-wal", "-shm", "-journal"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            ensure_private(side)
