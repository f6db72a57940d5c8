"""The system being provisioned: `/` on a Pi, or a staging directory (`--root DIR`) in tests and image builds.

Every write goes through here so that it is idempotent (a file already as it
should be is left alone, and reported unchanged), owners and modes are always
set, and the same code serves a live system and a staging tree.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


class ProvisionError(Exception):
    """A provisioning step failed; the message says which and what to do."""


@dataclass
class TargetRoot:
    path: Path
    log: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def live(self) -> bool:
        """Provisioning the running system itself (so services may be started, packages installed)."""
        return self.path.resolve() == Path("/")

    def __call__(self, absolute: str | Path) -> Path:
        """The host path of an absolute path inside the target."""
        return self.path / str(absolute).lstrip("/")

    # --- accounts ---------------------------------------------------------------

    def _table(self, name: str) -> list[list[str]]:
        path = self(f"/etc/{name}")
        if not path.exists():
            raise ProvisionError(f"{path} is missing: {self.path} does not look like a system root")
        return [line.split(":") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def uid(self, user: str) -> int | None:
        return next((int(row[2]) for row in self._table("passwd") if row[0] == user), None)

    def gid(self, group: str) -> int | None:
        return next((int(row[2]) for row in self._table("group") if row[0] == group), None)

    def members(self, group: str) -> list[str]:
        row = next((row for row in self._table("group") if row[0] == group), None)
        return [m for m in row[3].split(",") if m] if row and len(row) > 3 else []

    def run(self, argv: list[str], *, root_flag: bool = True) -> str:
        """Run a shadow-utils style tool against this root (`--root DIR` when staging)."""
        if root_flag and not self.live:
            argv = [argv[0], "--root", str(self.path.resolve()), *argv[1:]]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise ProvisionError(f"{argv[0]} is not installed") from None
        if done.returncode != 0:
            raise ProvisionError(f"{' '.join(argv)} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    # --- files ------------------------------------------------------------------

    def _owner(self, owner: str, group: str) -> tuple[int, int]:
        uid, gid = self.uid(owner), self.gid(group)
        if uid is None or gid is None:
            raise ProvisionError(f"user {owner!r} or group {group!r} does not exist in {self.path}")
        return uid, gid

    def _set_meta(self, path: Path, mode: int, owner: str, group: str, what: str) -> bool:
        uid, gid = self._owner(owner, group)
        st = path.lstat()
        changed = False
        if (st.st_uid, st.st_gid) != (uid, gid):
            if os.geteuid() != 0:
                raise ProvisionError(f"setting the owner of {what} needs root (run as root, or with sudo)")
            os.chown(path, uid, gid, follow_symlinks=False)
            changed = True
        if st.st_mode & 0o7777 != mode:
            os.chmod(path, mode)
            changed = True
        return changed

    def directory(self, absolute: str, *, mode: int = 0o755, owner: str = "root", group: str = "root") -> None:
        path = self(absolute)
        created = not path.is_dir()
        path.mkdir(parents=True, exist_ok=True)
        if self._set_meta(path, mode, owner, group, absolute) or created:
            self._note(f"directory {absolute}")

    def file(self, absolute: str, content: str | bytes, *, mode: int = 0o644, owner: str = "root",
             group: str = "root") -> None:
        """Write a file only if its content differs; created with its final mode (secrets never readable)."""
        data = content.encode() if isinstance(content, str) else content
        path = self(absolute)
        path.parent.mkdir(parents=True, exist_ok=True)
        differs = not path.is_file() or path.read_bytes() != data
        if differs:
            tmp = path.with_name(f".{path.name}.stallpay-new")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode & 0o777)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self._set_meta(tmp, mode, owner, group, absolute)
            os.replace(tmp, path)
        if self._set_meta(path, mode, owner, group, absolute) or differs:
            self._note(f"file {absolute}")

    def absent(self, absolute: str) -> None:
        path = self(absolute)
        if path.is_symlink() or path.exists():
            path.unlink()
            self._note(f"removed {absolute}")

    def symlink(self, absolute: str, target: str) -> None:
        path = self(absolute)
        if path.is_symlink() and os.readlink(path) == target:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(target)
        self._note(f"link {absolute} -> {target}")

    def block(self, absolute: str, marker: str, body: str, *, mode: int = 0o644) -> None:
        """Own a marked block inside a file others also edit (fstab, config.txt), replacing it on re-runs."""
        path = self(absolute)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        begin, end = f"# BEGIN {marker}", f"# END {marker}"
        lines = text.splitlines()
        if begin in lines and end in lines:
            i, j = lines.index(begin), lines.index(end)
            lines = lines[:i] + lines[j + 1:]
        new_lines = [*lines, begin, *body.rstrip("\n").splitlines(), end] if body else lines
        self.file(absolute, "\n".join(new_lines) + "\n", mode=mode)

    def _note(self, what: str) -> None:
        self.changed.append(what)
        self.log.append(what)
