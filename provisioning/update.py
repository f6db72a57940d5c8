"""`stallpay provision update --bundle DIR`: a newer bundle onto a running terminal, with a way back.

  1. the bundle is checked against its manifest; a bundle that does not verify is refused, nothing touched
  2. it is installed into a new virtualenv under /opt/stallpay/releases/ (the running one stays as it is)
  3. the terminal service stops; the databases are copied aside; the new code migrates them (one transaction
     per database) and runs the self-test (no card, no paper) on them
  4. /opt/stallpay/venv, a symlink, is switched to the new release (atomically) and the services restart
If the migration, the self-test or the restart fails, the symlink points back at the old release, the
databases copied in step 3 are put back (no sale ran on the new release: it never became active) and the old
release is started again. A first update turns a plain /opt/stallpay/venv folder into the first release.
With `--root DIR` (a staging root) services are not touched and the self-test is not run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from provisioning.device import CONFIG_PATH, STATE, VENV
from provisioning.manifest import ManifestError, verify_bundle
from provisioning.target_root import TargetRoot
from provisioning.venv_install import install_commands

RELEASES = "/opt/stallpay/releases"
SERVICES = ("stallpay-terminal.service", "stallpay-kiosk.service")
DATABASES = ("journal.db", "catalogue.db", "operators.db", "settings.db", "printqueue.db", "face.db")


class UpdateError(Exception):
    pass


Command = Callable[[list[str]], subprocess.CompletedProcess]


def _command(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=1800)


@dataclass
class UpdateResult:
    release: str
    previous: str | None
    steps: list[str] = field(default_factory=list)


def release_name(manifest: dict) -> str:
    digest = hashlib.sha256("".join(f["sha256"] for f in manifest["files"]).encode()).hexdigest()[:12]
    return f"{manifest.get('version', 'unknown')}-{digest}"


def update_terminal(root: TargetRoot, bundle: Path, *, run: Command = _command,
                    progress: Callable[[str], None] = print, start_timeout_s: float = 60) -> UpdateResult:
    try:
        manifest = verify_bundle(bundle)
    except ManifestError as exc:
        raise UpdateError(f"refused: {exc}") from None
    current = root(VENV)
    releases = root(RELEASES)
    new = releases / release_name(manifest)
    previous = _adopt_current(current, releases)
    if previous is not None and previous.resolve() == new.resolve():
        return UpdateResult(new.name, previous.name, ["already installed"])
    result = UpdateResult(new.name, previous.name if previous else None)

    def step(text: str) -> None:
        result.steps.append(text)
        progress(text)

    step(f"installing the bundle into {RELEASES}/{new.name}")
    if new.exists():
        shutil.rmtree(new)
    _check(run, ["python3", "-m", "venv", "--system-site-packages", str(new)], "creating the virtualenv")
    for argv in install_commands(new / "bin" / "python", bundle):
        _check(run, argv, "installing the bundle")
    stallpay = str(new / "bin" / "stallpay")
    live = root.live
    data = root(STATE)
    backup = root(STATE) / f"update-backup-{time.strftime('%Y%m%d-%H%M%S')}"
    if live:
        step("stopping the terminal")
        _check(run, ["systemctl", "stop", *SERVICES], "stopping the services")
    _copy_databases(data, backup)
    try:
        step("migrating the databases")
        _check(run, [stallpay, "provision", "migrate", "--data", str(data)], "migrating")
        if live:
            step("self-test of the new release")
            _check(run, [stallpay, "selftest", "--config", CONFIG_PATH, "--no-card", "--no-print"], "self-test")
        step(f"switching {VENV} to {new.name}")
        _switch(current, new)
        if live:
            _check(run, ["systemctl", "start", *SERVICES], "starting the services")
            _wait_active(run, SERVICES[0], start_timeout_s)
    except UpdateError as exc:
        step(f"switching back to {previous.name if previous else 'nothing'}: {exc}")
        if previous is not None:
            _switch(current, previous)
        _restore_databases(backup, data)
        if live:
            run(["systemctl", "restart", *SERVICES])
        raise UpdateError(f"{exc}; switched back to the previous release, databases restored") from None
    step("updated")
    return result


def _adopt_current(current: Path, releases: Path) -> Path | None:
    """The release the symlink points at; a plain venv folder (first provisioning) becomes release 'initial'."""
    releases.mkdir(parents=True, exist_ok=True)
    if current.is_symlink():
        return current.resolve()
    if current.is_dir():
        first = releases / "initial"
        current.rename(first)
        current.symlink_to(first)
        return first
    return None


def _switch(link: Path, target: Path) -> None:
    tmp = link.with_name(link.name + ".new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)  # atomic: the unit's ExecStart sees the old or the new release, never neither


def _copy_databases(data: Path, backup: Path) -> None:
    backup.mkdir(parents=True, exist_ok=True)
    os.chmod(backup, 0o700)
    for name in DATABASES:
        for suffix in ("", "-wal", "-shm"):
            src = data / f"{name}{suffix}"
            if src.exists():
                shutil.copy2(src, backup / src.name)


def _restore_databases(backup: Path, data: Path) -> None:
    for name in DATABASES:
        for suffix in ("", "-wal", "-shm"):
            saved, live = backup / f"{name}{suffix}", data / f"{name}{suffix}"
            if saved.exists():
                shutil.copy2(saved, live)
            elif live.exists() and suffix:
                live.unlink()  # a WAL the migration left must not be replayed over the restored file


def _wait_active(run: Command, unit: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = run(["systemctl", "is-active", unit]).stdout.strip()
        if state == "active":
            return
        if state == "failed":
            break
        time.sleep(1)
    raise UpdateError(f"{unit} did not become active")


def _check(run: Command, argv: list[str], doing: str) -> None:
    done = run(argv)
    if done.returncode != 0:
        raise UpdateError(f"{doing} failed: {(done.stderr or done.stdout).strip()[-2000:]}")


def migrate_data(data: Path) -> dict[str, int]:
    """Open every terminal database in `data` with this release's schema; {file: version it had}."""
    import sqlite3

    from terminal.schema import DATABASES, migrate

    had = {}
    for name, schema in DATABASES.items():
        path = data / name
        if path.exists():
            conn = sqlite3.connect(path, isolation_level=None)
            try:
                had[name] = migrate(conn, schema, where=str(path))
            finally:
                conn.close()
    return had
