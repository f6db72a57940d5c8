"""Key files sealed to the board: keys.toml encrypted under a key derived from the board's device secret.

A stall's SD card is a minute's work to take out. Where the board has a device secret
(`terminal.device_secret`: the Raspberry Pi OTP private key, read with `rpi-otp-private-key`; or the simulated
board's `file:` secret), every key file the terminal writes is sealed with AES-256-GCM under
HKDF(device secret), so the card alone opens nothing; elsewhere the key file stays plain TOML, mode 0600, as
before. Reading opens either form, so a plain file from a USB stick or an older install keeps working and is
sealed the next time the terminal writes it. `stallpay selftest` says which (`describe`).

A sealed file is one line of text: the marker, then hex of nonce || ciphertext. The associated data binds it
to its purpose, so another sealed blob of the same board cannot stand in for the key file.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from terminal.device_secret import DeviceSecretError, device_secret

MARKER = "stallpay-sealed-keys-v1:"
LABEL = b"stallpay key file at rest v1"


class KeyFileSealError(Exception):
    """A sealed key file that this board cannot open (another board, no device secret, or altered)."""


def _key(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=LABEL, info=b"keys.toml").derive(secret)


def _secret() -> bytes:
    try:
        return device_secret().read()
    except DeviceSecretError:
        return b""


def is_sealed(text: str) -> bool:
    return text.startswith(MARKER)


def seal_text(text: str, secret: bytes | None = None) -> str:
    """`text` sealed to this board, or unchanged when the board has no device secret."""
    secret = _secret() if secret is None else secret
    if not secret:
        return text
    nonce = os.urandom(12)
    return MARKER + (nonce + AESGCM(_key(secret)).encrypt(nonce, text.encode(), LABEL)).hex() + "\n"


def open_text(text: str, secret: bytes | None = None) -> str:
    """The TOML of a key file, sealed or plain."""
    if not is_sealed(text):
        return text
    secret = _secret() if secret is None else secret
    if not secret:
        raise KeyFileSealError("the key file is sealed to a board, and this one has no device secret "
                               "(set STALLPAY_DEVICE_SECRET, or pair the terminal again)")
    try:
        raw = bytes.fromhex(text[len(MARKER):].strip())
        return AESGCM(_key(secret)).decrypt(raw[:12], raw[12:], LABEL).decode()
    except (ValueError, InvalidTag, UnicodeDecodeError):
        raise KeyFileSealError("the key file is sealed to another board (or altered): pair this terminal "
                               "again") from None


def read_key_text(path: Path | str) -> str:
    return open_text(Path(path).read_text(encoding="utf-8"))


def describe(path: Path | str) -> str:
    """For the self-test: whether the key file at `path` is sealed, and to what."""
    try:
        sealed = is_sealed(Path(path).read_text(encoding="utf-8"))
    except OSError:
        sealed = False
    backend = os.environ.get("STALLPAY_DEVICE_SECRET", "auto").strip() or "auto"
    if sealed:
        name = "rpi-otp" if backend in ("auto", "rpi-otp") else backend.split(":", 1)[0]
        return f"keys sealed to board ({name})"
    if _secret():
        return "keys in 0600 file, not yet sealed (sealed at the next key change or pairing)"
    return "keys in 0600 file, board cannot seal"
