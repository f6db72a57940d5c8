"""The collector's shadow ledger and reconciliation.

Per card, the timeline is ordered by the card's own record sequence across all
terminals. Only commit entries move money. Reconciliation looks for:
- `clone`: two commits with the same card sequence from the same prior state
  (a copied card spent twice);
- `rollback`: the card sequence goes backwards on a terminal, or one sequence
  written from two different prior states (an old card image restored);
- `balance_jump`: a balance that does not follow from the previous entry
  although no entry is missing (tampering);
- `gap`: missing card sequences while a terminal that may hold them has not synced (not suspicious);
- `forged`: missing card sequences once every terminal concerned has synced, a balance above the event's
  maximum, a blocked band back under a new card id (`sync.collector.trust`, with role, ceiling and exposure checks);
- `pending`: an intent with no outcome; `pending_landed` when a later tap shows
  the write reached the card.
- `outside_event`: money moved at a time outside the event's dates (`sync.collector.event_window`): a terminal
  with a wrong clock, or one used after the event; informational, the money itself is accounted for. Face-account
  movements (no card) are flagged too, under card 0 (`face_outside_event`): at ingest, and again on a full reconcile.
Suspicious kinds listed in the `auto_hotlist` setting put the card on the hotlist.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable

from sync.collector.event import get_setting, now_iso
from sync.collector.event_window import EventWindow, entry_time, stored_window
from sync.collector.payout_requests import refund_open
from sync.collector.storage import Store
from sync.collector.trust import Context, card_findings, closed_cards, load_context, money_findings, unexplained_gap

EFFECT_SQL = ("CASE WHEN op IN ('issue', 'topup', 'void') THEN amount WHEN op IN ('sale', 'close') THEN -amount "
              "WHEN op = 'correct' THEN COALESCE(balance_after, 0) - COALESCE(balance_before, 0) ELSE 0 END")
SUSPICIOUS = ("clone", "rollback", "balance_jump", "forged", "not_permitted")
ALWAYS_HOTLIST = frozenset({"forged", "not_permitted"})  # whatever the `auto_hotlist` setting says


def replace_moves(store: Store) -> list[tuple[int, int, int]]:
    """(old card, new card, amount) for every committed replacement.

    The wallet journals a replacement (`Wallet.replace`) as op `replace` on the NEW card, with the moved balance
    as amount and `data["replaces"]` naming the old card. It is a transfer: the old card's ledger balance goes
    to the new one, so event totals do not change."""
    moves = []
    for r in store.query("SELECT card_id, amount, data FROM entries WHERE phase = 'commit' AND op = 'replace' "
                         "AND card_id IS NOT NULL ORDER BY time, terminal_id, seq"):
        try:
            old = json.loads(r["data"] or "{}").get("replaces")
        except (ValueError, AttributeError):
            continue
        if isinstance(old, int) and not isinstance(old, bool) and old != r["card_id"]:
            moves.append((old, r["card_id"], int(r["amount"])))
    return moves


def replacement_quote(store: Store, card_id: int, *, reason: str = "lost") -> dict[str, int]:
    """Block a lost card and say what its replacement gets: its ledger balance, and how much of it is
    complimentary (stays non-refundable on the new card). The cashier passes both to `Wallet.replace`."""
    if not store.scalar("SELECT 1 FROM entries WHERE card_id = ? AND phase = 'commit'", [card_id]):
        raise LedgerError(f"card {card_id} has no committed entries at the collector (sync its terminals first)")
    if card_id in {old for old, _n, _a in replace_moves(store)}:
        raise LedgerError(f"card {card_id} was already replaced")
    if store.scalar("SELECT 1 FROM cards WHERE card_id = ? AND status = 'refunded'", [card_id]):
        raise LedgerError(f"card {card_id} was refunded and closed")
    block_card(store, card_id, reason)
    balance = max(0, card_balances(store, [card_id]).get(card_id, 0))
    comp = min(balance, comp_left(store).get(card_id, 0))
    return {"card_id": card_id, "balance": balance, "comp": comp}


class LedgerError(Exception):
    """A ledger action that cannot be done; the message says why."""


def comp_left(store: Store, card_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Complimentary credit still on each card, replayed in on-card order with the wallet's rules: comp is
    spent first, a void restores the comp before the sale, a close empties it, a replacement carries the old
    card's comp over (up to the moved balance). `card_ids`: only these cards (and the cards they replaced)."""
    moves = {new: old for old, new, _a in replace_moves(store)}
    if card_ids is not None:
        wanted: set[int] = set()
        for cid in card_ids:
            chain: int | None = cid
            while chain is not None and chain not in wanted:
                wanted.add(chain)
                chain = moves.get(chain)
        grew = False
    else:
        wanted = {r["card_id"] for r in store.query(
            "SELECT DISTINCT card_id FROM entries WHERE phase = 'commit' AND method = 'comp' "
            "AND card_id IS NOT NULL")}
        grew = True
    while grew:  # replacements of cards with comp credit carry it over, through any chain of replacements
        more = {new for new, old in moves.items() if old in wanted} - wanted
        wanted |= more
        grew = bool(more)
    per_card: dict[int, list[dict]] = defaultdict(list)
    for r in store.query_in("SELECT card_id, card_seq, op, amount, method FROM entries WHERE phase = 'commit' "
                            "AND card_seq IS NOT NULL AND card_id IN ({marks}) "
                            "ORDER BY card_id, card_seq, time, terminal_id, seq", sorted(wanted)):
        per_card[r["card_id"]].append(r)
    result: dict[int, int] = {}

    def replay(cid: int, depth: int = 0) -> int:
        if cid in result:
            return result[cid]
        comp, at_seq = 0, {0: 0}
        for r in per_card.get(cid, []):
            op, amount = r["op"], int(r["amount"])
            if op == "issue":
                comp = amount if r["method"] == "comp" else 0
            elif op == "replace":
                old = moves.get(cid)
                comp = min(amount, replay(old, depth + 1)) if old is not None and depth < 50 else 0
            elif op == "topup":
                comp += amount if r["method"] == "comp" else 0
            elif op == "sale":
                comp = max(0, comp - amount)
            elif op == "void":
                comp = at_seq.get(r["card_seq"] - 2, comp)
            elif op == "close":
                comp = 0
            at_seq[r["card_seq"]] = comp
        result[cid] = comp
        return comp

    for cid in list(per_card):
        replay(cid)
    return {cid: c for cid, c in result.items() if c}


def card_balances(store: Store, card_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Ledger balance per card: the sum of its committed movements, replacements included."""
    sql = f"SELECT card_id, SUM({EFFECT_SQL}) AS balance FROM entries WHERE phase = 'commit' AND card_id IS NOT NULL"
    params: list = []
    wanted = set(card_ids) if card_ids is not None else None
    if wanted is not None:
        if not wanted:
            return {}
        sql += f" AND card_id IN ({', '.join('?' * len(wanted))})"
        params = sorted(wanted)
    balances = {r["card_id"]: int(r["balance"] or 0) for r in store.query(sql + " GROUP BY card_id", params)}
    for old, new, amount in replace_moves(store):
        for cid, delta in ((old, -amount), (new, amount)):
            if wanted is None or cid in wanted:
                balances[cid] = balances.get(cid, 0) + delta
    from sync.collector.corrections import by_card as corrections_by_card

    for cid, delta in corrections_by_card(store, wanted).items():  # corrections made at the collector
        balances[cid] = balances.get(cid, 0) + delta
    # refunds at the collector close the card: what was paid out and the comp credit forfeited both leave it
    for r in store.query("SELECT card_id, refunded, forfeited FROM cards WHERE refunded > 0 OR forfeited > 0"):
        if wanted is None or r["card_id"] in wanted:
            balances[r["card_id"]] = balances.get(r["card_id"], 0) - int(r["refunded"]) - int(r["forfeited"])
    return balances


def timeline(store: Store, card_id: int) -> list[dict]:
    """Every entry about a card (all phases), in on-card order."""
    return store.query("SELECT * FROM entries WHERE card_id = ? ORDER BY card_seq, time, terminal_id, seq", [card_id])


def _find(card_id: int, rows: list[dict], ctx: Context) -> list[tuple[str, int, int, str]]:
    """Anomalies of one card from its entries (all phases), as (kind, terminal_id, seq, detail)."""
    found: list[tuple[str, int, int, str]] = []
    commits = [r for r in rows if r["phase"] == "commit" and r["card_seq"] is not None]
    outcomes = {(r["terminal_id"], r["ref"]) for r in rows if r["phase"] in ("commit", "abort") and r["ref"]}
    intents = [r for r in rows if r["phase"] == "intent" and (r["terminal_id"], r["seq"]) not in outcomes]
    # backwards on one terminal
    last_on_terminal: dict[int, dict] = {}
    for r in sorted(commits, key=lambda r: (r["terminal_id"], r["seq"])):
        prev = last_on_terminal.get(r["terminal_id"])
        if prev is not None and r["card_seq"] <= prev["card_seq"] and r["op"] not in ("issue", "replace"):
            found.append(("rollback", r["terminal_id"], r["seq"],
                          f"card sequence went back from {prev['card_seq']} to {r['card_seq']} on terminal "
                          f"{r['terminal_id']}"))
        last_on_terminal[r["terminal_id"]] = r
    by_seq: dict[int, list[dict]] = defaultdict(list)
    for r in commits:
        by_seq[r["card_seq"]].append(r)
    for card_seq, group in by_seq.items():
        if len(group) < 2:
            continue
        first = group[0]
        for other in group[1:]:
            if other["balance_before"] == first["balance_before"]:
                found.append(("clone", other["terminal_id"], other["seq"],
                              f"card sequence {card_seq} spent twice from balance {first['balance_before']} "
                              f"(terminals {first['terminal_id']} and {other['terminal_id']})"))
            else:
                found.append(("rollback", other["terminal_id"], other["seq"],
                              f"card sequence {card_seq} written from balances {first['balance_before']} and "
                              f"{other['balance_before']}: an older card image was restored"))
    ordered = sorted(by_seq.items())
    if ordered and ordered[0][0] > 1:  # the card's first records are nowhere: forged once everyone synced
        why = unexplained_gap(rows, None, ordered[0][1][0], ctx)
        if why:
            found.append(("forged", ordered[0][1][0]["terminal_id"], ordered[0][1][0]["seq"], why))
    for (prev_seq, prev_group), (card_seq, group) in itertools.pairwise(ordered):
        prev, cur = prev_group[-1], group[0]
        if cur["balance_before"] == prev["balance_after"] and card_seq == prev_seq + 1:
            continue
        landed = [i for i in intents if i["card_seq"] is not None and prev_seq < i["card_seq"] < card_seq + 1
                  and i["balance_before"] == prev["balance_after"] and i["balance_after"] == cur["balance_before"]]
        if landed:
            i = landed[0]
            found.append(("pending_landed", i["terminal_id"], i["seq"],
                          f"intent {i['op']} of {i['amount']} reached the card (later tap shows balance "
                          f"{cur['balance_before']}) but has no commit yet"))
        elif card_seq != prev_seq + 1:
            why = unexplained_gap(rows, prev, cur, ctx)
            found.append(("forged", cur["terminal_id"], cur["seq"], why) if why else (
                "gap", cur["terminal_id"], cur["seq"],
                f"card sequences {prev_seq + 1}..{card_seq - 1} not seen yet (a terminal not synced)"))
        elif cur["balance_before"] != prev["balance_after"]:
            found.append(("balance_jump", cur["terminal_id"], cur["seq"],
                          f"balance went from {prev['balance_after']} to {cur['balance_before']} between card "
                          f"sequences {prev_seq} and {card_seq} with no entry explaining it"))
    landed_keys = {(k, t, s) for k, t, s, _ in found if k == "pending_landed"}
    for i in intents:
        if ("pending_landed", i["terminal_id"], i["seq"]) not in landed_keys:
            found.append(("pending", i["terminal_id"], i["seq"],
                          f"{i['op']} of {i['amount']} started on terminal {i['terminal_id']} with no outcome yet"))
    return found


def outside_event(rows: list[dict], window: EventWindow | None) -> list[tuple[str, int, int, str]]:
    """Committed movements timestamped outside the event's window (none when no dates are set)."""
    if window is None:
        return []
    found = []
    for r in rows:
        moment = entry_time(r["time"]) if r["phase"] == "commit" else None
        if moment is not None and not window.is_open(moment):
            found.append(("outside_event", r["terminal_id"], r["seq"],
                          f"{r['op']} at {r['time']} is {window.position(moment)} the event "
                          f"({window.starts or '…'} to {window.ends or '…'}, grace {window.grace_h:g} h)"))
    return found


FACE_CARD = 0  # a face account is not a card: its anomalies are kept under card 0, naming the account in the detail


def face_outside_event(store: Store, window: EventWindow | None,
                       keys: Iterable[tuple[int, int]] | None = None) -> int:
    """Flag face-account movements (terminal entries with no card, in `face_ledger`) timestamped outside the window;
    returns how many were flagged. They are informational like the cards' `outside_event`: not money, no hotlist.

    `keys`: only these (terminal, seq) entries, those an ingest has just stored (with the window in force then);
    None: all of them, after clearing the earlier flags, since the dates may have changed since."""
    if keys is None:
        store.execute("DELETE FROM anomalies WHERE card_id = ? AND kind = 'outside_event'", [FACE_CARD])
        if window is None:
            return 0
        rows = store.query("SELECT f.account_id, e.terminal_id, e.seq, e.op, e.phase, e.time FROM face_ledger f "
                           "JOIN entries e ON e.terminal_id = f.terminal_id AND e.seq = f.seq WHERE f.kind <> 'hold'")
    else:
        wanted = sorted(set(keys))
        if window is None or not wanted:
            return 0
        rows = []
        for start in range(0, len(wanted), 400):
            chunk = wanted[start:start + 400]
            rows += store.query(
                "SELECT f.account_id, e.terminal_id, e.seq, e.op, e.phase, e.time FROM face_ledger f JOIN entries e "
                "ON e.terminal_id = f.terminal_id AND e.seq = f.seq WHERE f.kind <> 'hold' AND "
                f"({' OR '.join(['(f.terminal_id = ? AND f.seq = ?)'] * len(chunk))})",
                [v for key in chunk for v in key])
    account = {(r["terminal_id"], r["seq"]): r["account_id"] for r in rows}
    now = now_iso()
    inserts = [(FACE_CARD, kind, tid, seq, f"face account {account[(tid, seq)]}: {detail}", now)
               for kind, tid, seq, detail in outside_event(rows, window)]
    if inserts:
        store.executemany("INSERT INTO anomalies (card_id, kind, terminal_id, seq, detail, found_at) "
                          "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", inserts)
    return len(inserts)


def reconcile(store: Store, card_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Recompute anomalies (for the given cards, or all) and hotlist suspicious cards; returns counts by kind."""
    auto = set(get_setting(store, "auto_hotlist") or []) | ALWAYS_HOTLIST
    ctx = load_context(store)
    window = stored_window(store)
    if card_ids is None:
        cards = [r["card_id"] for r in store.query("SELECT DISTINCT card_id FROM entries WHERE card_id IS NOT NULL")]
    else:
        cards = sorted(set(card_ids))
    counts: dict[str, int] = defaultdict(int)
    now = now_iso()
    for start in range(0, len(cards), 500):
        chunk = cards[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        # marks cleared, then the rows read, in one transaction: an ingest committing in between keeps its mark or
        # has its entries read here (PostgreSQL reads committed rows per statement)
        with store.transaction():
            store.execute(f"DELETE FROM reconcile_pending WHERE card_id IN ({marks})", chunk)
            rows = store.query(f"SELECT terminal_id, seq, op, phase, ref, card_id, uid, card_seq, amount, "
                               f"balance_before, balance_after, time, data FROM entries WHERE card_id IN ({marks}) "
                               f"ORDER BY card_id, card_seq, time, terminal_id, seq", chunk)
            per_card: dict[int, list[dict]] = defaultdict(list)
            for r in rows:
                per_card[r["card_id"]].append(r)
            balances, closed = card_balances(store, chunk), closed_cards(store, chunk)
            store.execute(f"DELETE FROM anomalies WHERE card_id IN ({marks})", chunk)
            inserts = []
            for cid in chunk:
                card_rows = per_card.get(cid, [])
                found: list[tuple] = [*_find(cid, card_rows, ctx), *card_findings(cid, card_rows, ctx)]
                found += money_findings(cid, card_rows, balances.get(cid, 0), {f[0] for f in found}, cid in closed)
                found += outside_event(card_rows, window)
                for kind, tid, seq, detail, *amount in found:
                    inserts.append((cid, kind, tid, seq, detail, now, amount[0] if amount else None))
                    counts[kind] += 1
            if inserts:
                store.executemany("INSERT INTO anomalies (card_id, kind, terminal_id, seq, detail, found_at, amount) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", inserts)
            for cid, kind, _t, _s, detail, _n, _a in inserts:
                if kind in auto:
                    store.execute("INSERT INTO hotlist (card_id, reason, source, added_at) VALUES (?, ?, 'auto', ?) "
                                  "ON CONFLICT (card_id) DO NOTHING", [cid, f"{kind}: {detail}"[:200], now])
    if card_ids is None:  # face accounts have no card: all their movements are checked against the dates again
        with store.transaction():
            if flagged := face_outside_event(store, window):
                counts["outside_event"] += flagged
    for old, _new, _amount in replace_moves(store):
        if card_ids is None or old in cards or _new in cards:
            block_card(store, old, "replaced", source="replacement")
    for r in store.query("SELECT card_id, terminal_id, data FROM entries WHERE op = 'block' AND card_id IS NOT NULL"):
        if card_ids is None or r["card_id"] in cards:  # a lost card reported at a cashier terminal
            reason = str(json.loads(r["data"] or "{}").get("reason") or "lost")[:60]
            block_card(store, r["card_id"], f"{reason} (reported at terminal {r['terminal_id']})", source="terminal")
    return dict(counts)


def reconcile_pending(store: Store) -> dict[str, int]:
    """Reconcile every card an ingest stored entries for and nobody reconciled yet (also those of an ingest that
    was killed after its commit): a re-run then finds the anomalies and hotlist a clean run would have.

    Ingest marks each stored batch (`reconcile_batches`). First, in one transaction, the marked batches' cards
    (those of the entries in their ranges) become card marks (`reconcile_pending`) and those batch marks go; a
    batch committed meanwhile keeps its mark for the next run. `reconcile` then clears each card's mark in the
    transaction that reads its entries, so a run killed at any point leaves what is not done yet marked, and two
    runs at once (uploads reconciled in parallel) share the work rather than each doing all of it."""
    with store.transaction():
        batches = [r["batch_id"] for r in store.query("SELECT batch_id FROM reconcile_batches")]
        if batches:
            cards = {r["card_id"] for r in store.query_in(
                "SELECT DISTINCT e.card_id FROM batches b JOIN entries e ON e.terminal_id = b.terminal_id "
                "AND e.seq BETWEEN b.first_seq AND b.last_seq WHERE b.batch_id IN ({marks}) "
                "AND e.card_id IS NOT NULL", batches)}
            store.executemany("INSERT INTO reconcile_pending (card_id) VALUES (?) ON CONFLICT DO NOTHING",
                              [(c,) for c in sorted(cards)])
            store.query_in("DELETE FROM reconcile_batches WHERE batch_id IN ({marks})", batches)
    cards = [r["card_id"] for r in store.query("SELECT card_id FROM reconcile_pending")]
    return reconcile(store, cards) if cards else {}


def block_card(store: Store, card_id: int, reason: str, *, source: str = "organizer") -> None:
    store.execute("INSERT INTO hotlist (card_id, reason, source, added_at) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (card_id) DO NOTHING", [card_id, reason, source, now_iso()])


def unblock_card(store: Store, card_id: int) -> bool:
    """Take a found card off the hotlist; False when it was not on it. LedgerError when its money has left it
    (refunded, replaced onto a new band) or a refund of it is asked for: unblocking would let the band's chip
    balance be spent as well, money paid twice."""
    closed = store.scalar("SELECT status FROM cards WHERE card_id = ?", [card_id])
    if closed is not None:
        raise LedgerError(f"card {card_id} is {closed}: its money has left it, so it stays blocked")
    if refund_open(store, card_id=card_id):
        raise LedgerError(f"card {card_id} has a refund request open: reject it first")
    return store.execute("DELETE FROM hotlist WHERE card_id = ?", [card_id]) > 0


def hotlist(store: Store) -> list[tuple[int, str]]:
    return [(r["card_id"], r["reason"]) for r in store.query("SELECT card_id, reason FROM hotlist ORDER BY card_id")]
