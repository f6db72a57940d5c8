"""Findings of the reliability campaign (issue 15), each reproduced first: hostile batches are refused with a
reason, never an uncaught exception, and one bad file never stops an import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.collector.enrollment import enroll
from sync.collector.ingest import ingest_bytes
from sync.collector.storage import Store
from sync.collector.summary import summary
from sync.format.batch import BatchError, decode, encode, make_batch
from sync.format.keys import public_hex
from terminal.cli import main
from tests.fuzz.forge import forged_batch, nested_json_batch, rechain
from tests.fuzz.fuzzer import HOSTILE
from tests.sync.journals import EVENT, Cards, configured_terminal, make_terminal


def test_deeply_nested_json_is_a_batch_error() -> None:
    data = nested_json_batch()
    assert len(data) < 1000
    with pytest.raises(BatchError, match="nested too deeply"):
        decode(data)


def _entries(tmp_path: Path, store: Store, n: int = 3):  # type: ignore[no-untyped-def]
    term = make_terminal(tmp_path, 7, Cards(), store)
    term.book("issue", 1, 5000, method="cash")
    for _ in range(n):
        term.book("sale", 1, 100)
    return term, term.journal.export()


@pytest.mark.parametrize(("changes", "reason"), [
    ({"seq": 2**63 - 1}, "out of range"),
    ({"seq": 2**62 + 1}, "out of range"),
    ({"amount": 2**62, "balance_before": None, "balance_after": None}, "beyond"),
    ({"amount": None}, "amount is required"),
    ({"balance_after": -(2**62)}, "beyond"),
])
def test_signed_hostile_batches_are_refused_with_a_reason(tmp_path: Path, store: Store, changes: dict,
                                                          reason: str) -> None:
    term, entries = _entries(tmp_path, store)
    data = forged_batch(entries[:1] if "seq" in changes else entries, term.key, **changes)
    result = ingest_bytes(store, data, source="hostile", terminal_id=7)
    assert result.status == "refused" and reason in result.reason
    refusals = store.query("SELECT reason FROM refusals")
    assert [r["reason"] for r in refusals] == [result.reason]
    assert store.scalar("SELECT COUNT(*) FROM entries") == 0


def test_one_bad_file_never_stops_a_usb_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "collector.db")
    assert main(["collector", "init", "--db", db, "--event-id", EVENT]) == 0
    usb = tmp_path / "usb"
    for tid in range(1, 10):  # enough files for the worker processes to be used
        cfg, term = configured_terminal(tmp_path, tid)
        term.book("issue", tid, 2000, method="cash")
        term.book("sale", tid, 150)
        assert main(["sync", "--config", str(cfg), "export", "--to", str(usb)]) == 0
        from sync.format.keys import public_hex

        assert main(["collector", "enroll", "--db", db, "--terminal", str(tid), "--public-key",
                     public_hex(term.key), "--role", "cashier"]) == 0
    (usb / "nested.spb").write_bytes(nested_json_batch())
    capsys.readouterr()
    assert main(["collector", "ingest", "--db", db, str(usb)]) == 1  # some were refused
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["stored"] == 9 and out["refused"] == 1 and out["new_entries"] == 9 * 4
    assert "nested.spb" in captured.err and "nested too deeply" in captured.err
    assert main(["collector", "report", "summary", "--db", db, "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["books_balance"] is True and s["outstanding"] == 9 * 1850


def test_lone_surrogates_are_refused_by_the_batch_and_bundle_decoders() -> None:
    import zlib

    from sync.format.batch import MAGIC
    from sync.format.bundle import BundleError, verify_bundle

    with pytest.raises(BatchError, match="corrupt"):
        decode(MAGIC + zlib.compress(b'{"header": {"event_id": "\\ud800"}, "entries": [], "signature": ""}'))
    with pytest.raises(BundleError, match="not a StallPay bundle"):
        verify_bundle(b'{"body": {"event_id": "\\udbb4"}, "signature": ""}', "00" * 32, EVENT)
    with pytest.raises(BundleError, match="not a StallPay bundle"):
        verify_bundle(b'{"body": ' + b"[" * 100_000, "00" * 32, EVENT)


def test_a_nul_in_an_item_name_is_stored_not_a_stopped_ingest(tmp_path: Path, store: Store) -> None:
    """A validly signed sale whose item name holds NUL: PostgreSQL refused the product total (text cannot hold NUL)
    and the exception stopped the ingest of every batch in the group."""
    term, entries = _entries(tmp_path, store)
    items = [{"name": "Beer\x00", "qty": 2, "unit_price": 50}]
    data = forged_batch(entries, term.key, items=lambda i: items if entries[i]["op"] == "sale" else entries[i]["items"])
    result = ingest_bytes(store, data, source="nul", terminal_id=7)
    assert result.status == "stored" and result.new_entries == len(entries)
    rows = store.query("SELECT product, quantity, net FROM product_totals")
    assert rows == [{"product": "Beer\ufffd", "quantity": 6, "net": 300}]
    stored = store.query("SELECT items FROM entries WHERE op = 'sale'")
    assert stored and all(json.loads(r["items"]) == items for r in stored)  # each entry keeps what was sent


@pytest.mark.parametrize("status", [
    {"time": "2026-07-01T12:00:00", "online": True},  # no zone: compared with an aware moment, TypeError
    {"unsynced_entries": 2**70},  # beyond BIGINT: OverflowError (SQLite), NumericValueOutOfRange (PostgreSQL)
    {"head_seq": 2**63, "unsynced_entries": -1},
    {"head_seq": True, "time": "garbage", "online": True},
], ids=["naive-time", "huge-unsynced", "huge-head", "odd-types"])
def test_a_hostile_terminal_status_is_ignored_not_a_stopped_ingest(tmp_path: Path, store: Store,
                                                                   status: dict) -> None:
    """The status a terminal reports in a signed batch header: three shapes raised in the ingest transaction."""
    term, entries = _entries(tmp_path, store)
    result = ingest_bytes(store, encode(make_batch(entries, term.key, terminal_status=status)), source="status",
                          terminal_id=7)
    assert result.status == "stored" and result.new_entries == len(entries)
    row = store.query("SELECT reported_unsynced, reported_head_seq, clock_skew_ms, last_sync FROM terminals "
                      "WHERE terminal_id = 7")[0]
    assert row["reported_unsynced"] is None and row["clock_skew_ms"] is None and row["last_sync"]
    assert row["reported_head_seq"] in (None, 0)


_STATUS_KEYS = ("time", "online", "unsynced_entries", "head_seq", "clock_synced", "software", "self_test",
                "face_erasures")
_ITEM_KEYS = ("name", "product", "sku", "qty", "unit_price", "price", "total", "amount")
_DATA_KEYS = ("face_account", "authorization", "event", "left_for_collector", "note")


def _signed_hostile(entries: list[dict], key) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    """(what, changes) for `forged_batch`: every hostile value in every status field a batch header carries, every
    item field product totals read, every data field face accounts read (on face entries: no card)."""
    cases: list[tuple[str, dict]] = []
    for i, value in enumerate(HOSTILE):
        cases += [(f"status.{k}={i}", {"terminal_status": {k: value, "online": True}}) for k in _STATUS_KEYS]
        cases += [(f"items.{k}={i}", {"items": [{"name": "Beer", "qty": 1, "unit_price": 450, k: value}]})
                  for k in _ITEM_KEYS]
        cases += [(f"data.{k}={i}", {"card_id": None, "uid": None, "card_seq": None,
                                     "data": {"face_account": "F1-guest", "authorization": "t1-abcdefgh", k: value}})
                  for k in _DATA_KEYS]
    return cases


def test_signed_batches_with_hostile_inner_values_never_stop_an_ingest(tmp_path: Path, store: Store) -> None:
    """Each case from its own terminal, so every batch reaches the store (none is a fork of another): stored or
    refused with a reason, never an exception out of the ingest; the summary still reads the books."""
    term, entries = _entries(tmp_path, store)
    public = public_hex(term.key)
    outcomes: dict[str, int] = {}
    for n, (what, changes) in enumerate(_signed_hostile(entries, term.key)):
        tid = 100 + n
        enroll(store, tid, public)
        status = changes.pop("terminal_status", None)
        forged = [dict(e, terminal_id=tid, **{k: v for k, v in changes.items()}) for e in entries]
        data = encode(make_batch(rechain(forged), term.key, terminal_status=status))
        result = ingest_bytes(store, data, source=what, terminal_id=tid)
        assert result.status in ("stored", "refused"), what
        outcomes[result.status] = outcomes.get(result.status, 0) + 1
    assert outcomes["stored"] > 300
    summary(store)


def test_hostile_pairing_files_are_refused_and_the_usb_import_goes_on(tmp_path: Path, store: Store) -> None:
    """Pairing requests on a USB stick: a code that is not text (AttributeError), a name that is an object
    (cannot be bound) or holds NUL (PostgreSQL refuses it) stopped the import of everything after them."""
    from sync.collector.enrollment import new_pairing_code
    from sync.collector.ingest import ingest_paths

    usb = tmp_path / "usb"
    usb.mkdir()
    code = new_pairing_code(store)
    base = {"event_id": EVENT, "public_key": "ab" * 32, "code": code}
    bad = {"pair-1.json": {**base, "terminal_id": 1, "code": 5},
           "pair-2.json": {**base, "terminal_id": 2, "name": {"a": 1}},
           "pair-3.json": {**base, "terminal_id": 3, "name": "Bar\x00"},
           "pair-4.json": {**base, "terminal_id": 4, "public_key": {"k": 1}}}
    for name, body in bad.items():
        (usb / name).write_text(json.dumps(body))
    (usb / "pair-5.json").write_text(json.dumps({**base, "terminal_id": 5, "name": "Bar 5"}))
    results = ingest_paths(store, [usb], workers=0)
    assert [(r.source.rsplit("/", 1)[1], r.status) for r in results] == [
        ("pair-1.json", "refused"), ("pair-2.json", "refused"), ("pair-3.json", "refused"),
        ("pair-4.json", "refused"), ("pair-5.json", "paired")]
    assert all(r.reason for r in results[:4]) and "must be text" in results[0].reason
    assert [r["terminal_id"] for r in store.query("SELECT terminal_id FROM terminals")] == [5]
