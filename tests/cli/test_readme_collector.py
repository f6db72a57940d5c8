"""The README's collector lines, pasted one by one into one shell after a demo sale, balance the books.

A newcomer follows the README: start the demo, sell something, pair the terminal with a new collector, move the
journal by USB and by HTTP, read the summary. This test feeds exactly those lines to one bash process, as a
person pasting them would (only the two port numbers are swapped for free ones), and drives the sale through the
demo's own HTTP API in between.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
MARK = "__STALLPAY_RC__"


def recipe_lines() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- collector-recipe:start -->\n```sh\n(.*?)```\n<!-- collector-recipe:end -->", text, re.S)
    assert block, "README lost its collector recipe markers"
    return [line for line in block.group(1).splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Shell:
    """One bash process fed line by line, like a terminal a person pastes into."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(["bash", "--norc", "--noprofile"], cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def run(self, line: str, timeout: float = 120) -> tuple[int, str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{line}\nprintf '\\n{MARK}%s\\n' \"$?\"\n")
        self.proc.stdin.flush()
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            got = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if got.startswith(MARK):
                return int(got[len(MARK):]), "".join(out).strip()
            out.append(got)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout} s")
        time.sleep(0.2)  # polling a server that is starting; nothing to await


def sell_at_demo(base: str, sku: str, card: str, request_id: str) -> int:
    with httpx.Client(base_url=base, timeout=30) as c:
        assert c.post("/api/login", json={"operator": "1", "pin": "1111"}).status_code == 200
        assert c.post("/api/cart/add", json={"sku": sku}).status_code == 200
        assert c.post("/api/charge", json={"request_id": request_id}).json() == {"started": True}
        assert c.post("/sim/api/tap", json={"card": card, "tear": None}).json()["handled"]
        flow = c.get("/api/state").json()["flow"]
        assert flow["phase"] == "approved", flow
        c.post("/api/logout")
        return int(flow["result"]["amount"])


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    sh = Shell(tmp_path)
    yield sh
    sh.close()


def test_readme_collector_lines_balance_the_books(shell: Shell, tmp_path: Path) -> None:
    demo_port, collector_port = _free_port(), _free_port()
    lines = [line.replace("8080", str(demo_port)).replace("8750", str(collector_port)) for line in recipe_lines()]
    assert lines[0].startswith(".venv/bin/stallpay demo") and lines[0].rstrip().endswith("&")
    summaries: list[dict] = []
    spent = 0
    for line in lines:
        code, out = shell.run(line)
        assert code == 0, f"{line}\n-> exit {code}\n{out}"
        if line.startswith(".venv/bin/stallpay demo"):
            wait_http(f"http://127.0.0.1:{demo_port}/api/health")
            spent += sell_at_demo(f"http://127.0.0.1:{demo_port}", "BEER", "alice", "readme-1")
            spent += sell_at_demo(f"http://127.0.0.1:{demo_port}", "WATER", "bob", "readme-2")
        elif "collector serve" in line:
            wait_http(f"http://127.0.0.1:{collector_port}/api/v1/time")
        elif "report summary" in line:
            summaries.append(json.loads(out))
        elif "collector ingest" in line:
            assert json.loads(out.splitlines()[-1])["paired"] == 1
    assert len(summaries) == 2
    for summary in summaries:
        assert summary["books_balance"] is True and summary["anomalies"] == {}
        assert summary["spent"] == spent == 450 + 200 and summary["terminals"] == 1
        assert summary["deposited"] - summary["spent"] - summary["refunded"] == summary["outstanding"]
    assert (tmp_path / "event" / "books.db").is_file()
