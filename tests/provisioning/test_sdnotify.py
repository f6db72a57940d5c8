"""The terminal tells systemd it is ready, and keeps the watchdog fed only while its card loop lives."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from terminal.sdnotify import Watchdog, notify, watchdog_interval


def _listener(tmp_path: Path) -> tuple[socket.socket, dict[str, str]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    return sock, {"NOTIFY_SOCKET": str(path)}


def test_ready_reaches_the_socket(tmp_path: Path) -> None:
    sock, env = _listener(tmp_path)
    with sock:
        assert notify("READY=1", env=env)
        assert sock.recv(100) == b"READY=1"


def test_no_systemd_is_a_quiet_no_op(tmp_path: Path) -> None:
    assert notify("READY=1", env={}) is False
    assert notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False


def test_watchdog_interval_is_half_the_period_for_this_process() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None


def test_watchdog_pings_only_while_healthy(tmp_path: Path) -> None:
    sock, env = _listener(tmp_path)
    checks = threading.Semaphore(0)
    state = {"healthy": True}

    def healthy() -> bool:
        checks.release()
        return state["healthy"]

    dog = Watchdog(healthy, interval=0.005, env=env).start()
    with sock:
        assert sock.recv(100) == b"WATCHDOG=1"  # blocks until the first ping
        state["healthy"] = False
        for _ in range(3):  # let the loop see the card loop as dead a few times
            assert checks.acquire(timeout=5)
        pings = dog.pings
        for _ in range(5):
            assert checks.acquire(timeout=5)
        dog.stop()
        assert dog.pings == pings
