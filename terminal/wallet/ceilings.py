"""What this terminal has already credited today, for the per-terminal daily credit ceiling.

Counted from the journal's commits (issue, top-up, replacement, on any method), so a restart or a second
front end cannot reset it; the collector re-checks the same sum per terminal and UTC day (`sync.collector.ledger`).
"""

from __future__ import annotations

from terminal.wallet.journal import Journal

CREDIT_OPS = ("issue", "topup", "replace")


def credited_today(journal: Journal) -> int:
    """Committed credits of the journal clock's UTC day (the same day the entries carry)."""
    day = journal.clock.now()[:10]
    row = journal.db.execute(
        "SELECT COALESCE(SUM(amount), 0) FROM journal WHERE phase = 'commit' AND op IN (?, ?, ?) "
        "AND substr(time, 1, 10) = ?", [*CREDIT_OPS, day]).fetchone()
    return int(row[0])
