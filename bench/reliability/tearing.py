"""Tearing: a card pulled from the in-process reader at a random exchange (and a random byte of a write), over
every operation and chip type. After each tear the next tap settles it: nothing pending, journal = card; at the
end the collector's books balance with no anomaly and no innocent card blocked."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.reliability.books import books_ok, collector_books
from terminal.nfc.emulator import NtagEmulator
from terminal.wallet.card import CardError
from terminal.wallet.operations import TapAgain
from terminal.wallet.rules import Declined
from tests.wallet.conftest import Till, make_till
from tests.wallet.test_tearing import _run

# chip name -> emulator factory; a DESFire emulator adds itself here when it exists
CHIPS: dict[str, Callable[[], Any]] = {name: (lambda n=name: NtagEmulator(product=n))
                                       for name in ("NTAG213", "NTAG215", "NTAG216", "MF0UL21")}
OPS = ("issue", "topup", "sale", "void", "close", "replace")


def _prepare(till: Till, chip: str, op: str, rng: random.Random, tap: Callable[[Any], Any]) -> Any:
    card = CHIPS[chip]()
    till.cards.append(card)
    if op in ("issue", "replace"):
        return card
    till.wallet.issue(tap(card), rng.randrange(1000, 5000), method=rng.choice(["cash", "comp"]))
    if op == "void":
        till.wallet.charge(tap(card), rng.randrange(1, 900))
    return card


def tear_once(till: Till, chip: str, op: str, rng: random.Random, tap: Callable[[Any], Any] | None = None
              ) -> str | None:
    """One torn operation and the tap that settles it (`tap`: how a card reaches the wallet, the in-process
    reader by default); returns a failure description or None."""
    tap = tap or till.tap
    card = _prepare(till, chip, op, rng, tap)
    tag = tap(card)
    card.tear_after(rng.randrange(1, 18), rng.choice([None, 0, 1, 2, 3, 4]))
    try:
        _run(till, op, card, tag, rng)
    except (TapAgain, CardError):
        pass
    except Declined as exc:
        return f"{chip} {op}: declined {exc.code} on a torn tap"
    card.tear_after(10**9)  # cancel a tear point the operation did not reach
    try:
        state = till.wallet.read(tap(card))
        balance: int | None = state.balance
        card_id = state.card_id
    except Declined as exc:
        if exc.code != "blank":
            return f"{chip} {op}: next tap declined {exc.code}: {exc.message}"
        balance, card_id = None, None
    if till.wallet.pending():
        return f"{chip} {op}: intent left pending"
    if card_id is not None and till.journal_balance(card_id) != balance:
        return f"{chip} {op}: journal {till.journal_balance(card_id)} != card {balance}"
    return None


def run(tears: int, seed: int = 15) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.monotonic()
    failures: list[str] = []
    per_chip = dict.fromkeys(CHIPS, 0)
    books_checks = books_failed = 0
    with tempfile.TemporaryDirectory(prefix="campaign-tear-") as tmp:
        till = make_till(Path(tmp))
        for i in range(tears):
            chip, op = rng.choice(list(CHIPS)), OPS[i % len(OPS)]
            per_chip[chip] += 1
            failure = tear_once(till, chip, op, rng)
            if failure:
                failures.append(failure)
            if (i + 1) % 2000 == 0 or i + 1 == tears:  # the collector's view of everything so far
                books_checks += 1
                books = collector_books(till.wallet.journal, Path(tmp) / f"collector-{i}.db")
                if not books_ok(books):
                    books_failed += 1
                    failures.append(f"books after {i + 1} tears: {books}")
        till.reader.close()
    return {"tears": tears, "reader": "in-process", "per_chip": per_chip, "ops": list(OPS),
            "books_checks": books_checks, "books_failed": books_failed, "failures": len(failures),
            "failure_samples": failures[:5], "seconds": round(time.monotonic() - started, 1)}


def run_pcsc(tears: int, seed: int = 16) -> dict[str, Any]:
    """Tears through the real stack: pyscard -> pcscd -> vpcd -> emulated card (pcscd as the tests start it)."""
    import fcntl

    from terminal.nfc.pcsc import PcscReader
    from terminal.nfc.vpcd import VpcdBridge
    from tests.conftest import PCSC_SESSION_LOCK, VPCD_PORT, Pcscd
    from tests.wallet.test_pcsc_wallet import PcscTill

    rng = random.Random(seed)
    started = time.monotonic()
    failures: list[str] = []
    per_chip = dict.fromkeys(CHIPS, 0)
    with open(PCSC_SESSION_LOCK, "a") as lock, tempfile.TemporaryDirectory(prefix="campaign-pcsc-") as tmp:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest sessions using pcscd take turns with us
        daemon = Pcscd()
        daemon.ensure()
        bridge = VpcdBridge(port=VPCD_PORT).start()
        try:
            with PcscReader(bridge.reader_name) as reader:
                ptill = PcscTill(make_till(Path(tmp)), bridge, reader)
                for i in range(tears):
                    chip, op = rng.choice(list(CHIPS)), OPS[i % len(OPS)]
                    per_chip[chip] += 1
                    failure = tear_once(ptill.till, chip, op, rng, ptill.tap)
                    if failure:
                        failures.append(failure)
                if ptill.connection is not None:
                    ptill.connection.close()
                books = collector_books(ptill.till.wallet.journal, Path(tmp) / "collector.db")
                if not books_ok(books):
                    failures.append(f"books: {books}")
        finally:
            bridge.stop()
            daemon.close()
    return {"tears": tears, "reader": "pcscd+vpcd", "per_chip": per_chip, "books_balance": books["books_balance"],
            "failures": len(failures), "failure_samples": failures[:5], "seconds": round(time.monotonic() - started, 1)}
