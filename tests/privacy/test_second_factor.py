"""Second factors a sale terminal can use without holding them: the collector checks typed phone digits (the
terminal has nothing to try 10^4 guesses against), and the wristband is checked against a salted slow hash.
A real `collector serve` answers the terminal's signed question; with the collector gone the terminal says the
digits need the network and does not use up a try; a band tap still confirms offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sync.collector.bundle import build_bundle
from sync.collector.enrollment import enroll
from sync.collector.event import init_event
from sync.collector.face import upload_template
from sync.collector.face_phone import MAX_MISSES, PhoneCheckRefused, PhoneChecks
from sync.collector.storage import open_store
from sync.format.face_keys import box_key, open_template, seal_template, transport_key
from terminal.camera.decision import Decision, FactorRecord, Outcome, SecondFactor
from terminal.camera.matcher import Candidate
from terminal.config import load_keys
from terminal.device_secret import ENV
from terminal.uplink.client import CollectorClient
from terminal.uplink.terminal_side import open_terminal
from tests.sync.journals import EVENT, configured_terminal
from tests.sync.test_terminal_upload import Collector

MASTER = bytes(16)
BAND = "04a1b2c3d4e5f6"


@pytest.fixture
def venue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Collector, object, dict]]:
    """A collector holding two guests (F1-a with phone digits 4321 and a band, F1-b with 8765), a sale terminal
    paired with a box key, and the factor table that terminal built from its bundle."""
    monkeypatch.setenv(ENV, "none")
    cfg, _ = configured_terminal(tmp_path, 2)
    stall = open_terminal(cfg)
    collector = Collector(tmp_path / "collector.db", cfg.parent / "keys.toml")
    store = open_store(collector.db)
    init_event(store, EVENT, "EUR")
    enroll(store, 2, stall.public_key, role="sale", vendor="Grill", face_key=stall.face_key)
    for seed, (account, digits, band) in enumerate((("F1-a", "4321", BAND), ("F1-b", "8765", ""))):
        v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
        upload_template(store, MASTER, EVENT, account, seal_template(
            transport_key(MASTER, EVENT), EVENT, account, list(v / np.linalg.norm(v)), phone_digits=digits,
            wristband_uid=band))
    face = build_bundle(store, load_keys(cfg.parent / "keys.toml"), terminal_id=2)["body"]["face"]
    key = box_key(stall.box, face["box_key"], EVENT, 2)
    factors = {}
    for c in face["gallery"]:
        got = open_template(key, EVENT, c["account_id"], c["template"])
        factors[c["account_id"]] = FactorRecord(got["phone_digits"], got["wristband_uid"], got["phone_online"])
    store.close()
    collector.start()
    try:
        yield collector, stall, factors
    finally:
        collector.stop()


def _ambiguous() -> Decision:
    return Decision(Outcome.SECOND_FACTOR, score=0.7,
                    candidates=(Candidate("F1-a", 0.7), Candidate("F1-b", 0.68)), reason="look-alikes")


def test_phone_digits_are_checked_by_the_collector_only(venue: tuple[Collector, object, dict]) -> None:
    collector, stall, factors = venue
    assert all(f.phone_digits == "" and f.phone_online for f in factors.values())  # nothing to guess against
    client = CollectorClient(collector.url, stall, attempts=1, backoff_s=0.1)  # type: ignore[arg-type]
    right = SecondFactor(_ambiguous(), factors, phone_check=client.check_face_phone)
    assert right.with_phone_digits("4321").account_id == "F1-a"
    wrong = SecondFactor(_ambiguous(), factors, phone_check=client.check_face_phone)
    answer = wrong.with_phone_digits("0000")
    assert answer.outcome is Outcome.SECOND_FACTOR and wrong.attempts_left == 2
    # the collector is gone: the digits cannot be checked, no try is used up, and the band still confirms
    collector.stop()
    offline = SecondFactor(_ambiguous(), factors, phone_check=client.check_face_phone)
    answer = offline.with_phone_digits("4321")
    assert answer.outcome is Outcome.SECOND_FACTOR and answer.guidance == "factor_offline"
    assert offline.attempts_left == 3
    assert offline.with_wristband(BAND.upper()).account_id == "F1-a"
    assert SecondFactor(_ambiguous(), factors).with_wristband("04a1b2c3d4e5f7").outcome is Outcome.SECOND_FACTOR


def test_wrong_digits_lock_the_accounts_for_a_while(tmp_path: Path) -> None:
    from sync.collector.face import register_account
    from sync.collector.face_gallery import phone_digest

    store = open_store(tmp_path / "c.db")
    init_event(store, EVENT, "EUR")
    register_account(store, "F1-a", phone_hash=phone_digest(store, "4321"))
    now = [0.0]
    checks = PhoneChecks(store, clock=lambda: now[0])
    assert checks.check(["F1-a", "F1-x"], "4321") == "F1-a"
    for _ in range(MAX_MISSES):
        assert checks.check(["F1-a"], "1111") is None
    with pytest.raises(PhoneCheckRefused):
        checks.check(["F1-a"], "4321")  # even the right digits: the guest pays by band for now
    now[0] = 10_000.0
    assert checks.check(["F1-a"], "4321") == "F1-a"
