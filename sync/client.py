"""Terminal side: upload batches to the collector and fetch the bundle, with retries and back-off.

Each accepted batch returns how far the collector holds the journal, so an
upload cut off half-way resumes from there; re-sending a batch is harmless.
A terminal that never reaches the collector keeps everything.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sync.auth import request_message
from sync.batch import encode
from sync.bundle import BundleError, apply_bundle_bytes
from sync.export import BATCH_SIZE, batches
from sync.terminal_side import TerminalSync


class SyncFailed(Exception):
    """The collector could not be reached or refused; the message says which."""


class CollectorClient:
    def __init__(self, url: str, terminal: TerminalSync, *, http: httpx.Client | None = None, attempts: int = 5,
                 backoff_s: float = 0.5, max_backoff_s: float = 60.0, sleep: Callable[[float], None] = time.sleep,
                 verify_tls: bool | str = True, batch_size: int = BATCH_SIZE) -> None:
        self.url = url.rstrip("/")
        self.t = terminal
        self.http = http or httpx.Client(base_url=self.url, timeout=30, verify=verify_tls)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep
        self.offset = timedelta(0)
        self.batch_size = batch_size

    # --- transport --------------------------------------------------------------

    def _send(self, method: str, path: str, body: bytes = b"", *, signed: bool = True,
              content_type: str = "application/octet-stream") -> httpx.Response:
        delay = self.backoff_s
        last: Exception | None = None
        for attempt in range(self.attempts):
            headers = {"content-type": content_type}
            if signed:
                ts = (datetime.now(UTC) + self.offset).isoformat()
                headers.update({"x-terminal-id": str(self.t.config.terminal.id), "x-timestamp": ts,
                                "x-signature": self.t.key.sign(request_message(method, path, ts, body)).hex()})
            try:
                resp = self.http.request(method, path, content=body, headers=headers)
            except httpx.TransportError as exc:
                last = exc
            else:
                if resp.status_code < 500:
                    return resp
                last = SyncFailed(f"collector error {resp.status_code}")
            if attempt + 1 < self.attempts:
                self.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.max_backoff_s)
        raise SyncFailed(f"collector unreachable after {self.attempts} attempts: {last}")

    @staticmethod
    def _detail(resp: httpx.Response) -> str:
        try:
            return str(resp.json().get("detail"))
        except (ValueError, AttributeError):
            return resp.text[:200]

    # --- steps ------------------------------------------------------------------

    def sync_clock(self) -> None:
        resp = self._send("GET", "/api/v1/time", signed=False)
        collector = datetime.fromisoformat(resp.json()["time"].replace("Z", "+00:00"))
        self.offset = collector - datetime.now(UTC)
        self.t.state.set("clock_offset_ms", int(self.offset.total_seconds() * 1000))

    def pair(self, code: str) -> dict[str, Any]:
        resp = self._send("POST", "/api/v1/pair", json.dumps(self.t.pairing_request(code)).encode(), signed=False,
                          content_type="application/json")
        if resp.status_code != 200:
            raise SyncFailed(f"pairing refused: {self._detail(resp)}")
        return resp.json()

    def upload(self) -> dict[str, Any]:
        """Send every batch after the acknowledged sequence; stop at the first refusal."""
        sent = 0
        status = {**self.t.status(), "online": True, "time": (datetime.now(UTC) + self.offset).isoformat()}
        for batch in batches(self.t.journal, self.t.key, after=self.t.state.acked_seq, status=status,
                             batch_size=self.batch_size):
            resp = self._send("POST", "/api/v1/batches", encode(batch))
            if resp.status_code != 200:
                raise SyncFailed(f"batch {batch.first_seq}..{batch.last_seq} refused: {self._detail(resp)}")
            self.t.state.acknowledge(self.t.journal, int(resp.json()["acked_seq"]), self.t.policy)
            sent += 1
        return {"batches": sent, "acked_seq": self.t.state.acked_seq}

    def fetch_bundle(self) -> dict[str, Any]:
        resp = self._send("GET", "/api/v1/bundle")
        if resp.status_code != 200:
            raise SyncFailed(f"bundle refused: {self._detail(resp)}")
        try:
            return apply_bundle_bytes(self.t, resp.content)
        except BundleError as exc:
            raise SyncFailed(f"bundle rejected: {exc}") from None

    def sync_once(self) -> dict[str, Any]:
        self.sync_clock()
        up = self.upload()
        return {**up, "bundle": self.fetch_bundle()}

    def run(self, stop: threading.Event, *, interval_s: float = 30.0) -> None:
        """Background loop: sync whenever the collector is reachable, back off while it is not."""
        delay = interval_s
        while not stop.is_set():
            try:
                self.sync_once()
                delay = interval_s
            except SyncFailed:
                delay = min(delay * 2, self.max_backoff_s * 10)
            stop.wait(delay)
