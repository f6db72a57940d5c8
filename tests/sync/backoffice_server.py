"""A real `stallpay collector serve` on PostgreSQL holding a `stallpay sim` event, for the back-office tests."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sync.sim.simulation import _seeded
from terminal.config import new_keys_text, write_secret_file
from tests.sync.test_serve import _wait_ready

SIM_SEED = 7
SIM_EVENT = "sim-event"
PASSWORD = "correct horse 1"
ROLES = ("admin", "finance", "support", "readonly")


@dataclass
class Collector:
    url: str
    dsn: str
    keys: Path
    master_key: bytes
    proc: subprocess.Popen


def stallpay() -> str:
    return str(Path(sys.executable).with_name("stallpay"))


def start_collector(dsn: str, tmp: Path, port: int) -> Collector:
    """Simulate an event into `dsn`, add one account per role, and start `collector serve` on it."""
    subprocess.run([stallpay(), "sim", "--terminals", "4", "--cards", "30", "--sales", "250", "--seed",
                    str(SIM_SEED), "--refund-rate", "0.1", "--out", str(tmp / "sim"), "--db", dsn],
                   check=True, capture_output=True, timeout=240)
    for role in ROLES:
        subprocess.run([stallpay(), "collector", "user", "--db", dsn, "--username", role, "--role", role,
                        "--password-stdin"], input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    master = _seeded(SIM_SEED, "master", 16)
    keys = tmp / "collector-keys.toml"
    write_secret_file(keys, new_keys_text(SIM_EVENT, master))
    url = f"http://127.0.0.1:{port}"
    # the log goes to a file: an unread pipe fills up and stops a long-running server that logs
    with open(tmp / "collector.log", "w") as log:
        proc = subprocess.Popen([stallpay(), "collector", "serve", "--db", dsn, "--keys", str(keys), "--host",
                                 "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=log,
                                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _wait_ready(url, proc)
    return Collector(url, dsn, keys, master, proc)
