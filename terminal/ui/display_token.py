"""What binds the guest's answers to the customer display.

The customer display is a page on the terminal's own screen, served to a browser on the same board. Its answers
(the guest's face consent) must not come from anything else that can reach the kiosk port. A per-boot random
token is written into the display page only when that page is fetched over loopback; the display's posts carry it
in a header, and an answer without the right token is refused (403).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets

HEADER = "X-Display-Token"


class DisplayToken:
    """One random token per process start; handed out to loopback clients only."""

    def __init__(self) -> None:
        self._token = secrets.token_urlsafe(32)

    def for_client(self, host: str | None) -> str:
        """The token for a display page fetched from `host` ("" when that host is not this board)."""
        return self._token if _loopback(host) else ""

    def accepts(self, presented: str | None, host: str | None) -> bool:
        """An answer counts only from this board, with the token its display page was given."""
        return bool(presented) and _loopback(host) and hmac.compare_digest(str(presented), self._token)


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
