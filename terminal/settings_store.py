"""Settings a supervisor changes on the admin screen (mode, language, receipt policy), kept in the data directory.

terminal.toml holds the technician's defaults; a value saved here overrides
it and survives restarts, so the screen and the configuration file never have
to be edited together. Values are checked here, whoever sets them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from terminal.i18n import LANGUAGES
from terminal.schema import SETTINGS
from terminal.store import open_database

CHOICES: dict[str, tuple[str, ...]] = {
    "mode": ("sale", "cashier"),
    "language": LANGUAGES,
    "receipt": ("always", "on_request"),
}


class SettingsError(ValueError):
    """An unknown setting or a value it cannot take."""


def check(key: str, value: str) -> str:
    if key not in CHOICES:
        raise SettingsError(f"unknown setting {key!r}; one of {', '.join(CHOICES)}")
    if value not in CHOICES[key]:
        raise SettingsError(f"{key} must be one of {', '.join(CHOICES[key])}")
    return value




class SettingsStore:
    def __init__(self, path: Path | str, *, legacy_json: Path | None = None) -> None:
        self.db = open_database(path, SETTINGS)
        self._lock = threading.Lock()
        if legacy_json is not None and legacy_json.exists() and not self.saved():
            self._import(legacy_json)

    def get(self, key: str, default: str) -> str:
        """The saved value if there is a valid one, the configuration's default otherwise."""
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        if row is None or key not in CHOICES or row[0] not in CHOICES[key]:
            return default
        return str(row[0])

    def set(self, key: str, value: str) -> None:
        check(key, value)
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [key, value])

    def saved(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.execute("SELECT key, value FROM settings").fetchall()}

    def close(self) -> None:
        self.db.conn.close()

    def _import(self, path: Path) -> None:
        """ui-state.json of earlier versions held mode and language: carried over once."""
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(data, dict):
            for key in ("mode", "language"):
                value = data.get(key)
                if isinstance(value, str) and value in CHOICES[key]:
                    self.set(key, value)
