"""Running totals per terminal, hour, op, phase and method (`entry_totals`), kept by ingest in the same
transaction as the entries, so reports read thousands of rows, not millions."""

from __future__ import annotations

from sync.collector import operator_totals, product_totals
from sync.collector.storage import Store

Groups = dict[tuple, list[int]]


def group_columns(columns: list[list], hours: list[str]) -> Groups:
    """Entry columns (`sync.collector.prepared.ENTRY_COLUMNS` order) grouped by (terminal, hour, operator, op, phase,
    method) -> [n, amount, delta]; `hours` is each entry's `time[:13]`. One pass serves both `entry_totals` and
    `operator_totals` (`sum_totals`, `operator_totals.sum_groups`): a stall's keys repeat, so what is rolled up
    afterwards is a few groups, not every entry (a quarter less of the batch worker's time in sums than one pass
    each)."""
    methods = ["" if m is None else m for m in columns[17]]
    keys = zip(columns[0], hours, columns[6], columns[7], columns[8], methods, strict=True)  # tuples made in C
    groups: Groups = {}
    for key, amount, before, after in zip(keys, columns[13], columns[14], columns[15], strict=True):
        t = groups.get(key)
        delta = (after or 0) - (before or 0)
        if t is None:
            groups[key] = [1, amount or 0, delta]
        else:
            t[0] += 1
            t[1] += amount or 0
            t[2] += delta
    return groups


def sum_totals(groups: Groups) -> dict[tuple, list[int]]:
    """What the grouped entries add to `entry_totals`: key (terminal, hour, op, phase, method) -> [n, amount, delta]."""
    sums: dict[tuple, list[int]] = {}
    for (tid, hour, _operator, op, phase, method), counts in groups.items():
        _fold(sums, (tid, hour, op, phase, method), counts)
    return sums


def merge(into: dict[tuple, list[int]], sums: dict[tuple, list[int]]) -> None:
    """Add one batch's `sum_totals` to a group's."""
    for key, counts in sums.items():
        _fold(into, key, counts)


def _fold(into: dict[tuple, list[int]], key: tuple, counts: list[int]) -> None:
    t = into.get(key)
    if t is None:
        into[key] = list(counts)
    else:
        t[0] += counts[0]
        t[1] += counts[1]
        t[2] += counts[2]


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
