"""A validly sealed record at the end of its 32-bit fields (issue 15): refused with a reason, never a crash."""

from __future__ import annotations

from dataclasses import replace

import pytest

from terminal.nfc.emulator import NtagEmulator
from terminal.wallet.keys import purse_key
from terminal.wallet.purse import USER_START, PurseKeys, decode_header, parse_image, seal, slot_page
from terminal.wallet.rules import Declined
from tests.wallet.conftest import Till


def _reseal(till: Till, card: NtagEmulator, **fields: int) -> None:
    """Write a record sealed with the event's own keys (what a terminal with a bug, or the key, could write)."""
    uid = card.uid
    keys = PurseKeys(purse_key(till.master_key, uid, "fest-2026"))
    image = bytearray(card.snapshot())
    header = decode_header(keys, uid, bytes(image[USER_START * 4:USER_START * 4 + 16]))
    current = parse_image(keys, uid, header, bytes(image)).current
    record = replace(current, **fields)
    page = slot_page(header, record.seq)
    sealed = seal(keys, uid, header, record)
    image[page * 4:page * 4 + len(sealed)] = sealed
    card.restore(bytes(image))


@pytest.mark.parametrize("fields", [{"seq": 0xFFFFFFFF}, {"seq": 2, "spent": 0xFFFFFFFF - 10}])
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
