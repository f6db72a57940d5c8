"""The terminal's view of sync, opened from its configuration: journal, signing key, sync state."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.keys import event_signing_key, public_hex, signing_key
from sync.terminal_state import SyncPolicy, SyncState
from terminal.config import Config, EventKeys, load_config, load_keys
from terminal.wallet.journal import Clock, Journal, open_journal, utc_now

if TYPE_CHECKING:
    from sync.client import CollectorClient
    from terminal.camera.service import FacePay

PENDING_ENROLLMENTS = "face_enrollments_pending"
PENDING_ERASURES = "face_erasures_pending"


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

    def face_pay(self) -> FacePay:
        if self.face is None:
            from terminal.camera.gallery import Gallery, gallery_key
            from terminal.camera.service import FacePay

            key = gallery_key(self.keys.master_key, self.keys.terminal_signing_key, self.keys.event_id)
            self.face = FacePay(Gallery(self.config.data_dir / "face.db", key), self.config.camera, None)
        return self.face

    # --- face data waiting for the collector (cashier enrollments and checkouts made offline) ----------------

    def send_enrollment(self, client: CollectorClient, item: dict[str, Any]) -> dict[str, Any]:
        """Upload one sealed enrollment (`item` as queued); SyncFailed when the collector refuses or is away."""
        return client.upload_enrollment(item["account_id"], item["template"], phone_hash=item.get("phone_hash", ""),
                                        wristband_uid=item.get("wristband_uid"), expires_at=item.get("expires_at"))

    def queue_enrollment(self, item: dict[str, Any]) -> None:
        """Keep a sealed template for the next sync (it is sealed with the event's transport key)."""
        pending = [p for p in self.state.get(PENDING_ENROLLMENTS, []) if p["account_id"] != item["account_id"]]
        self.state.set(PENDING_ENROLLMENTS, [*pending, item])

    def queue_erasure(self, account_id: str, reason: str) -> None:
        pending = [p for p in self.state.get(PENDING_ERASURES, []) if p["account_id"] != account_id]
        self.state.set(PENDING_ERASURES, [*pending, {"account_id": account_id, "reason": reason}])
        self.state.set(PENDING_ENROLLMENTS, [p for p in self.state.get(PENDING_ENROLLMENTS, [])
                                             if p["account_id"] != account_id])

    def pending_face_uploads(self) -> dict[str, list[dict[str, Any]]]:
        return {"enrollments": self.state.get(PENDING_ENROLLMENTS, []),
                "erasures": self.state.get(PENDING_ERASURES, [])}

    def flush_face_uploads(self, client: CollectorClient) -> dict[str, int]:
        """Send what was queued while offline; each item leaves the queue only once the collector took it."""
        sent = {"enrollments": 0, "erasures": 0}
        for item in self.state.get(PENDING_ENROLLMENTS, []):
            self.send_enrollment(client, item)
            self.state.set(PENDING_ENROLLMENTS, [p for p in self.state.get(PENDING_ENROLLMENTS, [])
                                                 if p["account_id"] != item["account_id"]])
            sent["enrollments"] += 1
        for item in self.state.get(PENDING_ERASURES, []):
            client.erase_face(item["account_id"], item.get("reason", "checkout"))
            self.state.set(PENDING_ERASURES, [p for p in self.state.get(PENDING_ERASURES, [])
                                              if p["account_id"] != item["account_id"]])
            sent["erasures"] += 1
        return sent

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
        st = self.state.status(self.journal, self.policy)
        st["time"] = utc_now()
        return st

    def pairing_request(self, code: str) -> dict:
        return {"code": code, "event_id": self.keys.event_id, "terminal_id": self.config.terminal.id,
                "public_key": self.public_key, "name": self.config.terminal.name}

    def write_pairing_request(self, code: str, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"pair-t{self.config.terminal.id:05d}.json"
        path.write_text(json.dumps(self.pairing_request(code), indent=1), encoding="utf-8")
        return path


def open_terminal(config_path: Path | str) -> TerminalSync:
    return open_terminal_config(load_config(config_path))


def open_terminal_config(config: Config) -> TerminalSync:
    keys = load_keys(config.keys_path, config.event.id)
    journal = open_journal(config.journal_path, terminal_id=config.terminal.id, event_id=config.event.id,
                           currency=config.event.currency, clock=Clock())
    return TerminalSync(config=config, keys=keys, journal=journal, state=SyncState(journal.db), policy=SyncPolicy(),
                        collector_key=read_collector_key(config.keys_path))


def terminal_for_app(config: Config, keys: EventKeys, journal: Journal, face: FacePay | None) -> TerminalSync:
    """Sync's view of a running terminal: the application's own journal and FacePay (one gallery, one camera)."""
    return TerminalSync(config=config, keys=keys, journal=journal, state=SyncState(journal.db), policy=SyncPolicy(),
                        collector_key=read_collector_key(config.keys_path), face=face)


def read_collector_key(keys_path: Path) -> str | None:
    """`[event] collector_key` of the key file (written by pairing by code), when present and well formed."""
    try:
        raw = tomllib.loads(Path(keys_path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    value = raw.get("event", {}).get("collector_key") if isinstance(raw.get("event"), dict) else None
    return value if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value) \
        else None
