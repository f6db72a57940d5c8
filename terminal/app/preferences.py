"""What a supervisor sets on the admin screen: the terminal's mode, the language, the receipt policy.

Saved in the settings store (they survive restarts and override terminal.toml); the printer follows the
language and the receipt policy at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from terminal.app.errors import TillError
from terminal.app.permissions import Permission
from terminal.app.session import Session
from terminal.settings_store import CHOICES, SettingsStore

if TYPE_CHECKING:
    from terminal.app.port import TillPort

MODES = CHOICES["mode"]
LANGUAGES = CHOICES["language"]
RECEIPT_POLICIES = CHOICES["receipt"]


class Preferences:
    def __init__(self, till: TillPort, settings: SettingsStore, printer: Any) -> None:
        self.till = till
        self.settings = settings
        self.printer = printer
        config = till.config
        default_mode = config.terminal.mode if config.terminal.mode in MODES else "sale"
        self.mode = settings.get("mode", default_mode)
        self.language = settings.get("language", config.ui.language)
        self.receipt_policy = settings.get("receipt", config.printer.receipt)
        self._apply_receipt_policy()

    def set_mode(self, session: Session, mode: str) -> None:
        self.till.require(session, Permission.MODE)
        if mode not in MODES:
            raise TillError("bad_request", f"mode must be one of {', '.join(MODES)}", 400)
        with self.till.lock:
            self.settings.set("mode", mode)
            self.mode = mode
        self.till.publish()

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise TillError("bad_request", f"language must be one of {', '.join(LANGUAGES)}", 400)
        with self.till.lock:
            self.settings.set("language", language)
            self.language = language
            if self.printer is not None:
                from terminal.printer.language import ReceiptLanguage

                self.printer.language = ReceiptLanguage(language, self.printer.settings.timezone or None)
        self.till.publish()

    def set_receipt_policy(self, session: Session, policy: str) -> None:
        """always: every sale prints; on_request: a sale prints when the guest asks (top-ups always print)."""
        self.till.require(session, Permission.SETTINGS)
        if policy not in RECEIPT_POLICIES:
            raise TillError("bad_request", f"receipt policy must be one of {', '.join(RECEIPT_POLICIES)}", 400)
        with self.till.lock:
            self.settings.set("receipt", policy)
            self.receipt_policy = policy
            self._apply_receipt_policy()
        self.till.publish()

    def close(self) -> None:
        self.settings.close()

    def _apply_receipt_policy(self) -> None:
        if self.printer is not None and self.printer.settings.receipt != self.receipt_policy:
            self.printer.settings = self.printer.settings.model_copy(update={"receipt": self.receipt_policy})
