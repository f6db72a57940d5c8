"""The terminal's half of the holders in the bundle: kept in the sync state, read by the balance screen
(`terminal.app.card_view`); built on the collector by `sync.collector.card_holders`."""

from __future__ import annotations

from sync.format.bundle import MAX_HOLDER


def apply_card_holders(state: object, holders: object) -> int:
    """Keep the bundle's holders in the terminal's sync state (what the balance screen reads); how many."""
    if not isinstance(holders, dict):
        return 0
    clean = {str(k): str(v)[:MAX_HOLDER] for k, v in holders.items()
             if str(k).isdigit() and isinstance(v, str) and v.strip()}
    state.set("card_holders", clean)  # type: ignore[attr-defined]
    return len(clean)
