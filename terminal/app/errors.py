"""The one error the till raises towards the screens."""

from __future__ import annotations

from terminal.refusal import Refusal


class TillError(Refusal):
    """A request a screen made that cannot be done now; `status` is the HTTP status the route answers with."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(code, message)
        self.status = status
