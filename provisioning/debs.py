"""Debian arm64 packages for the offline bundle, fetched with apt from Debian's archive on any build machine.

PyPI has no aarch64 wheel of pyscard, so the Pi takes Debian's `python3-pyscard`
(the venv uses system site packages) with the PC/SC daemon and driver. apt runs
with a private configuration (its own sources, lists and cache under the
download cache, architecture arm64), so the build machine's dpkg and apt are
not touched and no `dpkg --add-architecture` is needed. apt checks the archive's
signatures (Debian's keyring) and each package's hash as it downloads.

picamera2 and libcamera for the Pi's camera are not in Debian: they come from the
Raspberry Pi archive and are part of Raspberry Pi OS images, so the bundle lists
them as expected from the image, and first boot reports them if they are missing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from pathlib import Path

BUNDLE_DEBS = ("python3-pyscard", "pcscd", "libccid", "libpcsclite1", "libusb-1.0-0")
FROM_IMAGE = ("python3-picamera2", "python3-libcamera")
SUITES = (("http://deb.debian.org/debian", "bookworm"), ("http://deb.debian.org/debian", "bookworm-updates"),
          ("http://deb.debian.org/debian-security", "bookworm-security"))
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
LISTS_MAX_AGE_S = 24 * 3600


class DebDownloadError(Exception):
    pass


class DebianArchive:
    """apt for arm64 Bookworm in a folder of its own (the download cache)."""

    def __init__(self, cache: Path, *, arch: str = "arm64") -> None:
        self.root = cache / f"apt-{arch}"
        self.debs = cache / f"debs-{arch}"
        self.arch = arch

    def _options(self) -> list[str]:
        r = self.root
        return ["-o", f"Dir={r}", "-o", f"Dir::State::status={r}/var/lib/dpkg/status",
                "-o", f"APT::Architecture={self.arch}", "-o", f"APT::Architectures::={self.arch}",
                "-o", "Debug::NoLocking=1", "-o", "Acquire::Retries=3"]

    def _run(self, argv: list[str], doing: str, cwd: Path | None = None) -> str:
        if shutil.which(argv[0]) is None:
            raise DebDownloadError(f"{doing}: {argv[0]} is not installed (build the bundle on Debian or Ubuntu)")
        done = subprocess.run([argv[0], *self._options(), *argv[1:]], capture_output=True, text=True, cwd=cwd)
        if done.returncode != 0:
            raise DebDownloadError(f"{doing} failed:\n{(done.stderr or done.stdout).strip()}")
        return done.stdout

    def update(self) -> None:
        """Fetch the package lists (again once a day)."""
        r = self.root
        for sub in ("etc/apt/sources.list.d", "etc/apt/preferences.d", "etc/apt/apt.conf.d",
                    "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        (r / "var/lib/dpkg/status").touch()
        sources = "".join(f"deb [arch={self.arch} signed-by={KEYRING}] {url} {suite} main\n" for url, suite in SUITES)
        listed = r / "etc/apt/sources.list"
        stamp = r / "updated"
        fresh = stamp.exists() and time.time() - stamp.stat().st_mtime < LISTS_MAX_AGE_S
        if fresh and listed.exists() and listed.read_text() == sources:
            return
        if not Path(KEYRING).exists():
            raise DebDownloadError(f"{KEYRING} is missing: install debian-archive-keyring")
        listed.write_text(sources)
        self._run(["apt-get", "-q", "update"], f"apt-get update for {self.arch}")
        stamp.touch()

    def records(self, packages: tuple[str, ...]) -> list[dict[str, str]]:
        """Name, version, file name and sha256 of the candidate of each package."""
        out = self._run(["apt-cache", "show", "--no-all-versions", *packages], "reading the package lists")
        records = []
        for block in out.strip().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != " ")
            records.append({"name": fields["Package"], "version": fields["Version"],
                            "file": Path(fields["Filename"]).name, "sha256": fields["SHA256"]})
        missing = set(packages) - {r["name"] for r in records}
        if missing:
            raise DebDownloadError(f"not in Debian bookworm for {self.arch}: {', '.join(sorted(missing))}")
        return records

    def closure(self, packages: tuple[str, ...]) -> tuple[str, ...]:
        """The packages and everything they depend on (no recommends), for a root made by unpacking."""
        self.update()
        out = self._run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                         "--no-breaks", "--no-replaces", "--no-enhances", *packages], "resolving dependencies")
        return tuple(sorted({line.strip() for line in out.splitlines() if line and not line.startswith((" ", "<"))}))

    def download(self, packages: tuple[str, ...], dest: Path) -> list[dict[str, str]]:
        """The packages' .deb files in `dest` (from the cache when already downloaded); their records."""
        self.update()
        self.debs.mkdir(parents=True, exist_ok=True)
        records = self.records(packages)
        wanted = [r for r in records if not _matches(self.debs / r["file"], r["sha256"])]
        if wanted:
            self._run(["apt-get", "-q", "download", *(f"{r['name']}={r['version']}" for r in wanted)],
                      "apt-get download", cwd=self.debs)
            for r in wanted:  # apt names a file with an epoch "name_2%3a1.0_arm64.deb"; keep the archive's name
                for saved in self.debs.glob(f"{r['name']}_*_{self.arch}.deb"):
                    if saved.name != r["file"] and _matches(saved, r["sha256"]):
                        saved.replace(self.debs / r["file"])
        dest.mkdir(parents=True, exist_ok=True)
        for r in records:
            cached = self.debs / r["file"]
            if not _matches(cached, r["sha256"]):
                raise DebDownloadError(f"{cached.name}: downloaded file does not match the archive's sha256")
            shutil.copy(cached, dest / r["file"])
        return records


def _matches(path: Path, sha256: str) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256
