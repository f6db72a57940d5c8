"""Fixtures shared across the suite.

`pcscd` makes sure the real PC/SC daemon runs with the vsmartcard vpcd driver, so NFC tests go through
pyscard -> pcscd -> vpcd exactly like the demo and a Pi with an ACR122U. It reuses a pcscd that already answers
(a developer's system daemon) and otherwise starts `pcscd --foreground` itself and stops it at the end. Nothing is
skipped: if pcscd cannot run here, the tests that need it fail and say why.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from terminal.nfc.vpcd import VpcdBridge

VPCD_PORT = 35963  # CHANNELID 0x8C7B in /etc/reader.conf.d/vpcd; slot 1 listens on VPCD_PORT + 1
VPCD_CONFIG = Path("/etc/reader.conf.d/vpcd")
PCSCD_PIDFILE = Path("/run/pcscd/pcscd.pid")
STARTUP_DEADLINE = 15.0
PCSC_SESSION_LOCK = Path(tempfile.gettempdir()) / "stallpay-pcscd-tests.lock"


def _vpcd_reader(port: int = VPCD_PORT) -> str:
    return f"Virtual PCD 00 {port - VPCD_PORT:02d}"


def _listening(port: int) -> bool:
    """Whether something listens on TCP `port`, read from /proc so no connection is made (a connection to vpcd
    would look like a card being inserted)."""
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[1].endswith(wanted) and fields[3] == "0A":  # 0A = LISTEN
                    return True
    return False


def _list_readers() -> list[str] | None:
    """Readers pcscd lists, or None when pcscd does not answer."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return None
    try:
        hresult, names = scard.SCardListReaders(context, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        return list(names) if hresult == scard.SCARD_S_SUCCESS else None
    finally:
        scard.SCardReleaseContext(context)


def _wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait for a process that is not our child to end (pidfd: woken by the kernel, no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


class Pcscd:
    """The pcscd the tests use. `kill()` and `start()` let a test take it away and bring it back, which is what
    unplugging and replugging a reader (or systemd restarting pcscd) looks like to the terminal."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.log: deque[str] = deque(maxlen=200)
        self._ready = threading.Event()
        self.external_killed = False  # we stopped a pcscd we had not started: start one again at the end

    @property
    def reader_name(self) -> str:
        return _vpcd_reader()

    def answering(self) -> bool:
        readers = _list_readers()
        return readers is not None and self.reader_name in readers

    def ensure(self) -> None:
        """Reuse a pcscd that answers with the vpcd reader, else start one. Fails with the reason otherwise."""
        readers = _list_readers()
        if readers is not None:
            if self.reader_name in readers and _listening(VPCD_PORT):
                return
            pytest.fail(
                f"pcscd is running but has no {self.reader_name!r} listening on port {VPCD_PORT} (it lists "
                f"{readers}); install vsmartcard-vpcd (scripts/setup.sh) and restart pcscd"
            )
        self.start()

    def start(self, attempts: int = 3) -> None:
        """Start pcscd with the vpcd reader. A start that dies or whose vpcd never listens is tried again (after a
        SIGKILL the old daemon's leftovers or its port can still be in the way for a moment); the last failure
        fails the test with pcscd's output."""
        binary = shutil.which("pcscd") or ("/usr/sbin/pcscd" if os.path.exists("/usr/sbin/pcscd") else None)
        if binary is None:
            pytest.fail("pcscd is not installed: run scripts/setup.sh (Debian packages pcscd, vsmartcard-vpcd)")
        if not VPCD_CONFIG.exists():
            pytest.fail(f"{VPCD_CONFIG} is missing: install vsmartcard-vpcd (scripts/setup.sh)")
        if os.geteuid() != 0:
            pytest.fail("pcscd is not running and starting it needs root (run the tests as root, or start pcscd)")
        for attempt in range(1, attempts + 1):
            reason = self._start_once(binary)
            if reason is None:
                return
            if attempt == attempts:
                self._fail_start(reason)
            self._stop_failed_start()

    def _start_once(self, binary: str) -> str | None:
        """One start; None when pcscd lists the vpcd reader, else why not (the process is left for the caller)."""
        self._ready.clear()
        self.log.clear()
        # --foreground logs to stdout; --info is the level that announces "daemon ready", which is what we await.
        self.process = subprocess.Popen(
            [binary, "--foreground", "--info"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._drain, args=(self.process,), name="pcscd-log", daemon=True).start()
        if not self._ready.wait(STARTUP_DEADLINE) or self.process.poll() is not None:
            return f"pcscd did not report 'daemon ready' within {STARTUP_DEADLINE:g} s"
        # pcscd logs "daemon ready" a few milliseconds before vpcd listens and before it creates
        # /run/pcscd/pcscd.comm, and nothing marks those moments: ask, with short pauses, until the deadline.
        end = time.monotonic() + STARTUP_DEADLINE
        while not _listening(VPCD_PORT):
            if time.monotonic() > end or self.process.poll() is not None:
                return f"pcscd is up but vpcd does not listen on port {VPCD_PORT}"
            time.sleep(0.01)
        while (readers := _list_readers()) is None or self.reader_name not in readers:
            if time.monotonic() > end or self.process.poll() is not None:
                return f"pcscd said it is ready but lists {readers}, not {self.reader_name!r}"
            time.sleep(0.01)
        return None

    def _stop_failed_start(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        for leftover in (PCSCD_PIDFILE, PCSCD_PIDFILE.with_name("pcscd.comm")):
            leftover.unlink(missing_ok=True)
        time.sleep(0.5)  # let the kernel release vpcd's port before the next try

    def _fail_start(self, reason: str) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        tail = "\n".join(self.log)
        pytest.fail(f"{reason}; pcscd output:\n{tail}")

    def _drain(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.log.append(line.rstrip())
            if "daemon ready" in line:
                self._ready.set()
        self._ready.set()  # exited: wake start() so it reports the log instead of waiting out the deadline

    def kill(self) -> None:
        """SIGKILL pcscd (ours or the system's) and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
            return
        try:
            pid = int(PCSCD_PIDFILE.read_text().strip("\x00\n "))
        except (OSError, ValueError):
            pytest.fail(f"pcscd runs but was not started by the tests and {PCSCD_PIDFILE} does not name it")
        os.kill(pid, signal.SIGKILL)
        if not _wait_for_exit(pid, 10):
            pytest.fail(f"pcscd (pid {pid}) did not exit after SIGKILL")
        self.external_killed = True
        # Where nobody reaps the daemon (a container whose init does not), it lingers as a zombie and a new pcscd
        # takes the pid file for "another pcscd is running". It is dead: clear what SIGKILL left behind.
        for leftover in (PCSCD_PIDFILE, PCSCD_PIDFILE.with_name("pcscd.comm")):
            leftover.unlink(missing_ok=True)

    def restart(self) -> None:
        """Start pcscd again after `kill()` (a socket-activated system pcscd may already be back: reuse it)."""
        if not self.answering():
            self.start()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            if self.external_killed:
                subprocess.run(["pcscd"], check=False)  # give the machine its daemon back


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    """pcscd with vpcd for this session. Sessions on one machine take turns (a lock file): they share the vpcd
    ports, and one of them kills pcscd on purpose."""
    with open(PCSC_SESSION_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another pytest session uses pcscd
        daemon = Pcscd()
        daemon.ensure()
        try:
            yield daemon
        finally:
            daemon.close()


@pytest.fixture
def vpcd_card(pcscd: Pcscd) -> Iterator[VpcdBridge]:
    """A started vpcd bridge on "Virtual PCD 00 00": `vpcd_card.insert(card)`, `.remove()`, `.reader_name`.

    At the end the card is taken out and the fixture waits (SCardGetStatusChange) until pcscd has seen the slot
    empty, so the next test starts with no card rather than inheriting this one.
    """
    from terminal.nfc.vpcd import VpcdBridge

    bridge = VpcdBridge(port=VPCD_PORT).start()
    try:
        yield bridge
    finally:
        bridge.stop()
        _await_empty(bridge.reader_name, deadline=3.0)


def _await_empty(reader: str, deadline: float) -> None:
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return  # pcscd is down (a test killed it); nothing to wait for
    try:
        end = time.monotonic() + deadline
        state = scard.SCARD_STATE_UNAWARE
        while (left := end - time.monotonic()) > 0:
            hresult, states = scard.SCardGetStatusChange(context, int(left * 1000), [(reader, state)])
            if hresult != scard.SCARD_S_SUCCESS:
                return
            state = states[0][1]
            if state & scard.SCARD_STATE_EMPTY:
                return
    finally:
        scard.SCardReleaseContext(context)
