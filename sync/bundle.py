"""Bundles: what the collector sends back to terminals, signed with the event key.

Catalogue and prices per vendor, operators, hotlist, settings, the collector's
clock, face-gallery changes, and how far each terminal's journal is safely
stored (so the terminal can mark it delivered). Terminals verify the signature
with the event public key and refuse a bundle older than the one they applied.

Face data (account balances, templates, erasures) credits guests, so it must not be
signable by a terminal: the event key above is derived from the event master key,
which every terminal holds (it needs it for wristbands). Bundles therefore carry a
second signature by the *collector key*, an Ed25519 key that lives only in the
collector's database (`collector_signing_key`); terminals learn its public half when
they pair by code (or from the organizer's key file) and apply face data only from
bundles it signed. A terminal that does not know it still gets everything else.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.batch import canonical_json
from sync.central_operators import for_bundle as operators_for_bundle
from sync.enrollment import get_terminal
from sync.event import get_meta, get_setting, meta_seed, require_event
from sync.face import confirmed_by, expire_templates, gallery_changes, refused_credits, snapshot_balances
from sync.face_gallery import collector_box_public, gallery_for
from sync.face_keys import SealError, box_key, open_template
from sync.ingest import contiguous_seq
from sync.keys import event_signing_key, public_hex, signing_key, verify
from sync.ledger import hotlist
from sync.storage import Store
from terminal.config import EventKeys

if TYPE_CHECKING:
    from sync.terminal_side import TerminalSync

FORMAT = "stallpay-bundle/1"


class BundleError(Exception):
    pass


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
        "catalogue": catalogue,
        "operators": operators_for_bundle(store),
        "settings": {"max_days_unsynced": get_setting(store, "max_days_unsynced"),
                     "face": {k: get_setting(store, k) for k in ("event_end", "face_retention_days",
                                                                 "face_sync_window_h")}},
        "acks": {str(t): contiguous_seq(store, t) for t in terminals},
        "face": {
            # available balance per active account (ledger balance minus open authorizations), as of `acks`
            "balances": snapshot_balances(store),
            "gallery_after": gallery_after,
            # templates sealed for this terminal alone, and only when its role takes face payments
            "gallery": gallery_for(store, event_id, gallery_changes(store, gallery_after),
                                   get_terminal(store, terminal_id) if terminal_id is not None else None),
            "box_key": collector_box_public(store),
            "erasures_confirmed": confirmed_by(store, terminal_id) if terminal_id is not None else [],
            "refused_credits": refused_credits(store, terminal_id) if terminal_id is not None else [],
        },
    }
    key = event_signing_key(keys.master_key, keys.event_id)
    collector = collector_signing_key(store)
    message = canonical_json(body)
    return {"body": body, "signature": key.sign(message).hex(), "public_key": public_hex(key),
            "collector_signature": collector.sign(message).hex(), "collector_key": public_hex(collector)}


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


def apply_bundle_bytes(t: TerminalSync, data: bytes) -> dict[str, Any]:
    body = verify_bundle(data, t.event_public_key, t.keys.event_id, t.collector_key)
    return apply_bundle(t, body, face_trusted=t.collector_key is not None)


def apply_bundle(t: TerminalSync, body: dict[str, Any], *, face_trusted: bool = False) -> dict[str, Any]:
    """Install a verified bundle on the terminal: hotlist, catalogue, operators, settings, clock, acknowledgement."""
    from datetime import UTC, datetime

    from terminal.operator_bundle import apply_operators
    from terminal.wallet.hotlist import Hotlist

    last = t.state.get("bundle_issued_at")
    if last is not None and body["issued_at"] < last:
        raise BundleError(f"bundle from {body['issued_at']} is older than the one applied ({last}): refused")
    # face first: a checked-out guest's template is gone before anything else of the bundle is applied
    face = _apply_face(t, body) if face_trusted else {"face": "skipped: collector key unknown (pair by code)"}
    Hotlist(t.journal.db).replace_all([(int(cid), str(reason)) for cid, reason in body["hotlist"]])
    for key in ("catalogue", "operators", "settings"):
        t.state.set(f"bundle_{key}", body.get(key))
    catalogue = _apply_catalogue(t, body.get("catalogue"))
    operators = apply_operators(t.config.data_dir, t.config.terminal.vendor, body.get("operators"))
    t.state.set("bundle_issued_at", body["issued_at"])
    try:
        collector_time = datetime.fromisoformat(body["clock"].replace("Z", "+00:00"))
        t.state.set("clock_offset_ms", int((collector_time - datetime.now(UTC)).total_seconds() * 1000))
    except (KeyError, ValueError, AttributeError):
        pass
    ack = body.get("acks", {}).get(str(t.config.terminal.id))
    if isinstance(ack, int):
        t.state.acknowledge(t.journal, ack, t.policy)
    return {"hotlist": len(body["hotlist"]), "acked_seq": t.state.acked_seq, "issued_at": body["issued_at"],
            "products": catalogue, **operators, **face}


def _apply_catalogue(t: TerminalSync, catalogue: Any) -> int | None:
    """This vendor's products replace the terminal's catalogue file; the running kiosk sees the new revision.
    A bundle without an entry for this vendor leaves the catalogue alone (None)."""
    from terminal.app.catalogue import CatalogueError
    from terminal.catalogue_store import CatalogueStore, products_from_bundle

    vendor = t.config.terminal.vendor
    if not isinstance(catalogue, dict) or not isinstance(catalogue.get(vendor), list):
        return None
    store = CatalogueStore(t.config.data_dir / "catalogue.db")
    try:
        return store.replace_all(products_from_bundle(catalogue, vendor, store.catalogue()))
    except CatalogueError as exc:
        raise BundleError(f"catalogue for {vendor!r}: {exc}") from None
    finally:
        store.close()


def _apply_face(t: TerminalSync, body: dict[str, Any]) -> dict[str, Any]:
    """Face balances into the snapshot table, gallery changes into `FacePay`, erasure confirmations acknowledged."""
    from terminal.camera.service import GalleryChange
    from terminal.wallet.face_accounts import FaceAccounts

    face = body.get("face")
    if not isinstance(face, dict):
        return {}
    as_of = body.get("acks", {}).get(str(t.config.terminal.id))
    balances = face.get("balances") or {}
    if isinstance(as_of, int) and isinstance(balances, dict):
        FaceAccounts(t.journal).replace_snapshot(balances, as_of_seq=as_of, issued_at=body["issued_at"])
    seen = int(t.state.get("face_gallery_seen", 0))
    after = face.get("gallery_after", 0)
    if not isinstance(after, int) or after > seen:
        raise BundleError(f"bundle carries gallery changes after {after!r}, this terminal has applied up to {seen}")
    peer = face.get("box_key")
    key = box_key(t.box, peer, t.keys.event_id, t.config.terminal.id) if isinstance(peer, str) else None
    if isinstance(peer, str):
        t.state.set("collector_box_key", peer)  # enrollment uploads are sealed for it (TerminalSync.seal_enrollment)
    changes, last = [], seen
    for c in face.get("gallery") or []:
        if not isinstance(c, dict) or not isinstance(c.get("change_id"), int) or c["change_id"] <= seen:
            continue
        account = str(c.get("account_id"))
        if c.get("action") == "erase":
            changes.append(GalleryChange(account, erase=True))
        elif c.get("action") == "put" and key is not None:
            try:
                opened = open_template(key, t.keys.event_id, account, str(c.get("template")))
            except SealError as exc:
                raise BundleError(str(exc)) from None
            changes.append(GalleryChange(account, template=opened["template"], phone_digits=opened["phone_digits"],
                                         wristband_uid=opened["wristband_uid"], expires_at=int(c.get("expires_at")
                                                                                               or 0)))
        last = max(last, c["change_id"])
    face_pay = t.face_pay()
    stored, erased = face_pay.apply_gallery_changes(changes) if changes else (0, 0)
    confirmed = [a for a in face.get("erasures_confirmed") or [] if isinstance(a, str)]
    if confirmed:
        face_pay.confirm_erasures_sent(confirmed)
    t.state.set("face_gallery_seen", last)
    refused = [r for r in face.get("refused_credits") or [] if isinstance(r, dict)]
    t.state.set("face_refused_credits", refused)
    from sync.face_window import mark_synced

    mark_synced(t.state)
    return {"face_accounts": len(balances), "templates_stored": stored, "templates_erased": erased,
            "face_refused_credits": len(refused)}
