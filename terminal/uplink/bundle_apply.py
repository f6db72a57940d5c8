"""Applying a verified bundle on the terminal, each part through its owner: the hotlist (`Hotlist.replace_all`),
the catalogue store, face balances (`FaceAccounts`) and the face gallery (`FacePay`), the sync state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sync.format.bundle import BundleError, venue_of, verify_bundle, with_venue_prices
from sync.format.face_keys import SealError, box_key, open_template
from terminal.uplink.card_holders import apply_card_holders

if TYPE_CHECKING:
    from terminal.uplink.terminal_side import TerminalSync


def apply_bundle_bytes(t: TerminalSync, data: bytes) -> dict[str, Any]:
    body = verify_bundle(data, t.event_public_key, t.keys.event_id, t.collector_key)
    return apply_bundle(t, body, face_trusted=t.collector_key is not None)


def apply_bundle(t: TerminalSync, body: dict[str, Any], *, face_trusted: bool = False) -> dict[str, Any]:
    """Install a verified bundle on the terminal: hotlist, catalogue, operators, settings, clock, acknowledgement."""
    from datetime import UTC, datetime

    from terminal.uplink.operator_bundle import apply_operators
    from terminal.wallet.hotlist import Hotlist

    last = t.state.get("bundle_issued_at")
    if last is not None and body["issued_at"] < last:
        raise BundleError(f"bundle from {body['issued_at']} is older than the one applied ({last}): refused")
    # face first: a checked-out guest's template is gone before anything else of the bundle is applied
    face = _apply_face(t, body) if face_trusted else {"face": "skipped: collector key unknown (pair by code)"}
    if face_trusted:
        from terminal.uplink.terminal_keys import apply_key_epoch

        face.update(apply_key_epoch(t, body))
    Hotlist(t.journal.db).replace_all([(int(cid), str(reason)) for cid, reason in body["hotlist"]])
    # settings: read at every operation by the wallet (card limits, the event's dates: `terminal.wallet.event_window`)
    for key in ("catalogue", "operators", "settings"):
        t.state.set(f"bundle_{key}", body.get(key))
    catalogue = _apply_catalogue(t, _at_own_venue(t, body))
    operators = apply_operators(t.config.data_dir, t.config.terminal.vendor, body.get("operators"))
    apply_card_holders(t.state, body.get("holders"))
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


def _at_own_venue(t: TerminalSync, body: dict[str, Any]) -> Any:
    """The bundle's catalogue at this terminal's venue: a bundle written for all terminals at once (USB) carries
    where each stands and every venue's prices; one built for this terminal has its venue's prices in place."""
    catalogue, venues = body.get("catalogue"), body.get("venues")
    venue = venue_of(venues, t.config.terminal.id)
    if not venue or not isinstance(catalogue, dict) or not isinstance(venues.get("prices"), dict):
        return catalogue
    return with_venue_prices(catalogue, venues["prices"].get(venue))


def _apply_catalogue(t: TerminalSync, catalogue: Any) -> int | None:
    """This vendor's products replace the terminal's catalogue file; the running kiosk sees the new revision.
    A bundle without an entry for this vendor leaves the catalogue alone (None)."""
    from terminal.catalogue import CatalogueError
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
        listed = face.get("frozen")  # accounts declined by name (`face_frozen`); absent from older collectors
        frozen = [a for a in listed if isinstance(a, str)] if isinstance(listed, list) else []
        FaceAccounts(t.journal).replace_snapshot(balances, as_of_seq=as_of, issued_at=body["issued_at"],
                                                 frozen=frozen)
    seen = int(t.state.get("face_gallery_seen", 0))
    after = face.get("gallery_after", 0)
    if not isinstance(after, int) or after > seen:
        raise BundleError(f"bundle carries gallery changes after {after!r}, this terminal has applied up to {seen}")
    peer = face.get("box_key")
    key = box_key(t.box, peer, t.keys.event_id, t.config.terminal.id) if isinstance(peer, str) else None
    if isinstance(peer, str):
        t.learn_collector_box_key(peer)  # enrollment uploads are sealed for it (TerminalSync.seal_enrollment)
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
                                                                                               or 0),
                                         phone_online=opened["phone_online"]))
        last = max(last, c["change_id"])
    face_pay = t.face_pay()
    stored, erased = face_pay.apply_gallery_changes(changes) if changes else (0, 0)
    confirmed = [a for a in face.get("erasures_confirmed") or [] if isinstance(a, str)]
    if confirmed:
        face_pay.confirm_erasures_sent(confirmed)
    t.state.set("face_gallery_seen", last)
    refused = [r for r in face.get("refused_credits") or [] if isinstance(r, dict)]
    t.state.set("face_refused_credits", refused)
    from terminal.uplink.face_window import mark_synced

    mark_synced(t.state)
    return {"face_accounts": len(balances), "templates_stored": stored, "templates_erased": erased,
            "face_refused_credits": len(refused)}
