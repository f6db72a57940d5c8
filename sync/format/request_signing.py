"""The bytes a terminal signs for each request to the collector (and the collector verifies): method, path,
timestamp and the body's hash, one per line."""

from __future__ import annotations

import hashlib


def request_message(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, hashlib.sha256(body).hexdigest()]).encode()
