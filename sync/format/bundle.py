"""The bundle format: what the collector sends back to terminals, signed with the event key.

Catalogue and prices per vendor, operators, hotlist, settings, the collector's
clock, face-gallery changes, and how far each terminal's journal is safely
stored (so the terminal can mark it delivered). Terminals verify the signature
with the event public key and refuse a bundle older than the one they applied.

Face data (account balances, templates, erasures) credits guests, so it must not be
signable by a terminal: the event key above is derived from the event master key,
which every terminal holds (it needs it for wristbands). Bundles therefore carry a
second signature by the *collector key*, an Ed25519 key that lives only in the
collector's database; terminals learn its public half when they pair by code (or
from the organizer's key file) and apply face data only from bundles it signed.
The collector builds bundles (`sync.collector.bundle`), terminals apply them
(`terminal.uplink.bundle_apply`); both meet here.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.format.batch import canonical_json
from sync.format.keys import public_hex, verify

FORMAT = "stallpay-bundle/1"
MAX_HOLDER = 120  # characters of a band holder's name (and phone) carried in `holders`


class BundleError(Exception):
    pass


def sign_bundle(body: dict[str, Any], event_key: Ed25519PrivateKey, collector_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The bundle as sent: its body, signed over the canonical JSON by the event key and by the collector's key."""
    message = canonical_json(body)
    return {"body": body, "signature": event_key.sign(message).hex(), "public_key": public_hex(event_key),
            "collector_signature": collector_key.sign(message).hex(), "collector_key": public_hex(collector_key)}


def encode_bundle(bundle: dict[str, Any]) -> bytes:
    return canonical_json(bundle)


def verify_bundle(data: bytes, event_public_key: str, event_id: str,
                  collector_key: str | None = None) -> dict[str, Any]:
    """The bundle body, once its signature(s) and event are checked; BundleError with the reason otherwise.

    With `collector_key`, the collector's signature is required too (and face data may be trusted)."""
    try:
        raw = json.loads(data)
        body, signature = raw["body"], raw["signature"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: JSON nested too deeply
        raise BundleError("not a StallPay bundle") from None
    if not isinstance(body, dict) or not isinstance(signature, str):
        raise BundleError("not a StallPay bundle")
    try:
        message = canonical_json(body)
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") is valid JSON but not text that was ever signed
        raise BundleError("not a StallPay bundle (invalid text)") from None
    if not verify(event_public_key, signature, message):
        raise BundleError("bundle signature is not the event key's: refused")
    if collector_key is not None and not verify(collector_key, str(raw.get("collector_signature", "")), message):
        raise BundleError("bundle is not signed by this event's collector key: refused")
    if body.get("format") != FORMAT:
        raise BundleError(f"unsupported bundle format {body.get('format')!r}")
    if body.get("event_id") != event_id:
        raise BundleError(f"bundle is for event {body.get('event_id')!r}, this terminal is in {event_id!r}")
    return body


def venue_of(venues: Any, terminal_id: int) -> str:
    """The venue a bundle's `venues` section places this terminal at ('' when none or the section is malformed).

    `venues` (only in the bundle written for all terminals at once): {"terminals": {terminal id: venue},
    "prices": {venue: {vendor: {product id: price}}}}; a bundle built for one terminal has its prices in place."""
    if not isinstance(venues, dict) or not isinstance(venues.get("terminals"), dict):
        return ""
    venue = venues["terminals"].get(str(terminal_id))
    return venue if isinstance(venue, str) else ""


def with_venue_prices(catalogue: dict[str, list[dict]], overrides: Any) -> dict[str, list[dict]]:
    """The catalogue with a venue's prices ({vendor: {product id: price}}) in place of the vendors' ones; an
    override that is not a positive integer is ignored (the vendor's price stands)."""
    if not isinstance(overrides, dict) or not overrides:
        return catalogue
    out: dict[str, list[dict]] = {}
    for vendor, items in catalogue.items():
        own = overrides.get(vendor)
        if not isinstance(own, dict) or not isinstance(items, list):
            out[vendor] = items
            continue
        out[vendor] = [{**item, "price": own[item["id"]]} if isinstance(item, dict)
                       and isinstance(item.get("id"), str) and _price(own.get(item["id"])) else item for item in items]
    return out


def _price(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
