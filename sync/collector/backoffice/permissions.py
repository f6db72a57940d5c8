"""Which back-office role may do what. Every route names one permission; tests walk them all."""

from __future__ import annotations

ALL = ("admin", "finance", "support", "readonly")

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "view": ALL,                                    # dashboard, cards, terminals, reports
    "cards.block": ("admin", "finance", "support"),  # block / unblock a band
    "cards.replace": ("admin", "support"),
    "face.erase": ("admin", "support"),              # ask every terminal to erase a guest's face template
    "face.freeze": ("admin", "support"),             # freeze / unfreeze a face account (terminals: next bundle)
    "cards.refund": ("admin", "finance"),
    "cards.correct": ("admin", "finance"),           # correct a balance in the books (reason required)
    "payouts.view": ("admin", "finance", "support"),
    "payouts.approve": ("admin", "finance"),         # approve, reject, export SEPA, mark paid
    "terminals.manage": ("admin",),                  # pairing codes, revoke, bundles
    "catalogue.manage": ("admin",),                  # products and prices per vendor
    "operators.manage": ("admin",),                  # terminal operators: add, disable, PINs
    "accounts.manage": ("admin",),
    "events.manage": ("admin",),                     # create events (each with its own books and keys)
    "audit.view": ("admin", "finance"),
}


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]
