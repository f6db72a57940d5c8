"""The on-device face gallery: templates only, encrypted at rest, searched in memory as one matrix.

Storage: one SQLite file (`face.db` in the data directory). Each row holds an
account's template (float32, L2-normalised) and its second factors (phone
digits, wristband UID) sealed together with AES-256-GCM; the account id is the
associated data, so a sealed row cannot be moved to another account. The key
comes from the terminal's key file *and the board's device secret*
(`terminal.device_secret`: Raspberry Pi OTP key) through HKDF (`gallery_key`),
so the SD card alone does not reveal a template where the board has one; no
photo is stored.

Expiry is enforced at match time: `matrix(now)` leaves out every template past
its `expires_at`, whatever the daily purge has done yet. Every erasure is
followed by `wal_checkpoint(TRUNCATE)`, and `secure_delete` is on, so the erased
row is neither in a free page nor in the WAL file.

In memory the templates are one contiguous float32 matrix (`matrix`, `ids`)
rebuilt lazily after changes, which is what makes 1:N search over 100,000
identities take milliseconds (`terminal.camera.matcher`).

Erasure (checkout, a guest's request, expiry) deletes the row at once and
records an erasure awaiting confirmation; sync reports
`pending_erasure_confirmations()` in the next batch and calls
`confirm_erasures_sent(...)` once the collector has stored it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from terminal.camera.decision import FactorRecord
from terminal.camera.matcher import SearchResult, normalize, search
from terminal.schema import FACE_GALLERY, migrate

if TYPE_CHECKING:
    from terminal.config import EventKeys


AAD_PREFIX = b"stallpay-face-template-v1|"


class GalleryError(Exception):
    """The gallery cannot be read (wrong key, corrupt row); the message is for the operator."""


def gallery_key(master_key: bytes, terminal_signing_key: bytes, event_id: str, device: bytes = b"") -> bytes:
    """AES-256 key for the gallery, from the key file and the board's device secret (never stored)."""
    salt = b"stallpay face gallery v2|board" if device else b"stallpay face gallery v1"
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                info=event_id.encode()).derive(master_key + terminal_signing_key + device)


def board_gallery_key(keys: EventKeys) -> bytes:
    """The gallery key of this board: the key file's keys plus the device secret `STALLPAY_DEVICE_SECRET` picks."""
    from terminal.device_secret import device_secret

    return gallery_key(keys.master_key, keys.terminal_signing_key, keys.event_id, device_secret().read())


@dataclass(frozen=True)
class Erasure:
    account_id: str
    erased_at: int
    reason: str


class Gallery:
    def __init__(self, path: Path | str, key: bytes, dim: int = 128) -> None:
        if len(key) != 32:
            raise ValueError("gallery key must be 32 bytes")
        self._aead = AESGCM(key)
        self.dim = dim
        self._lock = threading.RLock()
        path = Path(path)
        if str(path) != ":memory:":
            from sync.format.private_files import private_sqlite

            private_sqlite(path)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA secure_delete=ON")  # erased templates are overwritten, not left in free pages
        migrate(self._db, FACE_GALLERY, where=str(path))
        self._templates: dict[str, np.ndarray] = {}
        self._factors: dict[str, FactorRecord] = {}
        self._expires: dict[str, int] = {}
        self._matrix_until = 2**62  # the matrix is valid until the first template in it expires
        self._matrix = np.zeros((0, dim), np.float32)
        self._ids: list[str] = []
        self._dirty = False
        self._load()

    # --- sealing -------------------------------------------------------------------------------------------------

    def _seal(self, account_id: str, template: np.ndarray, factors: FactorRecord) -> bytes:
        meta = json.dumps({"phone": factors.phone_digits, "band": factors.wristband_uid,
                           **({"online": True} if factors.phone_online else {})}).encode()
        plain = struct.pack("<H", self.dim) + template.astype("<f4").tobytes() + meta
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plain, AAD_PREFIX + account_id.encode())

    def _open(self, account_id: str, sealed: bytes) -> tuple[np.ndarray, FactorRecord]:
        try:
            plain = self._aead.decrypt(sealed[:12], sealed[12:], AAD_PREFIX + account_id.encode())
        except InvalidTag:
            raise GalleryError(
                f"face gallery row for {account_id!r} cannot be decrypted (other terminal's key, or tampered)"
            ) from None
        (dim,) = struct.unpack_from("<H", plain)
        if dim != self.dim:
            raise GalleryError(f"face gallery holds {dim}-value templates, this model makes {self.dim}")
        template = np.frombuffer(plain, "<f4", dim, 2).astype(np.float32)
        meta = json.loads(plain[2 + 4 * dim :])
        return template, FactorRecord(phone_digits=meta["phone"], wristband_uid=meta["band"],
                                      phone_online=meta.get("online") is True)

    def _load(self) -> None:
        for account_id, sealed, expires_at in self._db.execute(
                "SELECT account_id, sealed, expires_at FROM face_templates"):
            self._templates[account_id], self._factors[account_id] = self._open(account_id, sealed)
            self._expires[account_id] = int(expires_at)
        self._dirty = True

    # --- changes -------------------------------------------------------------------------------------------------

    def put(self, account_id: str, template: np.ndarray, factors: FactorRecord | None = None,
            enrolled_at: int | None = None, expires_at: int | None = None) -> None:
        """Add or replace an account's template (normalised here)."""
        self.put_many([(account_id, template, factors or FactorRecord(), enrolled_at, expires_at)])

    def put_many(self, rows: Iterable[tuple[str, np.ndarray, FactorRecord, int | None, int | None]]) -> int:
        now = int(time.time())
        prepared = []
        for account_id, template, factors, enrolled_at, expires_at in rows:
            if not account_id:
                raise ValueError("account id is empty")
            vector = normalize(template)
            if vector.size != self.dim:
                raise ValueError(f"template has {vector.size} values, the gallery holds {self.dim}")
            prepared.append((account_id, vector, factors, enrolled_at or now, expires_at or 2**62))
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for account_id, vector, factors, enrolled_at, expires_at in prepared:
                    self._db.execute(
                        "INSERT OR REPLACE INTO face_templates VALUES (?, ?, ?, ?)",
                        (account_id, self._seal(account_id, vector, factors), enrolled_at, expires_at),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            for account_id, vector, factors, _, expires_at in prepared:
                self._templates[account_id] = vector
                self._factors[account_id] = factors
                self._expires[account_id] = expires_at
            self._dirty = True
        return len(prepared)

    def erase(self, account_id: str, reason: str, now: int | None = None) -> bool:
        """Delete the template at once and record the erasure for confirmation; True if one was held."""
        return account_id in self.erase_many([account_id], reason, now)

    def erase_many(self, account_ids: Iterable[str], reason: str, now: int | None = None) -> list[str]:
        now = int(time.time()) if now is None else now
        erased = []
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for account_id in account_ids:
                    cur = self._db.execute("DELETE FROM face_templates WHERE account_id = ?", (account_id,))
                    # Confirm even an erasure of a template we never had: the collector waits for every terminal.
                    self._db.execute("INSERT INTO face_erasures VALUES (?, ?, ?, NULL)", (account_id, now, reason))
                    if cur.rowcount:
                        erased.append(account_id)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            for account_id in erased:
                self._templates.pop(account_id, None)
                self._factors.pop(account_id, None)
                self._expires.pop(account_id, None)
            self._dirty = True
            if erased:
                self.scrub()
        return erased

    def scrub(self) -> None:
        """Move the WAL into the database and truncate it: with secure_delete on, erased rows leave no copy."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def purge_expired(self, now: int | None = None) -> list[str]:
        now = int(time.time()) if now is None else now
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT account_id FROM face_templates WHERE expires_at <= ?",
                                                  (now,))]
        return self.erase_many(ids, "expired", now) if ids else []

    def purge_records(self, now: int, consent_keep_s: int, erasure_keep_s: int) -> tuple[int, int]:
        """Retention of the small records: consents of people never enrolled (kept `consent_keep_s`, at least the
        hour an enrollment takes) and erasure records the collector confirmed (kept `erasure_keep_s`)."""
        with self._lock:
            consents = self._db.execute(
                "DELETE FROM face_consents WHERE given_at <= ? AND account_id NOT IN "
                "(SELECT account_id FROM face_templates)", (now - max(consent_keep_s, 3600),)).rowcount
            erasures = self._db.execute("DELETE FROM face_erasures WHERE confirmed_at IS NOT NULL AND "
                                        "confirmed_at <= ?", (now - erasure_keep_s,)).rowcount
            if consents or erasures:
                self.scrub()
        return consents, erasures

    def pending_erasures(self) -> list[Erasure]:
        with self._lock:
            rows = self._db.execute(
                "SELECT account_id, erased_at, reason FROM face_erasures WHERE confirmed_at IS NULL ORDER BY rowid"
            ).fetchall()
        return [Erasure(*r) for r in rows]

    def confirm_erasures_sent(self, account_ids: Iterable[str], now: int | None = None) -> None:
        now = int(time.time()) if now is None else now
        with self._lock:
            self._db.executemany("UPDATE face_erasures SET confirmed_at = ? WHERE account_id = ? "
                                 "AND confirmed_at IS NULL", [(now, a) for a in account_ids])

    def record_consent(self, account_id: str, consent_text_id: str, operator: str, now: int | None = None) -> None:
        with self._lock:
            self._db.execute("INSERT INTO face_consents VALUES (?, ?, ?, ?)",
                             (account_id, consent_text_id, operator, int(time.time()) if now is None else now))

    def has_consent(self, account_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM face_consents WHERE account_id = ? "
                                   "AND consent_text_id NOT LIKE '%/declined'", (account_id,)).fetchone()
            return row is not None

    # --- reading -------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._templates)

    def __contains__(self, account_id: object) -> bool:
        return account_id in self._templates

    def factors(self, account_id: str) -> FactorRecord:
        return self._factors.get(account_id, FactorRecord())

    def factor_table(self) -> dict[str, FactorRecord]:
        return dict(self._factors)

    def expires_at(self, account_id: str) -> int | None:
        return self._expires.get(account_id)

    def matrix(self, now: int | None = None) -> tuple[np.ndarray, list[str]]:
        """The search matrix (rows = accounts, normalised float32) and the account id of each row.

        Templates past their expiry at `now` are never in it, whether or not the purge has run yet."""
        now = int(time.time()) if now is None else now
        with self._lock:
            if self._dirty or now >= self._matrix_until:
                self._ids = [a for a in self._templates if self._expires.get(a, 2**62) > now]
                self._matrix_until = min((self._expires.get(a, 2**62) for a in self._ids), default=2**62)
                self._matrix = (np.stack([self._templates[i] for i in self._ids]) if self._ids
                                else np.zeros((0, self.dim), np.float32))
                self._matrix = np.ascontiguousarray(self._matrix, dtype=np.float32)
                self._dirty = False
            return self._matrix, self._ids

    def search(self, probe: np.ndarray, top: int = 5, now: int | None = None) -> SearchResult:
        matrix, ids = self.matrix(now)
        return search(matrix, ids, probe, top)

    def close(self) -> None:
        self._db.close()
