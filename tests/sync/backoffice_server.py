"""A real `stallpay collector serve` on PostgreSQL holding a `stallpay sim` event, for the back-office tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from sync.sim import _seeded
from terminal.config import new_keys_text, write_secret_file

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


def wait_ready(url: str, proc: subprocess.Popen, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"collector exited early:\n{proc.stderr.read() if proc.stderr else ''}")
            try:
                if http.get(f"{url}/api/v1/time").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling interval, bounded by the deadline
    raise AssertionError(f"collector not ready within {deadline_s} s")


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
    proc = subprocess.Popen([stallpay(), "collector", "serve", "--db", dsn, "--keys", str(keys), "--host",
                             "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wait_ready(url, proc)
    return Collector(url, dsn, keys, master, proc)


def office_login(url: str, username: str, password: str = PASSWORD) -> httpx.Client:
    """An HTTP client logged in to the back office (as a script would be, through the login form)."""
    http = httpx.Client(base_url=url, timeout=10, follow_redirects=False)
    page = http.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    answer = http.post("/login", data={"csrf": token.group(1), "username": username, "password": password})
    assert answer.status_code == 303, answer.text
    return http


def csrf_of(http: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', http.get("/cards").text)
    assert found
    return found.group(1)
