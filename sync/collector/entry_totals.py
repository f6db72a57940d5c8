"""Running totals per terminal, hour, op, phase and method (`entry_totals`), kept by ingest in the same
transaction as the entries, so reports read thousands of rows, not millions."""

from __future__ import annotations

from sync.collector import operator_totals, product_totals
from sync.collector.storage import Store


def sum_totals(columns: list[list]) -> dict[tuple, list[int]]:
    """What rows add to `entry_totals`: key (terminal, hour, op, phase, method) -> [n, amount, delta]."""
    sums: dict[tuple, list[int]] = {}
    for tid, time, op, phase, method, amount, before, after in zip(
            columns[0], columns[4], columns[7], columns[8], columns[17], columns[13], columns[14], columns[15],
            strict=True):
        key = (tid, time[:13], op, phase, method or "")
        t = sums.get(key)
        delta = (after or 0) - (before or 0)
        if t is None:
            sums[key] = [1, amount or 0, delta]
        else:
            t[0] += 1
            t[1] += amount or 0
            t[2] += delta
    return sums


def add_totals(store: Store, sums: dict[tuple, list[int]]) -> None:
    """Fold the new entries' `sum_totals` into `entry_totals` (the reports' running sums)."""
    store.add_sums("entry_totals", ("terminal_id", "hour", "op", "phase", "method"), ("n", "amount", "delta"), sums)


def rebuild_totals(store: Store) -> None:
    """Recompute `entry_totals` from every entry (after entries were loaded by other means, e.g. a benchmark)."""
    with store.transaction():
        store.execute("DELETE FROM entry_totals")
        store.execute("INSERT INTO entry_totals (terminal_id, hour, op, phase, method, n, amount, delta) "
                      "SELECT terminal_id, substr(time, 1, 13), op, phase, COALESCE(method, ''), COUNT(*), "
                      "SUM(amount), SUM(COALESCE(balance_after, 0) - COALESCE(balance_before, 0)) FROM entries "
                      "GROUP BY terminal_id, substr(time, 1, 13), op, phase, COALESCE(method, '')")
    product_totals.rebuild(store)
    operator_totals.rebuild(store)
