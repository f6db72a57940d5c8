"""The terminal's view of sync, opened from its configuration: journal, signing key, sync state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.keys import event_signing_key, public_hex, signing_key
from sync.terminal_state import SyncPolicy, SyncState
from terminal.config import Config, EventKeys, load_config, load_keys
from terminal.wallet.journal import Clock, Journal, open_journal, utc_now


@dataclass
class TerminalSync:
    config: Config
    keys: EventKeys
    journal: Journal
    state: SyncState
    policy: SyncPolicy

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
    config = load_config(config_path)
    keys = load_keys(config.keys_path, config.event.id)
    journal = open_journal(config.journal_path, terminal_id=config.terminal.id, event_id=config.event.id,
                           currency=config.event.currency, clock=Clock())
    return TerminalSync(config=config, keys=keys, journal=journal, state=SyncState(journal.db), policy=SyncPolicy())
