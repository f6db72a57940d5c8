"""The card guest portal's refund form, in-process on SQLite: each way an IBAN or BIC can be wrong is refused in
our own words (capitalised, saying what to check, in the guest's language), what the guest typed stays in the
form, and no request is saved nor the band blocked until the account is right."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sync.collector.api import create_app
from sync.collector.backoffice import bank_account as bank
from sync.collector.backoffice.guest_access import card_secret
from sync.collector.backoffice.language import gettext
from sync.collector.ingest import ingest_bytes
from sync.collector.storage import Store
from sync.format.batch import encode
from terminal.config import EventKeys
from terminal.uplink.export import batches
from tests.sync.journals import EVENT, Cards, make_terminal

GOOD_IBAN = "DE89 3704 0044 0532 0130 00"
# (what the guest typed as IBAN, as BIC, the message they are shown): one row per kind of mistake
BAD_ACCOUNTS = [
    ("DE89 3704 0044 0532 0130 01", "", bank.IBAN_CHECKSUM),  # one digit wrong
    ("DE89 3704 0044 0532 0130 0", "", bank.IBAN_LENGTH),  # one digit missing
    ("XX89 3704 0044 0532 0130 00", "", bank.IBAN_COUNTRY),
    ("DE89-3704-0044-0532-0130-00", "", bank.IBAN_FORMAT),
    ("GB82 WEST 1234 5698 7654 3X", "", bank.IBAN_BBAN),  # a letter where the UK account number has digits
    ("DE" + "8" * 100, "", bank.IBAN_LENGTH),  # pasted junk: refused before the validator
    (GOOD_IBAN, "BYLADEM", bank.BIC_LENGTH),
    (GOOD_IBAN, "BYLAXXM1", bank.BIC_COUNTRY),
    (GOOD_IBAN, "BY!ADEM1", bank.BIC_FORMAT),
]
IDS = ["iban-checksum", "iban-length", "iban-country", "iban-format", "iban-bban", "iban-junk", "bic-length",
       "bic-country", "bic-format"]


def error_of(page: str) -> str:
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', page)
    assert found, page[:500]
    return html.unescape(found.group(1))


def test_every_message_is_capitalised_and_translated() -> None:
    for message in bank.MESSAGES:
        assert message[0].isupper() and "Check" in message
        for language in ("tr", "bg", "zh_CN"):
            assert gettext(language, message) != message, (language, message)


def test_every_refusal_of_a_refund_request_is_a_sentence_in_the_four_languages() -> None:
    """Whatever a guest's refund request can be refused with (`PayoutError("...")` or `sepa_name`'s refusal in the
    payout modules) is shown through the catalogues: a capitalised sentence, translated."""
    import ast

    import sync.collector.backoffice.face_payouts as face_payouts
    import sync.collector.backoffice.payouts as payouts

    guests = [f for module in (payouts, face_payouts) for f in ast.parse(Path(module.__file__).read_text()).body
              if isinstance(f, ast.FunctionDef) and (f.name.startswith("request_") or f.name == "check_holder")]
    said = [call.args[-1].value for f in guests for call in ast.walk(f)  # PayoutError(text), sepa_name(_, text)
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") in ("PayoutError", "sepa_name")
            and call.args and isinstance(call.args[-1], ast.Constant)]
    assert len(guests) == 3 and len(said) == 5  # what the portals call
    for message in said:
        assert message[0].isupper() and message.endswith("."), message
        for language in ("tr", "bg", "zh_CN"):
            assert gettext(language, message) != message, (language, message)


@pytest.fixture
def guest(store: Store, tmp_path: Path) -> TestClient:
    """A guest signed in to the portal for card 5, which holds €50.00 paid in cash."""
    term = make_terminal(tmp_path, 1, Cards(), store)
    term.book("issue", 5, 5000, method="cash")
    for b in batches(term.journal, term.key):
        ingest_bytes(store, encode(b))
    client = TestClient(create_app(store, EventKeys(event_id=EVENT, master_key=bytes(16),
                                                    terminal_signing_key=bytes(32))), follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/portal").text)
    assert token
    assert client.post("/portal/login", data={"csrf": token.group(1), "card": "5",
                                              "secret": card_secret(store, 5)}).status_code == 303
    return client


def _csrf(client: TestClient, path: str) -> str:
    token = re.search(r'name="csrf" value="([0-9a-f]{32})"', client.get(path).text)
    assert token
    return token.group(1)


@pytest.mark.parametrize(("iban", "bic", "message"), BAD_ACCOUNTS, ids=IDS)
def test_a_wrong_account_is_refused_in_words_that_say_what_to_check(guest: TestClient, store: Store, iban: str,
                                                                      bic: str, message: str) -> None:
    answer = guest.post("/portal/refund", data={"csrf": _csrf(guest, "/portal"), "holder": "Ayşe Yılmaz",
                                                "iban": iban, "bic": bic})
    assert answer.status_code == 422
    assert error_of(answer.text) == message
    assert "Invalid" not in answer.text and "doesn't match" not in answer.text  # nothing of the validator's words
    assert 'value="Ayşe Yılmaz"' in answer.text and f'value="{html.escape(iban)}"' in answer.text
    assert f'name="bic" value="{html.escape(bic)}"' in answer.text
    assert store.scalar("SELECT COUNT(*) FROM payout_requests") == 0
    assert store.scalar("SELECT COUNT(*) FROM hotlist") == 0  # the band still pays


def test_the_refusal_is_in_the_guests_language_and_the_right_account_goes_through(guest: TestClient,
                                                                                   store: Store) -> None:
    guest.cookies.set("stallpay_lang", "tr")
    answer = guest.post("/portal/refund", data={"csrf": _csrf(guest, "/portal"), "holder": "Ayşe Yılmaz",
                                                "iban": BAD_ACCOUNTS[0][0]})
    assert answer.status_code == 422
    assert error_of(answer.text) == gettext("tr", bank.IBAN_CHECKSUM)
    assert error_of(answer.text).startswith("Bu IBAN geçerli değil")
    asked = guest.post("/portal/refund", data={"csrf": _csrf(guest, "/portal"), "holder": "Ayşe Yılmaz",
                                               "iban": GOOD_IBAN.lower(), "bic": "byladem1001"})
    assert asked.status_code == 200
    assert store.query("SELECT card_id, iban, bic, amount FROM payout_requests") == [
        {"card_id": 5, "iban": "DE89370400440532013000", "bic": "BYLADEM1001", "amount": 5000}]


@pytest.mark.parametrize("holder", ["Ayşe\x00Yılmaz", "Ayşe\x01Yılmaz", "A"])
def test_a_holder_name_the_bank_file_cannot_carry_is_refused(guest: TestClient, store: Store, holder: str) -> None:
    """NUL was a PostgreSQL error (HTTP 500); a control character went into the SEPA file of every payout."""
    answer = guest.post("/portal/refund", data={"csrf": _csrf(guest, "/portal"), "holder": holder,
                                                "iban": GOOD_IBAN})
    assert answer.status_code == 422
    assert error_of(answer.text) == "Enter the account holder's name (2 to 70 characters)."
    assert store.scalar("SELECT COUNT(*) FROM payout_requests") == 0


def test_the_organizers_account_name_must_be_printable_too(store: Store) -> None:
    from sync.collector.backoffice.payouts import PayoutError, set_debtor

    for name in ("Fest\x01ival", "F"):
        with pytest.raises(PayoutError, match="account name"):
            set_debtor(store, name, GOOD_IBAN, "BYLADEM1001")
    assert set_debtor(store, "  Festival   GmbH ", GOOD_IBAN, "BYLADEM1001")["name"] == "Festival GmbH"
