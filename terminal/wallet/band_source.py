"""The band keys a running wallet writes with, following its key file.

A background sync writes a new key epoch into the key file (`terminal.uplink.terminal_keys`); the kiosk's
wallet stays open for days. It looks at the file's modification time at every tap and reloads the band keys
when it changed, so the next tap seals bands under the new epoch without a restart.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from terminal.wallet.epochs import BandKeys

log = logging.getLogger(__name__)


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


class KeyFileBand:
    """`BandKeys` of a key file, reloaded when the file changes."""

    def __init__(self, path: Path | str, event_id: str, band: BandKeys) -> None:
        self.path = Path(path)
        self.event_id = event_id
        self._band = band
        self._desfire: dict[int, dict[str, bytes]] | None = None  # None: as the wallet was opened
        self._seen = _mtime(self.path)

    def current(self) -> BandKeys:
        now = _mtime(self.path)
        if now != self._seen:
            from terminal.config import ConfigError, load_keys

            try:
                keys = load_keys(self.path, self.event_id)
                self._band = BandKeys.of(keys)
                self._desfire = keys.desfire_epochs()
                self._seen = now
            except ConfigError as exc:  # a half-written or foreign file: keep the keys in hand
                log.warning("key file changed but does not load: %s", exc)
        return self._band

    def desfire(self) -> dict[int, dict[str, bytes]] | None:
        """The DESFire role keys by epoch of the key file as last reloaded (None: unchanged since opened)."""
        self.current()
        return self._desfire
