"""Pairing by code over plain HTTP: the event keys reach the terminal, and nobody else, with a one-time code.

The technician types the code shown by the organizer (12 characters, about 60
bits). Both sides stretch it with scrypt into the *code key* (the collector keeps
only that, next to the code's hash). Then:

1. terminal -> collector: its Ed25519 public key, a fresh X25519 public key, its
   id and event, and an HMAC over all of it keyed by the code key. Without the
   code nobody can make or alter this request (a stolen request cannot be
   re-targeted to another X25519 key).
2. collector: finds the open code whose key verifies the HMAC (the code is then
   used up), enrolls the terminal, and answers with its own X25519 public key and
   the payload (event master key, collector bundle key, role, first bundle) sealed
   with AES-256-GCM under HKDF(X25519 shared secret, salt = code key, info =
   transcript). A passive listener lacks the X25519 secrets; an active one that
   swaps the collector's key lacks the code key, so the terminal's GCM check fails.

A wrong code, a code used before or expired, a tampered request: refused with the
reason. The code is single-use; a terminal whose first answer was lost may repeat
the same request with the same key until the code expires.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LABEL = b"stallpay pairing v1"
REQUEST_FIELDS = ("event_id", "terminal_id", "public_key", "ephemeral_key", "name")


class PairingFailed(Exception):
    """The exchange cannot complete; the message says why."""


def normalize_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def code_key(code: str, event_id: str) -> bytes:
    """The code stretched with scrypt (so a recorded request does not give the code away cheaply)."""
    return hashlib.scrypt(normalize_code(code).encode(), salt=b"stallpay pairing code|" + event_id.encode(),
                          n=2**14, r=8, p=1, dklen=32)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_body(req: dict[str, Any]) -> dict[str, Any]:
    """The MAC'd fields; `mode` (the role an `auto` code grants) only when the terminal sent it; `face_key`, the
    terminal's X25519 box key, so templates can be sealed for it alone (sync.format.face_keys)."""
    body = {k: req[k] for k in (*REQUEST_FIELDS, "mode") if k in REQUEST_FIELDS or k in req}
    return {**body, "face_key": str(req.get("face_key") or "")}


def request_mac(key: bytes, req: dict[str, Any]) -> str:
    return hmac.new(key, LABEL + _canonical(request_body(req)), hashlib.sha256).hexdigest()


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def make_request(code: str, *, event_id: str, terminal_id: int, public_key: str, name: str = "",
                 mode: str = "sale", face_key: str = "") -> tuple[dict[str, Any], X25519PrivateKey, bytes]:
    """(request to send, ephemeral X25519 secret, code key): keep the last two to open the answer."""
    ephemeral = X25519PrivateKey.generate()
    req: dict[str, Any] = {"event_id": event_id, "terminal_id": terminal_id, "public_key": public_key,
                           "ephemeral_key": _raw(ephemeral.public_key()).hex(), "name": name, "mode": mode,
                           "face_key": face_key}
    key = code_key(code, event_id)
    req["mac"] = request_mac(key, req)
    return req, ephemeral, key


def mac_matches(key: bytes, req: dict[str, Any]) -> bool:
    return hmac.compare_digest(request_mac(key, req), str(req.get("mac", "")))


def _session_key(shared: bytes, key: bytes, req: dict[str, Any], collector_public: bytes) -> tuple[bytes, bytes]:
    transcript = hashlib.sha256(LABEL + _canonical(request_body(req)) + collector_public).digest()
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=key, info=LABEL + transcript).derive(shared)
    return k, transcript


def seal_response(key: bytes, req: dict[str, Any], payload: dict[str, Any]) -> dict[str, str]:
    """Collector side, after `mac_matches`: the payload sealed for the terminal that knows the code."""
    try:
        terminal_public = X25519PublicKey.from_public_bytes(bytes.fromhex(req["ephemeral_key"]))
    except (ValueError, KeyError, TypeError):
        raise PairingFailed("ephemeral key must be 32 bytes of X25519 public key (hex)") from None
    mine = X25519PrivateKey.generate()
    mine_public = _raw(mine.public_key())
    session, transcript = _session_key(mine.exchange(terminal_public), key, req, mine_public)
    nonce = os.urandom(12)
    sealed = AESGCM(session).encrypt(nonce, _canonical(payload), transcript)
    return {"collector_ephemeral": mine_public.hex(), "nonce": nonce.hex(), "sealed": sealed.hex()}


def open_response(key: bytes, ephemeral: X25519PrivateKey, req: dict[str, Any], resp: dict[str, Any]) -> dict:
    """Terminal side: the payload, or PairingFailed when the answer was not sealed by a holder of the code."""
    try:
        collector_public = bytes.fromhex(resp["collector_ephemeral"])
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(collector_public))
        session, transcript = _session_key(shared, key, req, collector_public)
        plain = AESGCM(session).decrypt(bytes.fromhex(resp["nonce"]), bytes.fromhex(resp["sealed"]), transcript)
        payload = json.loads(plain)
    except (KeyError, TypeError, ValueError, InvalidTag):
        raise PairingFailed("the collector's answer does not open with this pairing code "
                            "(wrong collector, or someone in between): nothing installed") from None
    if not isinstance(payload, dict):
        raise PairingFailed("the collector's answer is not a pairing payload")
    return payload
