"""Card wallet benchmark: exchanges per sale / top-up, software time per sale, journal commit time.

`per_sale` puts the two tiers next to each other: card exchanges per sale and software time per sale.
Both card tiers: NTAG215 (the top-level fields; a sale is one FAST_READ, one PWD_AUTH and the six page
writes of a compact 24-byte record) and DESFire EV2 (`desfire_ev2`: AES EV2 secure messaging,
the sale authenticated with the debit key; a top-up authenticates twice, debit to read then credit).

Prints JSON. Card I/O is the in-process emulator; its time is measured at the
connection and subtracted, so `software_ms` is what the terminal itself spends
(purse crypto, rules, journal with fsync). Tap-to-result is modelled at 20 ms
per card exchange, as an ACR122U with an NTAG215 takes about that.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from terminal.config import new_desfire_keys
from terminal.nfc.desfire import DesfireCard
from terminal.nfc.desfire_purse import DesfirePurse
from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator import DesfireEmulator, NtagEmulator
from terminal.nfc.ntag import identify
from terminal.wallet.epochs import BandKeys
from terminal.wallet.journal import open_journal
from terminal.wallet.operations import Wallet
from terminal.wallet.rules import Limits

EXCHANGE_MS = 20.0
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))


class TimedConnection:
    """Wraps a connection and adds up the time spent in card I/O."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.atr = inner.atr
        self.io_s = 0.0

    def transmit(self, apdu: bytes) -> bytes:
        t = time.perf_counter()
        try:
            return self.inner.transmit(apdu)
        finally:
            self.io_s += time.perf_counter() - t

    def close(self) -> None:
        self.inner.close()


def main() -> None:
    ntag = measure("NTAG215")
    desfire = measure("DESFIRE_EV2")
    per_sale = {
        name: {"exchanges": m["exchanges_per_sale"], "software_ms_median": m["software_ms_per_sale"]["median"],
               "software_ms_p95": m["software_ms_per_sale"]["p95"],
               "tap_to_result_ms_modelled": m["tap_to_result_ms_modelled"]}
        for name, m in (("NTAG215", ntag), ("DESFIRE_EV2", desfire))
    }
    per_sale["NTAG215_key_epoch_move"] = measure_epoch_move("NTAG215")
    out = {"bench": "wallet", "per_sale": {**per_sale, "target_exchanges": 8}, **ntag, "desfire_ev2": desfire}
    print(json.dumps(out, indent=2))


def measure_epoch_move(product: str) -> dict:
    """Exchanges of the first sale of a band in a new key epoch (`collector rotate-keys`), with its history full
    (every slot holds a record of the old epoch, re-sealed in place), and of the sale after it."""
    workdir = Path(tempfile.mkdtemp(prefix="stallpay-bench-"))
    old_key, new_key = os.urandom(16), os.urandom(16)

    def wallet(tid: int, band: BandKeys) -> Wallet:
        journal = open_journal(workdir / f"t{tid}.db", terminal_id=tid, event_id="bench", currency="EUR")
        return Wallet(journal=journal, master_key=old_key, event_id="bench", terminal_id=tid,
                      limits=Limits(max_balance=10**9, max_sale=10**6), band_keys=band)

    old = wallet(1, BandKeys.single(old_key, "bench"))
    new = wallet(2, BandKeys(event_id="bench", masters={0: old_key, 1: new_key}, current=1))
    reader, card = EmulatedReader(), NtagEmulator(product)

    def tap():
        reader.remove()
        reader.place(card)
        return identify(reader.wait_for_card(0), lazy=True)

    old.issue(tap(), 100_000)
    for _ in range(6):
        old.charge(tap(), 100)
    moving = tap()
    history = len(new.charge(moving, 100).state.history)
    after = tap()
    new.charge(after, 100)
    return {"moving_sale_exchanges": moving.exchanges, "records_on_band": history,
            "next_sale_exchanges": after.exchanges}


def measure(product: str) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="stallpay-bench-"))
    journal = open_journal(workdir / "journal.db", terminal_id=1, event_id="bench", currency="EUR")
    desfire_keys = {k: bytes.fromhex(v) for k, v in new_desfire_keys().items() if k != "escrow_private"}
    wallet = Wallet(journal=journal, master_key=os.urandom(16), event_id="bench", terminal_id=1,
                    limits=Limits(max_balance=10**9, max_sale=10**6), desfire_keys=desfire_keys)
    reader = EmulatedReader()
    card = DesfireEmulator(product) if product.startswith("DESFIRE") else NtagEmulator(product)
    reader.place(card)

    def tap():
        reader.remove()
        reader.place(card)
        conn = TimedConnection(reader.wait_for_card(0))
        if isinstance(card, DesfireEmulator):
            return conn, DesfirePurse(DesfireCard(conn))
        return conn, identify(conn, lazy=True)

    conn, tag = tap()
    wallet.issue(tag, 5_000_000)
    conn.close()

    def run(op: str) -> tuple[float, float, int]:
        conn, tag = tap()
        t = time.perf_counter()
        if op == "sale":
            wallet.charge(tag, 250, items=[{"sku": "b", "name": "Beer", "qty": 1, "unit_price": 250}])
        else:
            wallet.topup(tag, 1000, method="cash")
        total = time.perf_counter() - t
        conn.close()
        return total, conn.io_s, tag.exchanges

    sale_sw, sale_ex, top_sw, top_ex = [], [], [], []
    for _ in range(ROUNDS):
        total, io, ex = run("sale")
        sale_sw.append((total - io) * 1000)
        sale_ex.append(ex)
        total, io, ex = run("topup")
        top_sw.append((total - io) * 1000)
        top_ex.append(ex)

    commits = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        journal.append("decline", "info", data={"code": "bench"})
        commits.append((time.perf_counter() - t) * 1000)

    def pct(values: list[float], q: float) -> float:
        return round(statistics.quantiles(values, n=100)[int(q) - 1], 3)

    sale_exchanges = max(sale_ex)
    median_sw = statistics.median(sale_sw)
    return {
        "card": f"{product} (emulated, in-process)",
        "exchanges_per_sale": sale_exchanges,
        "exchanges_per_topup": max(top_ex),
        "target_exchanges_per_sale": 8,
        "software_ms_per_sale": {"median": round(median_sw, 3), "p95": pct(sale_sw, 95)},
        "software_ms_per_topup": {"median": round(statistics.median(top_sw), 3), "p95": pct(top_sw, 95)},
        "target_software_ms_median": 5.0,
        "journal_commit_ms": {"median": round(statistics.median(commits), 3), "p95": pct(commits, 95),
                              "note": "SQLite WAL, synchronous=FULL (fsync per commit)"},
        "tap_to_result_ms_modelled": round(median_sw + sale_exchanges * EXCHANGE_MS, 1),
        "exchange_ms_assumed": EXCHANGE_MS,
        "target_tap_to_result_ms": 300,
        "reference_ibonus_advertised_ms": 2000,
        "rounds": ROUNDS,
    }


if __name__ == "__main__":
    main()
