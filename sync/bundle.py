"""Bundles: what the collector sends back to terminals, signed with the event key.

Catalogue and prices per vendor, operators, hotlist, settings, the collector's
clock, face-gallery changes, and how far each terminal's journal is safely
stored (so the terminal can mark it delivered). Terminals verify the signature
with the event public key and refuse a bundle older than the one they applied.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sync.batch import canonical_json
from sync.event import get_meta, get_setting, require_event
from sync.ingest import contiguous_seq
from sync.keys import event_signing_key, public_hex, verify
from sync.ledger import hotlist
from sync.storage import Store
from terminal.config import EventKeys

if TYPE_CHECKING:
    from sync.terminal_side import TerminalSync

FORMAT = "stallpay-bundle/1"


class BundleError(Exception):
    pass


def build_bundle(store: Store, keys: EventKeys, *, terminal_id: int | None = None) -> dict[str, Any]:
    event_id = require_event(store)
    if keys.event_id != event_id:
        raise BundleError(f"keys are for event {keys.event_id!r}, the database for {event_id!r}")
    catalogue: dict[str, list[dict]] = {}
    for r in store.query("SELECT vendor, product_id, name, price FROM catalogue ORDER BY vendor, product_id"):
        catalogue.setdefault(r["vendor"], []).append({"id": r["product_id"], "name": r["name"], "price": r["price"]})
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
        "catalogue": catalogue,
        "operators": store.query("SELECT operator_id, name, role, vendor, pin_hash FROM operators "
                                 "ORDER BY operator_id"),
        "settings": {"max_days_unsynced": get_setting(store, "max_days_unsynced")},
        "gallery_changes": store.query("SELECT change_id, account_id, action, template FROM gallery_changes "
                                       "ORDER BY change_id"),
        "acks": {str(t): contiguous_seq(store, t) for t in terminals},
    }
    key = event_signing_key(keys.master_key, keys.event_id)
    return {"body": body, "signature": key.sign(canonical_json(body)).hex(), "public_key": public_hex(key)}


def encode_bundle(bundle: dict[str, Any]) -> bytes:
    return canonical_json(bundle)


def verify_bundle(data: bytes, event_public_key: str, event_id: str) -> dict[str, Any]:
    """The bundle body, once its signature and event are checked; BundleError with the reason otherwise."""
    try:
        raw = json.loads(data)
        body, signature = raw["body"], raw["signature"]
    except (ValueError, KeyError, TypeError):
        raise BundleError("not a StallPay bundle") from None
    if not isinstance(body, dict) or not isinstance(signature, str):
        raise BundleError("not a StallPay bundle")
    if not verify(event_public_key, signature, canonical_json(body)):
        raise BundleError("bundle signature is not the event key's: refused")
    if body.get("format") != FORMAT:
        raise BundleError(f"unsupported bundle format {body.get('format')!r}")
    if body.get("event_id") != event_id:
        raise BundleError(f"bundle is for event {body.get('event_id')!r}, this terminal is in {event_id!r}")
    return body


def apply_bundle_bytes(t: TerminalSync, data: bytes) -> dict[str, Any]:
    body = verify_bundle(data, t.event_public_key, t.keys.event_id)
    return apply_bundle(t, body)


def apply_bundle(t: TerminalSync, body: dict[str, Any]) -> dict[str, Any]:
    """Install a verified bundle on the terminal: hotlist, catalogue, operators, settings, clock, acknowledgement."""
    from datetime import UTC, datetime

    from terminal.wallet.hotlist import Hotlist

    last = t.state.get("bundle_issued_at")
    if last is not None and body["issued_at"] < last:
        raise BundleError(f"bundle from {body['issued_at']} is older than the one applied ({last}): refused")
    Hotlist(t.journal.db).replace_all([(int(cid), str(reason)) for cid, reason in body["hotlist"]])
    for key in ("catalogue", "operators", "settings", "gallery_changes"):
        t.state.set(f"bundle_{key}", body.get(key))
    t.state.set("bundle_issued_at", body["issued_at"])
    try:
        collector_time = datetime.fromisoformat(body["clock"].replace("Z", "+00:00"))
        t.state.set("clock_offset_ms", int((collector_time - datetime.now(UTC)).total_seconds() * 1000))
    except (KeyError, ValueError, AttributeError):
        pass
    ack = body.get("acks", {}).get(str(t.config.terminal.id))
    if isinstance(ack, int):
        t.state.acknowledge(t.journal, ack, t.policy)
    return {"hotlist": len(body["hotlist"]), "acked_seq": t.state.acked_seq, "issued_at": body["issued_at"]}
