"""The terminal's view of sync, opened from its configuration: journal, signing key, sync state."""

from __future__ import annotations

import json
import threading
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sync.format.keys import event_signing_key, public_hex, signing_key
from sync.format.private_files import write_private
from terminal.config import Config, EventKeys, load_config, load_keys
from terminal.key_file_seal import KeyFileSealError, read_key_text
from terminal.uplink.terminal_state import SyncPolicy, SyncState
from terminal.wallet.journal import Clock, Journal, open_journal, utc_now

if TYPE_CHECKING:
    from terminal.camera.service import FacePay
    from terminal.uplink.client import CollectorClient

PENDING_ENROLLMENTS = "face_enrollments_pending"
PENDING_ERASURES = "face_erasures_pending"


class GuardedSyncState(SyncState):
    """SyncState on a connection the card loop writes through too: every statement waits for the journal's lock,
    so a sync never lands inside (or rolls back with) a sale's transaction."""

    def __init__(self, db: Any, lock: threading.RLock) -> None:
        self.lock = lock
        with lock:
            super().__init__(db)

    def get(self, key: str, default: Any = None) -> Any:
        with self.lock:
            return super().get(key, default)

    def set(self, key: str, value: Any) -> None:
        with self.lock:
            super().set(key, value)

    def acknowledge(self, journal: Journal, acked_seq: int, policy: SyncPolicy | None = None,
                    now: datetime | None = None) -> None:
        with self.lock:
            super().acknowledge(journal, acked_seq, policy, now)

    def status(self, journal: Journal, policy: SyncPolicy | None = None, now: datetime | None = None) -> dict:
        with self.lock:
            return super().status(journal, policy, now)


@dataclass
class TerminalSync:
    config: Config
    keys: EventKeys
    journal: Journal
    state: SyncState
    policy: SyncPolicy
    # public half of the collector's bundle key (from pairing by code): face data is applied only when it signed
    collector_key: str | None = None
    # the application's FacePay, when it runs one; sync otherwise opens the gallery alone (no camera, no models)
    face: FacePay | None = field(default=None, repr=False)
    _box: X25519PrivateKey | None = field(default=None, repr=False)

    def face_pay(self) -> FacePay:
        if self.face is None:
            from terminal.camera.gallery import Gallery, board_gallery_key
            from terminal.camera.service import FacePay
            from terminal.uplink.face_window import gate

            key = board_gallery_key(self.keys)
            self.face = FacePay(Gallery(self.config.data_dir / "face.db", key), self.config.camera, None)
            self.face.refusal = gate(self.state, self.config.camera)
            self.face.purge_expired()  # the sync-only path expires templates too
        return self.face

    # --- face data waiting for the collector (cashier enrollments and checkouts made offline) ----------------

    def send_enrollment(self, client: CollectorClient, item: dict[str, Any]) -> dict[str, Any]:
        """Upload one sealed enrollment (`item` as queued); SyncFailed when the collector refuses or is away."""
        return client.upload_enrollment(item["account_id"], item["template"], phone_hash=item.get("phone_hash", ""),
                                        wristband_uid=item.get("wristband_uid"), expires_at=item.get("expires_at"))

    def learn_collector_box_key(self, key: object) -> bool:
        """The collector's X25519 box key, as pairing (or a bundle) gives it: enrollment uploads are sealed for it."""
        if not isinstance(key, str) or len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            return False
        self.state.set("collector_box_key", key)
        return True

    def seal_enrollment(self, account_id: str, template: tuple[float, ...], phone_digits: str = "",
                        wristband_uid: str = "") -> str:
        """An enrolled template sealed for the collector alone (its box key, received at pairing), so no other
        terminal holding the event keys can open the upload or the queued copy. SealError before pairing: never
        the event's transport key, which every terminal holds."""
        from sync.format.face_keys import SealError, box_key, seal_template

        peer = self.state.get("collector_box_key")
        if not isinstance(peer, str):
            raise SealError("this terminal has not been paired with a collector (no collector box key)")
        event = self.keys.event_id
        key = box_key(self.box, peer, event, self.config.terminal.id, b"up")
        return seal_template(key, event, account_id, template, phone_digits=phone_digits, wristband_uid=wristband_uid)

    def queue_enrollment(self, item: dict[str, Any]) -> None:
        """Keep a sealed template (sealed for the collector alone) for the next sync."""
        with self.db_lock:  # read-modify-write: the background sync edits the same list
            pending = [p for p in self.state.get(PENDING_ENROLLMENTS, []) if p["account_id"] != item["account_id"]]
            self.state.set(PENDING_ENROLLMENTS, [*pending, item])

    def queue_erasure(self, account_id: str, reason: str) -> None:
        with self.db_lock:
            pending = [p for p in self.state.get(PENDING_ERASURES, []) if p["account_id"] != account_id]
            self.state.set(PENDING_ERASURES, [*pending, {"account_id": account_id, "reason": reason}])
            self.state.set(PENDING_ENROLLMENTS, [p for p in self.state.get(PENDING_ENROLLMENTS, [])
                                                 if p["account_id"] != account_id])
            scrub_journal(self.journal)

    def _unqueue(self, key: str, account_id: str) -> None:
        with self.db_lock:
            self.state.set(key, [p for p in self.state.get(key, []) if p["account_id"] != account_id])

    def pending_face_uploads(self) -> dict[str, list[dict[str, Any]]]:
        return {"enrollments": self.state.get(PENDING_ENROLLMENTS, []),
                "erasures": self.state.get(PENDING_ERASURES, [])}

    def flush_face_uploads(self, client: CollectorClient) -> dict[str, int]:
        """Send what was queued while offline; each item leaves the queue only once the collector took it."""
        sent = {"enrollments": 0, "erasures": 0}
        for item in self.state.get(PENDING_ENROLLMENTS, []):
            self.send_enrollment(client, item)
            self._unqueue(PENDING_ENROLLMENTS, item["account_id"])
            sent["enrollments"] += 1
        for item in self.state.get(PENDING_ERASURES, []):
            client.erase_face(item["account_id"], item.get("reason", "checkout"))
            self._unqueue(PENDING_ERASURES, item["account_id"])
            sent["erasures"] += 1
        if sent["enrollments"] or sent["erasures"]:
            scrub_journal(self.journal)
        return sent

    @property
    def db_lock(self) -> threading.RLock:
        """The journal's own lock: held by its writes, and by sync around anything it does on the same connection
        (one connection owner, several threads: card loop, HTTP handlers, background sync)."""
        return self.journal._lock

    def sync_policy(self) -> SyncPolicy:
        """The sales limit in force: the collector's (from the last bundle) when it sets one, else the config's."""
        configured = float(self.config.collector.max_days_unsynced)
        settings = self.state.get("bundle_settings") or {}
        bundled = settings.get("max_days_unsynced") if isinstance(settings, dict) else None
        if isinstance(bundled, int | float) and not isinstance(bundled, bool) and bundled > 0:
            return replace(self.policy, max_days_unsynced=float(bundled))
        return replace(self.policy, max_days_unsynced=configured)

    def overview(self, now: datetime | None = None) -> dict[str, Any]:
        """What the screens and `sync status` show, cheap enough for every published state.

        A terminal that never synced counts its days from its first journal entry, so a new terminal may sell for
        the allowed days before its first sync rather than being blocked from its first sale."""
        now = now or datetime.now(UTC)
        policy = self.sync_policy()
        with self.db_lock:
            head, _ = self.journal.head()
            acked = min(self.state.acked_seq, head)
            last = self.state.get("last_sync")
            offset = self.state.get("clock_offset_ms")
            since = last
            if since is None and head > 0:
                first = list(self.journal.entries(limit=1))
                since = first[0]["time"] if first else None
        days = None
        if since is not None:
            moment = datetime.fromisoformat(str(since).replace("Z", "+00:00"))
            days = max(0.0, (now - moment).total_seconds() / 86400)
        limit = policy.max_days_unsynced
        blocked = bool(limit) and days is not None and days > limit
        return {"unsynced_entries": head - acked, "head_seq": head, "acked_seq": acked, "last_sync": last,
                "days_since_sync": None if days is None else round(days, 3), "never_synced": last is None,
                "clock_synced": bool(self.journal.clock.synced), "clock_offset_ms": offset,
                "max_days_unsynced": limit, "sales_blocked": blocked}

    def pending_erasures(self) -> int:
        """Template erasures the collector has not confirmed yet (queued checkouts and local erasures)."""
        queued = len(self.state.get(PENDING_ERASURES, []))
        local = len(self.face.pending_erasure_confirmations()) if self.face is not None else 0
        return queued + local

    @property
    def box(self) -> X25519PrivateKey:
        """This terminal's X25519 box key (templates are sealed for it): from the signing key and the board's device
        secret, never stored; its public half goes to the collector at pairing (`face_key`)."""
        if self._box is None:
            from sync.format.face_keys import box_private
            from terminal.device_secret import device_secret

            self._box = box_private(self.keys.terminal_signing_key + device_secret().read())
        return self._box

    @property
    def face_key(self) -> str:
        from sync.format.face_keys import box_public

        return box_public(self.box)

    @property
    def key(self) -> Ed25519PrivateKey:
        return signing_key(self.keys.terminal_signing_key)

    @property
    def public_key(self) -> str:
        return public_hex(self.key)

    @property
    def event_public_key(self) -> str:
        return public_hex(event_signing_key(self.keys.master_key, self.keys.event_id))

    def status(self) -> dict:
        st = self.state.status(self.journal, self.sync_policy())
        st["time"] = utc_now()
        return st

    def pairing_request(self, code: str) -> dict:
        return {"code": code, "event_id": self.keys.event_id, "terminal_id": self.config.terminal.id,
                "public_key": self.public_key, "name": self.config.terminal.name, "mode": self.requested_role(),
                "face_key": self.face_key}

    def requested_role(self) -> str:
        """The role this terminal asks an `auto` pairing code for: cashier when it is set up as a cashier point, or
        has already taken money for credits (top-ups, issues), so that the collector books them."""
        if self.config.terminal.mode in ("cashier", "admin"):
            return "cashier"
        row = self.journal.db.execute("SELECT 1 FROM journal WHERE phase = 'commit' AND op IN ('topup', 'issue') "
                                      "LIMIT 1").fetchone()
        return "cashier" if row else "sale"

    def write_pairing_request(self, code: str, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"pair-t{self.config.terminal.id:05d}.json"
        write_private(path, json.dumps(self.pairing_request(code), indent=1).encode())
        return path


def open_terminal(config_path: Path | str) -> TerminalSync:
    return open_terminal_config(load_config(config_path))


def open_terminal_config(config: Config) -> TerminalSync:
    keys = load_keys(config.keys_path, config.event.id)
    journal = open_journal(config.journal_path, terminal_id=config.terminal.id, event_id=config.event.id,
                           currency=config.event.currency, clock=Clock())
    return TerminalSync(config=config, keys=keys, journal=journal, state=GuardedSyncState(journal.db, journal._lock),
                        policy=SyncPolicy(), collector_key=read_collector_key(config.keys_path))


def terminal_for_app(config: Config, keys: EventKeys, journal: Journal, face: FacePay | None) -> TerminalSync:
    """Sync's view of a running terminal: the application's own journal and FacePay (one gallery, one camera).
    Face pay is gated on the face-sync window (`terminal.uplink.face_window`)."""
    from terminal.uplink.face_window import gate

    state = GuardedSyncState(journal.db, journal._lock)
    if face is not None:
        face.refusal = gate(state, config.camera)
    return TerminalSync(config=config, keys=keys, journal=journal, state=state,
                        policy=SyncPolicy(), collector_key=read_collector_key(config.keys_path), face=face)


def scrub_journal(journal: Journal) -> None:
    """The journal database holds queued sealed templates until they are uploaded. `terminal.store` opens it with
    secure_delete; truncating the WAL after the queue changed leaves no copy of a sent or cancelled template."""
    with journal._lock:
        journal.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def read_collector_key(keys_path: Path) -> str | None:
    """`[event] collector_key` of the key file (written by pairing by code), when present and well formed."""
    try:
        raw = tomllib.loads(read_key_text(keys_path))
    except (OSError, tomllib.TOMLDecodeError, KeyFileSealError):
        return None
    value = raw.get("event", {}).get("collector_key") if isinstance(raw.get("event"), dict) else None
    return value if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value) \
        else None
