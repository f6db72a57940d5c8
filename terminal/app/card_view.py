"""What the balance screen says about a band beyond its balance: whose it is, what became of it, its cap.

- Holder: the name (and phone) given at issue, from this terminal's journal; a band issued elsewhere from the
  holders the collector's bundle carries (`card_holders`, applied by `terminal.uplink.card_holders`).
- Status: "Closed and refunded"; a band on the hotlist is shown with its balance and labelled "Blocked (lost)"
  or "Replaced by #N" - not only through a refusal text when it is used.
- Cap: the maximum balance that applies to this band's tier (an NTAG band's cap is lower: every terminal holds
  its key), so the cashier never promises more than the band can take.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from terminal.app.card_desk import printed_id
from terminal.app.errors import TillError
from terminal.app.words import N_

BUNDLE_HOLDERS = "card_holders"  # sync state key: {card id: holder} from the collector's bundle


def is_ntag(product: str) -> bool:
    return not str(product).upper().startswith("DESFIRE")


def bundle_holder(till: Any, card_id: int) -> str:
    sync = getattr(till, "sync", None)
    if sync is None:
        return ""
    holders = sync.state.get(BUNDLE_HOLDERS, {}) or {}
    return str(holders.get(str(card_id)) or "") if isinstance(holders, dict) else ""


def holder(till: Any, card_id: int) -> str:
    return till.card_desk.holder(card_id) or bundle_holder(till, card_id)


def hotlist_label(till: Any, card_id: int) -> str:
    """"Replaced by #N" or "Blocked (reason)" for a hotlisted band, "" otherwise."""
    reason = till.wallet.hotlist.reason(card_id)
    if reason is None:
        return ""
    replaced = re.match(r"replaced by card (\d+)", reason)
    new_id = int(replaced.group(1)) if replaced else _replaced_here(till, card_id)
    if new_id is not None:
        return till.tr(N_("Replaced by %(id)s")) % {"id": printed_id(new_id)}
    if reason.startswith("replaced"):  # replaced at another desk: the bundle's hotlist says only that
        return till.tr(N_("Replaced"))
    return till.tr(N_("Blocked (%(reason)s)")) % {"reason": reason}


def _replaced_here(till: Any, card_id: int) -> int | None:
    row = till.journal.db.execute("SELECT card_id FROM journal WHERE op = 'replace' AND phase = 'commit' AND "
                                   "json_extract(data, '$.replaces') = ? ORDER BY seq DESC LIMIT 1",
                                   [card_id]).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def cap_text(till: Any, product: str) -> str:
    cap = till.wallet.limits.balance_cap(ntag=is_ntag(product))
    return till.tr(N_("Maximum balance on this band: %(cap)s")) % {"cap": till.money(cap)}


def labels(till: Any, state: Any) -> dict[str, Any]:
    """The balance view's labels for a band that was read."""
    status = till.tr(N_("Closed and refunded")) if state.status == "closed" else hotlist_label(till, state.card_id)
    return {"holder": holder(till, state.card_id), "status_text": status, "cap_text": cap_text(till, state.product)}


def blocked_view(till: Any) -> dict[str, Any]:
    """A band refused on read because it is on the hotlist: which band it is and why (beside the refusal)."""
    entry = next((e for e in reversed(list(till.journal.entries(after=max(0, _last_seq(till) - 5))))
                  if e["op"] == "decline" and isinstance(e.get("card_id"), int)), None)
    if entry is None:
        return {}
    card_id = int(entry["card_id"])
    return {"card_id": card_id, "printed_id": printed_id(card_id), "holder": holder(till, card_id),
            "status_text": hotlist_label(till, card_id)}


def _last_seq(till: Any) -> int:
    row = till.journal.db.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()
    return int(row[0])


def print_statement(till: Any) -> dict[str, Any]:
    """The band on the balance screen, printed: its history records, balance and holder (the "Print statement"
    button of the balance overlay)."""
    view = till.balance_view or {}
    if not isinstance(view.get("card_id"), int) or "balance" not in view:
        raise TillError("no_card", till.tr(N_("Tap the wristband first")), 409)
    if till.printer is None:
        raise TillError("no_printer", till.tr(N_("No printer configured")), 404)
    # on-card records carry unix seconds; the statement takes times as datetimes
    history = [{**h, "time": datetime.fromtimestamp(h["time"], UTC) if isinstance(h.get("time"), int) else None}
               for h in sorted(view.get("history") or [], key=lambda h: h["seq"])]
    return {"job": till.receipts.print_statement(history, card=printed_id(view["card_id"]),
                                                 balance=int(view["balance"]), holder=view.get("holder") or None),
            "card_id": view["card_id"]}
