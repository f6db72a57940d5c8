"""The collector's own key file, next to its database, and what is sealed under it.

Whoever can read the collector's database must not learn a pairing code's key (enough to ask for the event's
keys) or the bundle-signing seed (enough to sign bundles terminals trust). Both are kept in the database only
sealed (AES-256-GCM) under a 32-byte key in a 0600 file: `<database>.key` for SQLite; for PostgreSQL the file
named by `STALLPAY_COLLECTOR_KEY_FILE` (default `~/.config/stallpay/collector.key`). Back it up with the
database: without it, open pairing codes and the bundle key cannot be opened (pair again, re-pair terminals).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync.collector.storage import Store
from sync.format.private_files import write_private

KEY_ENV = "STALLPAY_COLLECTOR_KEY_FILE"
PREFIX = "sealed1:"


class SealingError(Exception):
    """The collector's key file is missing, malformed or not the one these values were sealed with."""


def key_file(store: Store) -> Path:
    path = getattr(store, "path", None)
    if store.dialect == "sqlite" and path and path != ":memory:":
        return Path(f"{path}.key")
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV])
    return Path.home() / ".config" / "stallpay" / "collector.key"


def collector_secret(store: Store) -> bytes:
    """The 32-byte key of the key file, made (0600) on first use."""
    cached = getattr(store, "_sealing_key", None)
    if cached is not None:
        return cached
    path = key_file(store)
    if not path.exists():
        write_private(path, secrets.token_bytes(32).hex().encode() + b"\n")
    if path.stat().st_mode & 0o077:
        raise SealingError(f"{path}: the collector key file is readable by others; run 'chmod 600 {path}'")
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SealingError(f"{path}: not a collector key file (64 hex digits expected)")
    store._sealing_key = key  # type: ignore[attr-defined]
    return key


def seal(store: Store, purpose: str, value: bytes) -> str:
    nonce = secrets.token_bytes(12)
    box = AESGCM(collector_secret(store)).encrypt(nonce, value, purpose.encode())
    return PREFIX + (nonce + box).hex()


def unseal(store: Store, purpose: str, text: str) -> bytes:
    if not text.startswith(PREFIX):
        raise SealingError(f"{purpose}: not a sealed value")
    raw = bytes.fromhex(text[len(PREFIX):])
    try:
        return AESGCM(collector_secret(store)).decrypt(raw[:12], raw[12:], purpose.encode())
    except InvalidTag:
        raise SealingError(f"{purpose}: does not open with {key_file(store)} (another collector's key file?)") \
            from None


def fingerprint(store: Store) -> str:
    """A short name of the key file's key, for `collector init` to print (never the key)."""
    return hashlib.sha256(b"stallpay collector key" + collector_secret(store)).hexdigest()[:12]
