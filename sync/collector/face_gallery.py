"""Templates at the collector: sealed at rest under a collector-only key, resealed per receiving terminal.

An uploaded template arrives sealed with the event's transport key (which every
terminal holds); the collector opens it once, checks it, and keeps it sealed
under its *at-rest key* (from a seed in its own database that no terminal ever
receives). Bundles carry a template only to a terminal whose role takes face
payments (`FACE_ROLES`) and that registered a box key at pairing, sealed for
that terminal alone (`sync.format.face_keys.box_key`); every other terminal gets the
erasures only. The phone digits are kept here only as a slow keyed hash with a
per-account salt (`phone_digest`).

After an erasure the database is scrubbed (`scrub`): SQLite runs with
secure_delete and its WAL is truncated; PostgreSQL rows are deleted and the
tables rewritten (VACUUM FULL), so no old row version keeps the sealed template.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sync.collector.event import meta_seed
from sync.collector.storage import Store
from sync.format.face_keys import (
    SealError,
    band_digest,
    box_key,
    box_private,
    box_public,
    open_template,
    seal_template,
    transport_key,
)

FACE_ROLES = ("sale", "cashier")  # roles that take face payments (cashier: duplicate check at enrollment too)
SCRUB_TABLES = ("gallery_changes", "face_accounts", "face_erasure_confirmations")
AT_REST_LABEL = b"stallpay collector gallery at rest v1"
PHONE_LABEL = b"stallpay collector phone digest v1"


def _seed(store: Store) -> bytes:
    return meta_seed(store, "collector_face_seed")


def _derive(store: Store, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=label, info=b"collector").derive(_seed(store))


def collector_box(store: Store) -> X25519PrivateKey:
    return box_private(_derive(store, b"stallpay collector box v1"))


def collector_box_public(store: Store) -> str:
    return box_public(collector_box(store))


def seal_at_rest(store: Store, event_id: str, account_id: str, opened: dict[str, Any]) -> str:
    """The opened template (as `open_template` gives it) sealed under the collector's at-rest key: the phone
    digits only as a flag (their slow keyed hash is on the account row), the wristband UID hashed."""
    return seal_template(_derive(store, AT_REST_LABEL), event_id, account_id, opened["template"],
                         wristband_uid=band_digest(opened["wristband_uid"]),
                         phone_online=bool(opened["phone_digits"]) or bool(opened.get("phone_online")))


def open_at_rest(store: Store, event_id: str, account_id: str, sealed: str) -> dict[str, Any]:
    return open_template(_derive(store, AT_REST_LABEL), event_id, account_id, sealed)


def open_upload(store: Store, master_key: bytes, event_id: str, account_id: str, sealed: str,
                terminal_id: int | None) -> dict[str, Any]:
    """An enrollment upload: from a terminal paired with a box key, sealed for the collector alone (that terminal's
    box key, "up": it received the collector's at pairing) and nothing else opens it; the event's transport key
    only for what has no such terminal (a file imported by the organizer, terminals paired before box keys)."""
    from sync.collector.enrollment import get_terminal

    terminal = get_terminal(store, terminal_id) if terminal_id is not None else None
    if terminal is not None and terminal.get("face_key"):
        key = box_key(collector_box(store), terminal["face_key"], event_id, int(terminal_id or 0), b"up")
        return open_template(key, event_id, account_id, sealed)
    return open_template(transport_key(master_key, event_id), event_id, account_id, sealed)


def phone_digest(store: Store, digits: str, salt: bytes | None = None) -> str:
    """`s1$salt$hash`: scrypt of the digits, keyed with a collector-only pepper, salted per account. A 4-digit
    space is small: the pepper (never on a terminal) is what makes the hash useless without the collector."""
    salt = salt or os.urandom(16)
    pepper = _derive(store, PHONE_LABEL)
    digest = hashlib.scrypt(pepper + digits.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"s1${salt.hex()}${digest.hex()}"


def phone_matches(store: Store, stored: str, digits: str) -> bool:
    try:
        _, salt, _ = stored.split("$")
        return hmac.compare_digest(phone_digest(store, digits, bytes.fromhex(salt)), stored)
    except ValueError:
        return False


def uid_digest(store: Store, uid: str) -> str:
    """A wristband UID as kept at rest: keyed hash (the same UID always gives the same digest, for look-ups)."""
    return "h1$" + hmac.new(_derive(store, b"stallpay collector uid digest v1"), uid.strip().lower().encode(),
                            hashlib.sha256).hexdigest()


def takes_face(terminal: dict | None) -> bool:
    return bool(terminal and terminal.get("status") == "active" and terminal.get("role") in FACE_ROLES
                and terminal.get("face_key"))


def gallery_for(store: Store, event_id: str, changes: list[dict], terminal: dict | None) -> list[dict]:
    """The gallery changes one terminal receives: erasures always; templates only when it takes face payments,
    each resealed for its box key (a template that does not open is left out, and the erasure still goes)."""
    if not takes_face(terminal):
        return [c for c in changes if c["action"] == "erase"]
    assert terminal is not None
    key = box_key(collector_box(store), terminal["face_key"], event_id, int(terminal["terminal_id"]))
    out = []
    for c in changes:
        if c["action"] != "put":
            out.append(c)
            continue
        try:
            opened = open_at_rest(store, event_id, c["account_id"], c["template"])
        except SealError:
            continue
        # what matching needs: the template, the band as a salted slow hash, and whether the collector can check
        # phone digits (online only: 10^4 guesses would open any hash a terminal could check alone)
        out.append({**c, "template": seal_template(key, event_id, c["account_id"], opened["template"],
                                                   wristband_uid=band_digest(opened["wristband_uid"]),
                                                   phone_online=bool(opened["phone_digits"])
                                                   or opened["phone_online"])})
    return out


def scrub(store: Store) -> bool:
    """After erasures: no copy of an erased row left in the WAL (SQLite) or in dead row versions (PostgreSQL).
    Inside a transaction it is only noted (`store.scrub_pending`) and done by the next `scrub` outside one."""
    if store.in_transaction():
        store.scrub_pending = True
        return False
    store.scrub_pending = False
    if store.dialect == "postgresql":
        # VACUUM cannot run in a transaction (the store's connection is autocommit). A plain VACUUM marks the dead
        # row's space free but leaves its bytes in the page (the carve test finds them); FULL rewrites the table
        # into a new file and removes the old one. It locks the table for the rewrite: seconds at 100,000 faces.
        for table in SCRUB_TABLES:
            store.execute(f"VACUUM FULL {table}")
    else:
        store.query("PRAGMA wal_checkpoint(TRUNCATE)")
    return True
