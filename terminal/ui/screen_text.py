"""The words screens show for the till's results: decline reasons, notices, kinds, methods, roles, operations.

Marked with `N_` for extraction and translated when a state is published.
"""

from __future__ import annotations

from terminal.ui.i18n import N_

MONEY_OPS = ("issue", "topup", "sale", "void", "close")
MONEY_KEYS = ("amount", "balance_before", "balance_after", "missing", "refund", "forfeited_comp", "balance",
              "complimentary", "refundable", "spent", "total", "unit_price")

DECLINE_TEXT = {
    "insufficient_funds": N_("Insufficient funds: balance %(balance)s, %(missing)s missing"),
    "amount_changed": N_("The balance changed since it was shown: tap the wristband again to see it"),
    "other_card": N_("This is not the wristband whose refund was shown"),
    "blocked": N_("This wristband is blocked: keep it and send the guest to the cashier"),
    "wrong_event": N_("This wristband belongs to another event"),
    "blank": N_("This wristband has not been issued yet"),
    "closed": N_("This wristband was closed and refunded"),
    "over_max_sale": N_("Amount is above the limit for one sale"),
    "over_max_balance": N_("The balance would exceed the maximum allowed"),
    "already_issued": N_("This wristband is already issued: use top-up"),
    "nothing_to_void": N_("There is no sale on this wristband to void"),
    "void_other_terminal": N_("The last sale on this wristband was made at another terminal"),
    "void_window_passed": N_("Too late to void this sale"),
    "tampered": N_("This wristband was refused: data not valid"),
    "locked_card": N_("This card is not one of ours"),
    "rollback": N_("This wristband is blocked: report to the organiser"),
    "cloned": N_("This wristband is blocked: report to the organiser"),
    "unsupported": N_("This card cannot be used here"),
    "invalid_amount": N_("Invalid amount"),
    "invalid_method": N_("Unknown payment method"),
    "liveness_failed": N_("Liveness check failed: look at the camera and blink"),
    "face_locked": N_("Face not recognised: pay with your wristband"),
    "over_allowance": N_("Over the offline allowance for face pay: pay with your wristband"),
    "no_face_balance": N_("No balance known for this face account yet: pay with your wristband"),
    "face_unavailable": N_("Face pay is not available: pay with your wristband"),
    "face_frozen": N_("This face account is frozen: no payments or top-ups until the organizer unfreezes it"),
    # roles, limits and keys (terminal.wallet.roles, rules, epochs)
    "not_permitted": N_("Not allowed for your role"),
    "not_permitted_mode": N_("This terminal is not enrolled for this operation"),
    "unknown_operator": N_("Unknown operator: log in again"),
    "over_limit": N_("This wristband was refused: it is above the event's limits. Report to the organiser"),
    "over_credit_ceiling": N_("This terminal has reached its credit limit for today"),
    "card_full": N_("This wristband is full: exchange it at the cashier"),
    "card_refused": N_("The card refused this terminal's key"),
    "no_key": N_("This terminal holds no key for this: use a cashier point"),
    "out_of_card_ids": N_("This terminal cannot issue more wristbands: issue at another terminal"),
    "newer_epoch": N_("This wristband carries newer keys: sync this terminal"),
    "old_epoch": N_("This wristband carries keys from before a key change: exchange it at the cashier"),
    "rekey_interrupted": N_("The wristband's key change was interrupted: tap it again"),
    "outside_event": N_("Outside the event's dates: no sales or top-ups now, refunds still work"),
}
NOTICE_TEXT = {
    "processing": N_("Processing: keep the wristband still"),
    "wrong_card": N_("Another wristband: tap the SAME wristband again"),
    "already_done": N_("Already done: this wristband was not charged again"),
    "read_failed": N_("Wristband moved away too soon: tap again"),
}
KIND_TEXT = {
    "sale": N_("Sale"), "void": N_("Void"), "issue": N_("Issue wristband"), "topup": N_("Top-up"),
    "close": N_("Close and refund"), "replace": N_("Replace lost wristband"),
}
METHOD_TEXT = {"cash": N_("Cash"), "card": N_("Card terminal"), "voucher": N_("Voucher"),
               "comp": N_("Complimentary")}
ROLE_TEXT = {"vendor": N_("vendor"), "cashier": N_("cashier"), "supervisor": N_("supervisor")}
OP_TEXT = {"issue": N_("Issue"), "topup": N_("Top-up"), "sale": N_("Sale"), "void": N_("Void"),
           "close": N_("Refund"), "replace": N_("Replacement"), "correct": N_("Correction")}
