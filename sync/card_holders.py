"""The holders named at issue (name, and phone when given), for the bundle: a band issued at one cashier shows
its holder on every terminal's balance screen and statement (`terminal.ui.card_view`)."""

from __future__ import annotations

import json

from sync.storage import Store

MAX_HOLDER = 120


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


def apply_card_holders(state: object, holders: object) -> int:
    """Keep the bundle's holders in the terminal's sync state (what the balance screen reads); how many."""
    if not isinstance(holders, dict):
        return 0
    clean = {str(k): str(v)[:MAX_HOLDER] for k, v in holders.items()
             if str(k).isdigit() and isinstance(v, str) and v.strip()}
    state.set("card_holders", clean)  # type: ignore[attr-defined]
    return len(clean)
