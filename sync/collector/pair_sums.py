"""Running sums of two values per key (key -> [a, b]), as `operator_totals` (n, amount) and `product_totals`
(quantity, net) keep them: one fold for both, so they cannot drift apart."""

from __future__ import annotations

PairSums = dict[tuple, list[int]]


def add_pair(into: PairSums, key: tuple, a: int, b: int) -> None:
    """Add (a, b) to the sums under `key`, starting them at (a, b) if the key is new."""
    t = into.get(key)
    if t is None:
        into[key] = [a, b]
    else:
        t[0] += a
        t[1] += b


def merge_pairs(into: PairSums, sums: PairSums) -> None:
    """Add every key's pair of `sums` to `into`."""
    for key, (a, b) in sums.items():
        add_pair(into, key, a, b)
