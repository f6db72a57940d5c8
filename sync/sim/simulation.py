"""A whole event through the real code paths: emulated wristbands, the wallet, the journal, signed batches,
then ingest into a collector database and a check that the books agree with the cards.

Terminal 1 is the cashier (issue, top-up, checkout); the others sell. Offline
terminals sync only at the end (late, twice, out of order); a torn write is
retried at once on the same terminal, which settles the pending intent.

After the event (everything synced): `replace_rate` of the cards are lost: the
collector blocks each and quotes its ledger balance, the cashier puts it on a new
wristband (`Wallet.replace`); then `refund_rate` of the open cards are refunded
at the collector. `on_cards` is like-for-like with `outstanding`: it sums the
wristbands still in circulation, i.e. it excludes lost (replaced) cards and cards
refunded at the collector, whose physical balances are reported apart
(`on_replaced_cards`, `on_refunded_cards`; the latter must equal what the
collector refunded plus the comp credit it forfeited on them).
"""

from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path
from typing import Any

from sync.collector.event import init_event, set_setting
from sync.collector.ingest import ingest_paths
from sync.collector.ledger import reconcile, replacement_quote
from sync.collector.refunds import refund_cards
from sync.collector.storage import open_store
from sync.collector.summary import summary
from sync.format.keys import public_hex, signing_key
from terminal.uplink.export import export_to_dir


class SimError(Exception):
    pass


EVENT = "sim-event"


def _seeded(seed: int, label: str, n: int) -> bytes:
    return hashlib.sha256(f"{seed}:{label}".encode()).digest()[:n]


class _Station:
    def __init__(self, out: Path, tid: int, master_key: bytes, seed: int) -> None:
        from terminal.nfc.emulated import EmulatedReader
        from terminal.wallet.journal import open_journal
        from terminal.wallet.operations import Wallet
        from terminal.wallet.rules import Limits

        self.tid = tid
        self.journal = open_journal(out / "terminals" / f"t{tid}" / "journal.db", terminal_id=tid, event_id=EVENT,
                                    currency="EUR")
        self.wallet = Wallet(journal=self.journal, master_key=master_key, event_id=EVENT, terminal_id=tid,
                             limits=Limits(max_balance=1_000_000, max_sale=20_000, void_window_s=3600))
        self.key = signing_key(_seeded(seed, f"terminal-{tid}", 32))
        self.reader = EmulatedReader(f"sim reader {tid}")

    def tap(self, card: Any, action: str, *args: Any, **kwargs: Any) -> Any:
        """One tap; a torn write is followed by a second tap of the same card that settles it."""
        from terminal.nfc.ntag import identify
        from terminal.wallet.card import CardError
        from terminal.wallet.rules import Declined

        for attempt in range(3):
            self.reader.place(card)
            try:
                tag = identify(self.reader.wait_for_card(1))
                if attempt:
                    try:
                        state = self.wallet.read(tag)  # the re-tap settles the pending intent
                        return state if action == "read" else None
                    except Declined as exc:
                        if exc.code != "blank":
                            raise
                        # a torn issue left the wristband blank: the cashier issues it again
                return getattr(self.wallet, action)(tag, *args, **kwargs)
            except CardError:
                continue
            finally:
                self.reader.remove()
        raise SimError(f"card could not be settled on terminal {self.tid}")


def simulate(*, terminals: int, cards: int, sales: int, seed: int, tear_rate: float = 0.0,
             offline_terminals: int = 0, out: Path, db: str | None = None, replace_rate: float = 0.0,
             refund_rate: float = 0.0) -> dict[str, Any]:
    try:
        from terminal.nfc.emulator import NtagEmulator
        from terminal.wallet.rules import Declined
    except ImportError as exc:
        raise SimError(f"the card emulator or wallet is missing: {exc}") from None
    if terminals < 1 or cards < 1 or sales < 0:
        raise SimError("need at least one terminal and one card, and zero or more sales")
    if not 0 <= tear_rate < 1:
        raise SimError("--tear-rate must be in [0, 1)")
    for name, rate in (("--replace-rate", replace_rate), ("--refund-rate", refund_rate)):
        if not 0 <= rate <= 1:
            raise SimError(f"{name} must be in [0, 1]")
    if not 0 <= offline_terminals < max(terminals, 2):
        raise SimError("--offline-terminals must leave at least one terminal online")
    rng = random.Random(seed)
    if (out / "terminals").exists():
        shutil.rmtree(out / "terminals")
    if (out / "batches").exists():
        shutil.rmtree(out / "batches")
    master = _seeded(seed, "master", 16)
    stations = [_Station(out, t, master, seed) for t in range(1, terminals + 1)]
    cashier, vendors = stations[0], stations[1:] or stations[:1]
    wristbands = [NtagEmulator("NTAG215", uid=b"\x04" + _seeded(seed, f"uid-{c}", 6)) for c in range(cards)]

    def maybe_tear(card: Any) -> None:
        if tear_rate and rng.random() < tear_rate:
            card.tear_after(rng.randint(1, 14))

    declines = 0
    for card in wristbands:
        maybe_tear(card)
        cashier.tap(card, "issue", rng.randint(1000, 8000), method=rng.choice(["cash", "cash", "card", "comp"]))
    last_sale: dict[int, Any] = {}
    for _ in range(sales):
        card = rng.choice(wristbands)
        if rng.random() < 0.08:
            maybe_tear(card)
            cashier.tap(card, "topup", rng.randint(500, 3000), method=rng.choice(["cash", "card"]))
            continue
        station = rng.choice(vendors)
        amount = rng.randint(100, 1500)
        maybe_tear(card)
        try:
            station.tap(card, "charge", amount, items=[{"name": f"item-{amount % 7}", "qty": 1, "unit_price": amount}])
            last_sale[station.tid] = card
        except Declined:
            declines += 1
        if rng.random() < 0.03 and station.tid in last_sale:
            try:
                station.tap(last_sale.pop(station.tid), "void")
            except Declined:
                declines += 1
    for card in rng.sample(wristbands, k=max(0, cards // 20)):
        try:
            cashier.tap(card, "close")
        except Declined:
            declines += 1

    # export everything (the USB path); offline terminals come in late, out of order and twice
    batch_dir = out / "batches"
    offline = {s.tid for s in vendors[len(vendors) - offline_terminals:]} if offline_terminals else set()
    for s in stations:
        export_to_dir(s.journal, s.key, batch_dir / ("late" if s.tid in offline else "online") / f"t{s.tid}",
                      batch_size=200)
    target = db or str(out / "collector.db")
    if not db and Path(target).exists():
        Path(target).unlink()
    store = open_store(target)
    init_event(store, EVENT, "EUR")
    # the collector re-checks the limits the simulated terminals run with (no NTAG cap, no daily ceiling)
    set_setting(store, "card_limits", {"max_balance": 1_000_000, "ntag_max_balance": 1_000_000,
                                       "credit_per_day": 10**12})
    from sync.collector.enrollment import enroll

    for s in stations:
        enroll(store, s.tid, public_hex(s.key), role="cashier" if s is cashier else "sale", vendor=f"vendor-{s.tid}")
    results = ingest_paths(store, [batch_dir / "online"], workers=0) if (batch_dir / "online").exists() else []
    reconcile(store)
    before_late = summary(store)["outstanding"]
    late = sorted((batch_dir / "late").rglob("*.spb")) if offline else []
    rng.shuffle(late)
    results += ingest_paths(store, late, workers=0) + ingest_paths(store, late, workers=0)
    reconcile(store)

    card_ids = {id(card): cashier.tap(card, "read").card_id for card in wristbands}
    closed_ids = {r["card_id"] for r in store.query("SELECT DISTINCT card_id FROM entries WHERE op = 'close' "
                                                    "AND phase = 'commit'")}
    in_use = [c for c in wristbands if card_ids[id(c)] not in closed_ids]
    lost = rng.sample(in_use, k=round(len(in_use) * replace_rate))
    for n, card in enumerate(lost):
        quote = replacement_quote(store, card_ids[id(card)], reason="lost (sim)")
        fresh = NtagEmulator("NTAG215", uid=b"\x05" + _seeded(seed, f"replacement-{n}", 6))
        maybe_tear(fresh)
        state = cashier.tap(fresh, "replace", old_card_id=quote["card_id"], balance=quote["balance"],
                            comp=quote["comp"]).state
        wristbands.append(fresh)
        card_ids[id(fresh)] = state.card_id
    if lost:
        export_to_dir(cashier.journal, cashier.key, batch_dir / "replacements" / f"t{cashier.tid}", batch_size=200)
        results += ingest_paths(store, [batch_dir / "replacements"], workers=0)
        reconcile(store)
    replaced_ids = {card_ids[id(c)] for c in lost}
    open_cards = [cid for cid in card_ids.values() if cid not in closed_ids and cid not in replaced_ids]
    to_refund = sorted(rng.sample(open_cards, k=round(len(open_cards) * refund_rate)))
    refunds = refund_cards(store, to_refund, by="sim") if to_refund else []
    refunded_ids = {r["card_id"] for r in refunds}
    s = summary(store)

    audit = _Station(out, 65000, master, seed)
    on_cards = on_replaced = on_refunded = 0
    for card in wristbands:
        state = audit.tap(card, "read")
        balance = state.balance if state.status != "closed" else 0
        cid = card_ids[id(card)]
        if cid in replaced_ids:
            on_replaced += balance
        elif cid in refunded_ids:
            on_refunded += balance
        else:
            on_cards += balance
    refused = [r.as_dict() for r in results if not r.ok]
    refunded_match = on_refunded == sum(r["refunded"] + r["complimentary_forfeited"] for r in refunds)
    return {
        "deposited": s["deposited"], "spent": s["spent"], "refunded": s["refunded"],
        "forfeited": s["forfeited_complimentary"], "outstanding": s["outstanding"],
        "on_cards": on_cards, "books_balance": s["outstanding"] == on_cards and s["books_balance"] and refunded_match,
        "outstanding_before_late_sync": before_late,
        "replaced_cards": len(lost), "on_replaced_cards": on_replaced,
        "refunded_at_collector": s["refunded_at_collector"], "refunded_cards": len(refunds),
        "on_refunded_cards": on_refunded,
        "pending": s["pending"], "anomalies": s["anomalies"], "cards_by_status": s["cards_by_status"],
        "entries": s["entries"], "batches": sum(1 for r in results if r.status == "stored"),
        "refused": refused, "declines": declines, "database": target, "batch_dir": str(batch_dir),
    }
