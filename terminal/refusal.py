"""`Refusal`: the one base of every "this is refused, here is why" error in the terminal.

A refusal has a stable `code` (what screens, the API, the journal and tests
match on; never translated, never reworded) and a `message` for people. The
wallet's declines, the till's flow and card-desk errors, permission and login
refusals all derive from it, so an upper layer that turns refusals into an
answer (an HTTP body, a screen, a journal entry) handles them all one way.
"""

from __future__ import annotations


class Refusal(Exception):
    """Refused, with a stable `code` and a `message` for people; nothing was changed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
