"""Refusals in the journal: one writer, one shape, whoever refuses (card checks, roles, face pay).

A decline is an info entry: it never moves money, but the collector and the
day report count it. Shape: `data = {"code": stable code, "reason": the
words, ...what the refuser adds}`; a card refusal carries the card and its
balance (before = after), a sale refusal the amount asked.
"""

from __future__ import annotations

from typing import Any

from terminal.wallet.journal import Journal


def record_decline(journal: Journal, code: str, reason: str, *, amount: int = 0, operator: str | None = None,
                   card_id: int | None = None, uid: bytes | None = None, balance: int | None = None,
                   missing: int | None = None, **data: Any) -> dict[str, Any]:
    """Journal one refusal; returns the entry."""
    extra = {"missing": missing} if missing is not None else {}
    return journal.append("decline", "info", amount=amount, operator=operator, card_id=card_id, uid=uid,
                          balance_before=balance, balance_after=balance,
                          data={"code": code, "reason": reason, **extra, **data})
