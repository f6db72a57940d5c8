"""The journal's connection is shared by the card loop, the face worker, the kiosk's readers and the background sync.

sqlite-utils 4 runs every `Database.query` inside a SAVEPOINT, which on an autocommit connection opens a
transaction: a reader on one thread made the face worker's `BEGIN IMMEDIATE` on another fail with "cannot start
a transaction within a transaction" (a face sale declined as face_unavailable in the soak and in CI).
"""

from __future__ import annotations

import threading

from terminal.uplink.terminal_state import SyncState
from terminal.wallet.face_accounts import FaceAccounts
from terminal.wallet.journal import open_journal


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
