"""The journal's connection is shared by the card loop, the face worker, the kiosk's readers and the background sync.

sqlite-utils 4 runs every `Database.query` inside a SAVEPOINT, which on an autocommit connection opens a
transaction: a reader on one thread made the face worker's `BEGIN IMMEDIATE` on another fail with "cannot start
a transaction within a transaction" (a face sale declined as face_unavailable in the soak and in CI).
"""

from __future__ import annotations

import threading

from terminal.uplink.terminal_state import SyncState
from terminal.wallet.face_accounts import FaceAccounts
from terminal.wallet.journal import Clock, open_journal
from terminal.wallet.lastseen import LastSeen


def test_readers_on_other_threads_never_break_a_journal_write(tmp_path) -> None:
    journal = open_journal(tmp_path / "journal.db", terminal_id=7, event_id="ev", currency="EUR")
    faces = FaceAccounts(journal)
    state = SyncState(journal.db)
    errors: list[BaseException] = []
    stop = threading.Event()
    writes = 1500

    def writer() -> None:
        try:
            for i in range(writes):
                journal.append("topup", "commit", amount=1, method="cash", data={"request_id": f"r{i}"})
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def reader() -> None:
        try:
            while not stop.is_set():
                list(journal.entries(after=0, limit=5))
                journal.get(1)
                journal.pending()
                journal.outcome(1)
                faces.is_frozen("a1")
                state.get("last_sync")
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert journal.head()[0] == writes
    assert journal.verify_chain() == writes


def test_a_write_on_another_thread_never_lands_in_a_transaction_that_rolls_back(tmp_path) -> None:
    """The card loop records what it saw on a band (`LastSeen`) without the journal's lock. While another thread's
    append was between BEGIN and ROLLBACK, that record joined its transaction and was rolled back with it: the
    terminal forgot a band it had seen (and could no longer tell a rolled-back image of it)."""
    journal = open_journal(tmp_path / "journal.db", terminal_id=7, event_id="ev", currency="EUR")
    seen = LastSeen(journal.db)
    inside, proceed = threading.Event(), threading.Event()

    class FailingClock(Clock):
        def now(self) -> str:  # called inside the append's transaction
            inside.set()
            proceed.wait(10)
            raise OSError("clock read failed")

    journal.clock = FailingClock()
    failed: list[BaseException] = []

    def append() -> None:
        try:
            journal.append("face", "info")
        except OSError as exc:
            failed.append(exc)

    appender = threading.Thread(target=append)
    appender.start()
    assert inside.wait(10)
    recorder = threading.Thread(target=seen.update, args=(1, bytes(7), 1, b"slot"))
    recorder.start()
    recorder.join(0.5)  # unfixed, the record is written at once, inside the append's transaction
    proceed.set()
    appender.join()
    recorder.join()
    assert len(failed) == 1 and journal.head()[0] == 0
    assert seen.get(1) is not None
