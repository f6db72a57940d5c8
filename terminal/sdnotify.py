"""systemd's notify protocol: READY=1 at start, WATCHDOG=1 while the terminal is healthy.

The unit is Type=notify with WatchdogSec, so systemd restarts a terminal whose
card loop died or hung, not only one whose process exited. The protocol is one
datagram to $NOTIFY_SOCKET; off systemd (tests, a laptop) every call is a no-op.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable


def notify(message: str, *, env: dict[str, str] | None = None) -> bool:
    """Send `message` to systemd; False when not run by systemd or the socket is gone."""
    address = (env if env is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
        return True
    except OSError:
        return False


def watchdog_interval(env: dict[str, str] | None = None) -> float | None:
    """Half of WatchdogSec in seconds, when this process is the one systemd watches."""
    env = env if env is not None else os.environ
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None


class Watchdog:
    """Pings systemd every half watchdog period while `healthy()` holds; stops pinging when it does not."""

    def __init__(self, healthy: Callable[[], bool], *, interval: float | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.healthy = healthy
        self.env = env
        self.interval = interval if interval is not None else watchdog_interval(env)
        self.pings = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Watchdog:
        if self.interval:
            self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            if self.healthy() and notify("WATCHDOG=1", env=self.env):
                self.pings += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
