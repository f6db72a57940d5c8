"""Who is logged in at the terminal, and when inactivity logs them out.

Time is passed in, so the rule is tested without waiting.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from terminal.app.permissions import Permission, Role, allowed


@dataclass
class Session:
    operator: str
    name: str
    role: Role
    started: float
    last_seen: float
    idle_timeout_s: float
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def expired(self, now: float) -> bool:
        return self.idle_timeout_s > 0 and now - self.last_seen > self.idle_timeout_s

    def touch(self, now: float) -> None:
        self.last_seen = now

    def may(self, permission: Permission) -> bool:
        return allowed(self.role, permission)
