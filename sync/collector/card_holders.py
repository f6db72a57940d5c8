"""The holders named at issue (name, and phone when given), for the bundle: a band issued at one cashier shows
its holder on every terminal's balance screen and statement (applied by `terminal.uplink.card_holders`)."""

from __future__ import annotations

import json

from sync.collector.storage import Store
from sync.format.bundle import MAX_HOLDER


def card_holders(store: Store) -> dict[str, str]:
    """{card id: holder} from the committed issue entries that named one (a later issue of the card wins)."""
    out: dict[str, str] = {}
    for r in store.query("SELECT card_id, data FROM entries WHERE op = 'issue' AND phase = 'commit' "
                         "AND card_id IS NOT NULL AND data LIKE ? ORDER BY time", ['%"holder"%']):
        try:
            holder = json.loads(r["data"]).get("holder")
        except (ValueError, AttributeError):
            continue
        if isinstance(holder, str) and holder.strip():
            out[str(r["card_id"])] = holder.strip()[:MAX_HOLDER]
    return out
