"""Building bundles on the collector: the books' hotlist, catalogue, operators, settings, face data and acks,
signed with the event key and the collector's own key (format and checks: `sync.format.bundle`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.collector.card_holders import card_holders
from sync.collector.central_operators import for_bundle as operators_for_bundle
from sync.collector.enrollment import get_terminal
from sync.collector.event import get_meta, get_setting, meta_seed, require_event
from sync.collector.event_window import stored_window
from sync.collector.face import confirmed_by, expire_templates, gallery_changes, refused_credits, snapshot_balances
from sync.collector.face_freeze import frozen_accounts
from sync.collector.face_gallery import collector_box, collector_box_public, gallery_for
from sync.collector.ingest import contiguous_seq
from sync.collector.key_epochs import bundle_section as epoch_section
from sync.collector.ledger import hotlist
from sync.collector.storage import Store
from sync.collector.trust import card_limits
from sync.collector.venue_prices import at_venue, venues_section
from sync.format.bundle import FORMAT, BundleError, sign_bundle
from sync.format.event_keys import EventKeys
from sync.format.keys import event_signing_key, public_hex, signing_key


def collector_signing_key(store: Store) -> Ed25519PrivateKey:
    """The collector's own bundle key (made on first use, never sent to a terminal), kept in its database only
    sealed under the collector's key file (`meta_seed`)."""
    return signing_key(meta_seed(store, "collector_bundle_seed"))


def collector_public_key(store: Store) -> str:
    return public_hex(collector_signing_key(store))


def build_bundle(store: Store, keys: EventKeys, *, terminal_id: int | None = None,
                 gallery_after: int = 0) -> dict[str, Any]:
    """`gallery_after`: the last gallery change the terminal applied (only later ones are sent)."""
    event_id = require_event(store)
    if keys.event_id != event_id:
        raise BundleError(f"keys are for event {keys.event_id!r}, the database for {event_id!r}")
    catalogue: dict[str, list[dict]] = {}
    for r in store.query("SELECT vendor, product_id, name, price, category, barcode FROM catalogue "
                         "ORDER BY vendor, product_id"):
        item = {"id": r["product_id"], "name": r["name"], "price": r["price"]}
        item.update({k: r[k] for k in ("category", "barcode") if r[k]})  # only when set: older bundles unchanged
        catalogue.setdefault(r["vendor"], []).append(item)
    if terminal_id is not None:  # a terminal at a venue sells at the venue's prices
        catalogue = at_venue(store, catalogue, str((get_terminal(store, terminal_id) or {}).get("venue") or ""))
    expire_templates(store)
    terminals = [terminal_id] if terminal_id is not None else [
        r["terminal_id"] for r in store.query("SELECT terminal_id FROM terminals WHERE status = 'active'")]
    issued = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    body = {
        "format": FORMAT,
        "event_id": event_id,
        "currency": get_meta(store, "currency"),
        "issued_at": issued,
        "clock": issued,
        "hotlist": [[cid, reason] for cid, reason in hotlist(store)],
        "holders": card_holders(store),  # names (and phones) given at issue: shown on every balance screen
        "catalogue": catalogue,
        "operators": operators_for_bundle(store),
        "settings": {"max_days_unsynced": get_setting(store, "max_days_unsynced"),
                     "card_limits": card_limits(store),  # terminals never go past these (terminal.wallet)
                     "face": {k: get_setting(store, k) for k in ("event_end", "face_retention_days",
                                                                 "face_sync_window_h")},
                     # only when dates are set: terminals refuse new money outside them (terminal.wallet)
                     **({"event_window": window.as_bundle()} if (window := stored_window(store)) else {})},
        "acks": {str(t): contiguous_seq(store, t) for t in terminals},
        "face": {
            # available balance per active account (ledger balance minus open authorizations), as of `acks`
            "balances": snapshot_balances(store),
            "gallery_after": gallery_after,
            # templates sealed for this terminal alone, and only when its role takes face payments
            "gallery": gallery_for(store, event_id, gallery_changes(store, gallery_after),
                                   get_terminal(store, terminal_id) if terminal_id is not None else None),
            "box_key": collector_box_public(store),
            "frozen": frozen_accounts(store),  # declined by name (`face_frozen`), even offline
            "erasures_confirmed": confirmed_by(store, terminal_id) if terminal_id is not None else [],
            "refused_credits": refused_credits(store, terminal_id) if terminal_id is not None else [],
        },
        # the newest key epoch's band keys, sealed for this terminal alone (sync.collector.key_epochs)
        "key_epoch": epoch_section(store, collector_box(store), event_id,
                                   get_terminal(store, terminal_id) if terminal_id is not None else None),
    }
    if terminal_id is None:  # the bundle for every terminal (USB): each applies its own venue's prices
        body["venues"] = venues_section(store)
    return sign_bundle(body, event_signing_key(keys.master_key, keys.event_id), collector_signing_key(store))
