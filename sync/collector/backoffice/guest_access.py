"""How a guest proves a band is theirs in the portal: the printed card id and a secret printed with it.

The secret is an HMAC of the card id under a portal key kept in the collector's database, so nothing
per card has to be stored and the back office can print it again. Wrong guesses are rate-limited per
client and per card; the portal's cookie names one card and is signed with the same key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

from sync.collector.event import get_meta
from sync.collector.storage import Store

SECRET_LENGTH = 8
COOKIE_LIFETIME_S = 3600


def _portal_key(store: Store) -> bytes:
    key = get_meta(store, "portal_key")
    if key is None:
        store.execute("INSERT INTO meta (key, value) VALUES ('portal_key', ?) ON CONFLICT (key) DO NOTHING",
                      [secrets.token_hex(32)])
        key = get_meta(store, "portal_key") or ""
    return bytes.fromhex(key)


def card_secret(store: Store, card_id: int) -> str:
    """The secret printed on the band or receipt, as XXXX-XXXX (no 0/O or 1/I confusion: base32)."""
    digest = hmac.new(_portal_key(store), f"card-secret|{card_id}".encode(), hashlib.sha256).digest()
    text = base64.b32encode(digest).decode()[:SECRET_LENGTH]
    return f"{text[:4]}-{text[4:]}"


def secret_matches(store: Store, card_id: int, typed: str) -> bool:
    clean = typed.strip().upper().replace(" ", "").replace("-", "")
    clean = clean.replace("0", "O").replace("1", "I").replace("8", "B")  # base32 has no 0, 1 or 8
    return hmac.compare_digest(clean.encode(), card_secret(store, card_id).replace("-", "").encode())


def guest_cookie(store: Store, card_id: int, now: float | None = None) -> str:
    expires = int((now or time.time()) + COOKIE_LIFETIME_S)
    body = f"{card_id}.{expires}"
    sig = hmac.new(_portal_key(store), f"portal-cookie|{body}".encode(), hashlib.sha256).hexdigest()
    return f"{body}.{sig}"


def cookie_card(store: Store, cookie: str | None, now: float | None = None) -> int | None:
    try:
        card, expires, sig = (cookie or "").split(".")
        body = f"{int(card)}.{int(expires)}"
    except ValueError:
        return None
    good = hmac.new(_portal_key(store), f"portal-cookie|{body}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(good.encode(), sig.encode()) or int(expires) < (now or time.time()):
        return None
    return int(card)


class RateLimiter:
    """At most `limit` attempts per key in a sliding window (kept in memory: one collector process)."""

    def __init__(self, limit: int = 10, window_s: float = 600) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                hits = self._hits[key]
                while hits and hits[0] < now - self.window_s:
                    hits.popleft()
                if len(hits) >= self.limit:
                    return False
            for key in keys:
                self._hits[key].append(now)
            return True
