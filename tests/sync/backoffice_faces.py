"""Face accounts in the back-office browser fixture's event, made the way they come about at an event.

A cashier point and a stall pair over HTTP with the real `collector serve`, with codes from
`stallpay collector pair` (what the organizer types). The cashier enrolls a guest: the camera's template,
sealed for the collector alone together with the phone digits the guest gives, is uploaded at once (the
collector keeps the digits only as a slow keyed hash); then it loads money. The stall sells by face with the
collector's online authorization. Both upload their journals as their sync does. The camera is the physical
edge: a guest's template is a seeded unit vector instead of the embedding of a photo."""

from __future__ import annotations

import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from terminal.wallet.face_accounts import FaceAccounts
from tests.sync.backoffice_pages import Till
from tests.sync.backoffice_server import Collector, stallpay

CASHIER_ID, STALL_ID = 50, 51  # the sim's terminals are 1..4; the other browser tests use 20 and 31


@dataclass(frozen=True)
class FaceGuest:
    """What the guest holds: the account printed on the receipt and the phone digits given at the desk."""

    account_id: str
    phone: str
    loaded: int
    spent: int

    @property
    def balance(self) -> int:
        return self.loaded - self.spent


def pairing_code(collector: Collector, role: str, vendor: str) -> str:
    done = subprocess.run([stallpay(), "collector", "pair", "--db", collector.dsn, "--role", role, "--vendor", vendor],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", done.stdout)
    assert found, f"no pairing code in {done.stdout!r}"
    return found.group(0)


def camera_template(seed: int) -> tuple[float, ...]:
    """What the embedding of a guest's face looks like: 128 numbers of unit length (no photo, no model)."""
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return tuple(float(x) for x in v / np.linalg.norm(v))


class FaceDesks:
    """The cashier point that enrolls and loads face accounts and the stall where guests pay by face."""

    def __init__(self, tmp: Path, collector: Collector) -> None:
        self.cashier = Till(tmp, collector, CASHIER_ID, vendor="Desk")
        assert self.cashier.client.pair(pairing_code(collector, "cashier", "Desk"))["role"] == "cashier"
        self.stall = Till(tmp, collector, STALL_ID, vendor="Grill")
        assert self.stall.client.pair(pairing_code(collector, "sale", "Grill"))["role"] == "sale"

    def enroll(self, phone: str, seed: int) -> str:
        """The account id the cashier's screen shows and prints (F<terminal>-<random>), enrolled at the collector."""
        account_id = f"F{CASHIER_ID}-{secrets.token_hex(4)}"
        ts = self.cashier.ts
        sealed = ts.seal_enrollment(account_id, camera_template(seed), re.sub(r"\D", "", phone))
        ts.send_enrollment(self.cashier.client, {"account_id": account_id, "template": sealed,
                                                 "wristband_uid": None, "expires_at": None})
        return account_id

    def load(self, account_id: str, amount: int) -> None:
        FaceAccounts(self.cashier.ts.journal).topup(account_id, amount, method="cash", operator="cashier")

    def sell(self, account_id: str, amount: int) -> None:
        """A purchase paid by face at the stall, authorized online by the collector (the guest gave the digits)."""
        sale = FaceAccounts(self.stall.ts.journal).sale(account_id, amount, score=0.82, second_factor="phone",
                                                        operator="stall", authorize=self.stall.client.face_authorizer())
        assert sale.online, "the stall did not reach the collector"

    def sync(self) -> None:
        for till in (self.cashier, self.stall):
            till.client.sync_once()


def add_face_guests(tmp: Path, collector: Collector,
                    guests: list[tuple[str, int, int]]) -> tuple[FaceDesks, list[FaceGuest]]:
    """Enroll, load and spend for each (phone, loaded, spent); every terminal has synced when this returns."""
    desks, made = FaceDesks(tmp, collector), []
    for n, (phone, loaded, spent) in enumerate(guests):
        account_id = desks.enroll(phone, seed=n + 1)
        desks.load(account_id, loaded)
        made.append(FaceGuest(account_id, phone, loaded, spent))
    desks.sync()  # the stall authorizes against money the collector has seen
    for guest in made:
        if guest.spent:
            desks.sell(guest.account_id, guest.spent)
    desks.sync()
    return desks, made
