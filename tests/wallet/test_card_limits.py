"""A validly sealed record at the end of its compact fields (issue 15): refused with a reason, never a crash."""

from __future__ import annotations

from dataclasses import replace

import pytest

from terminal.nfc.emulator import NtagEmulator
from terminal.wallet.purse import SEQ_MAX, U24
from terminal.wallet.rules import Declined
from tests.wallet.bands import open_band, write_slot
from tests.wallet.conftest import Till


def _reseal(till: Till, card: NtagEmulator, **fields: int) -> None:
    """Write a record sealed with the event's own keys (what a terminal with a bug, or the key, could write)."""
    band = open_band(till.master_key, "fest-2026", card.uid, card.snapshot())
    record = replace(band.current, **fields)
    ref = band.next_slot()
    card.restore(write_slot(card.snapshot(), ref, band.seal(record, ref)))


@pytest.mark.parametrize("fields", [{"seq": SEQ_MAX}, {"seq": 2, "spent": U24 - 10}])
def test_record_at_its_limit_is_declined_not_a_crash(till: Till, fields: dict) -> None:
    card = till.new_card()
    till.wallet.issue(till.tap(card), 3000)
    _reseal(till, card, **fields)
    ops = [lambda t: till.wallet.charge(t, 100)]
    if fields["seq"] > 2:  # a full sequence refuses every operation; a full `spent` only more spending
        ops += [lambda t: till.wallet.topup(t, 100), lambda t: till.wallet.close(t)]
    for op in ops:
        with pytest.raises(Declined) as exc:
            op(till.tap(card))
        assert exc.value.code == "card_full" and "replace it" in exc.value.message
    assert till.wallet.read(till.tap(card)).balance == 3000


def test_an_ntag_band_is_never_credited_beyond_what_its_compact_record_holds(till: Till) -> None:
    from terminal.wallet.rules import Limits

    assert Limits(max_balance=10**9).balance_cap(ntag=True) == U24
    assert Limits(max_balance=10**9).balance_cap(ntag=False) == 10**9
    till.wallet.limits = Limits(max_balance=10**9, max_sale=10**6)
    card = till.new_card()
    till.wallet.issue(till.tap(card), U24 - 5)
    with pytest.raises(Declined) as exc:
        till.wallet.topup(till.tap(card), 6)
    assert exc.value.code == "over_max_balance"
    assert till.wallet.topup(till.tap(card), 5).balance_after == U24
