"""What the ledger cannot explain: forged records, credits booked by terminals not enrolled for them, limits
broken, terminals' own refusals, and the money on bands beyond the ledger.

Reconciliation (`sync.collector.ledger`) asks these questions per card with a `Context` read once per run. A
missing card sequence is only `gap` (a terminal not synced yet) while some terminal that could hold it has not
synced since the card moved on; once they all have, nobody wrote that record with the terminal software: it is `forged`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sync.collector.event import get_setting
from sync.collector.storage import Store

# anomalies of money: the summary's books do not balance while one is recorded
MONEY_KINDS = ("forged", "balance_jump", "clone", "rollback", "not_permitted", "over_credit_ceiling", "exposure",
               "negative_balance")
CREDIT_OPS = ("issue", "topup", "replace")
NOT_FOR_SALE_TERMINALS = ("issue", "topup", "replace", "close", "correct")  # what a `sale` terminal may not book
DECLINE_KINDS = {"rollback": "rollback", "cloned": "clone", "over_limit": "forged"}  # a terminal's own refusals
NTAG_PRODUCTS = ("NTAG213", "NTAG215", "NTAG216", "MF0UL21")
DEFAULT_LIMITS = {"max_balance": 50_000, "ntag_max_balance": 25_000, "credit_per_day": 500_000}


@dataclass
class Context:
    roles: dict[int, str] = field(default_factory=dict)  # every enrolled terminal, revoked included
    last_sync: dict[int, str] = field(default_factory=dict)  # active terminals with all reported entries received
    unsynced: set[int] = field(default_factory=set)  # active terminals that never synced or hold entries not here
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    over_ceiling: set[tuple[int, int]] = field(default_factory=set)  # (terminal, seq) of credits past the ceiling
    fraud_uids: dict[str, int] = field(default_factory=dict)  # band uid -> card id hotlisted for fraud

    def synced_since(self, terminal_id: int, when: str) -> bool:
        """The terminal has uploaded everything it had, after `when` (an entry's time): it holds nothing older."""
        last = self.last_sync.get(terminal_id)
        return last is not None and terminal_id not in self.unsynced and last[:19] >= when[:19]

    def all_synced_since(self, when: str) -> bool:
        return not self.unsynced and all(last[:19] >= when[:19] for last in self.last_sync.values())


def card_limits(store: Store) -> dict[str, int]:
    """The event's card limits (setting `card_limits`): what terminals enforce, re-checked here."""
    configured = get_setting(store, "card_limits") or {}
    return {k: int(configured.get(k, v)) for k, v in DEFAULT_LIMITS.items()}


def load_context(store: Store) -> Context:
    ctx = Context(limits=card_limits(store))
    received = {r["terminal_id"]: int(r["last"]) for r in store.query(
        "SELECT terminal_id, MAX(last_seq) AS last FROM batches GROUP BY terminal_id")}
    for t in store.query("SELECT terminal_id, role, status, last_sync, reported_head_seq FROM terminals"):
        tid = int(t["terminal_id"])
        ctx.roles[tid] = t["role"]
        if t["status"] != "active":
            continue  # a revoked terminal's unsynced writes are not waited for
        if t["last_sync"] is None or received.get(tid, 0) < int(t["reported_head_seq"] or 0):
            ctx.unsynced.add(tid)
        else:
            ctx.last_sync[tid] = str(t["last_sync"])
    ctx.over_ceiling = _over_ceiling(store, ctx.limits["credit_per_day"])
    for r in store.query("SELECT DISTINCT e.uid, h.card_id FROM hotlist h JOIN entries e ON e.card_id = h.card_id "
                         "WHERE h.source = 'auto' AND e.uid IS NOT NULL"):
        ctx.fraud_uids[r["uid"]] = int(r["card_id"])
    return ctx


def _over_ceiling(store: Store, ceiling: int) -> set[tuple[int, int]]:
    """Credit commits that took their terminal past its daily ceiling (from the running totals, then the day)."""
    marks = ", ".join("?" * len(CREDIT_OPS))
    days = store.query(f"SELECT terminal_id, substr(hour, 1, 10) AS day, SUM(amount) AS amount FROM entry_totals "
                       f"WHERE phase = 'commit' AND op IN ({marks}) GROUP BY terminal_id, substr(hour, 1, 10)",
                       list(CREDIT_OPS))
    found: set[tuple[int, int]] = set()
    for d in days:
        if int(d["amount"] or 0) <= ceiling:
            continue
        total = 0
        for r in store.query(f"SELECT seq, amount FROM entries WHERE terminal_id = ? AND phase = 'commit' AND op IN "
                             f"({marks}) AND substr(time, 1, 10) = ? ORDER BY seq",
                             [d["terminal_id"], *CREDIT_OPS, d["day"]]):
            total += int(r["amount"])
            if total > ceiling:
                found.add((int(d["terminal_id"]), int(r["seq"])))
    return found


def _data(row: dict) -> dict:
    try:
        data = json.loads(row.get("data") or "{}")
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def unexplained_gap(rows: list[dict], prev: dict | None, cur: dict, ctx: Context) -> str | None:
    """Why the card sequences before `cur` (after `prev`, or from 1) are forged, or None while they may still
    arrive. The record before `cur` names its writer (`prev_terminal`, journaled by the wallet): if that terminal
    is unknown, or has synced since and booked nothing there, no terminal wrote it; else all terminals synced."""
    first_missing = prev["card_seq"] + 1 if prev is not None else 1
    if any(r["phase"] == "intent" and r["card_seq"] is not None and first_missing <= r["card_seq"] < cur["card_seq"]
           for r in rows):
        return None  # a torn write of ours may be there: pending / indeterminate, not forgery
    missing = f"card sequences {first_missing}..{cur['card_seq'] - 1}"
    writer = _data(cur).get("prev_terminal")
    if isinstance(writer, int) and not isinstance(writer, bool):
        if writer not in ctx.roles:
            return f"{missing} were written by terminal {writer}, which this event never enrolled"
        booked = any(r["terminal_id"] == writer and r["card_seq"] == cur["card_seq"] - 1 for r in rows)
        if not booked and ctx.synced_since(writer, cur["time"]):
            return f"{missing} are on the card as written by terminal {writer}, which synced and never booked them"
    if ctx.all_synced_since(cur["time"]):
        return f"{missing} are on the card but no terminal booked them (every terminal has synced)"
    return None


def card_findings(card_id: int, rows: list[dict], ctx: Context) -> list[tuple[str, int, int, str]]:
    """Anomalies of one card beyond the sequence checks: roles, limits, ceilings, terminals' refusals."""
    found: list[tuple[str, int, int, str]] = []
    commits = [r for r in rows if r["phase"] == "commit"]
    ntag = any(_data(r).get("product") in NTAG_PRODUCTS for r in commits if r["op"] in ("issue", "replace"))
    cap = min(ctx.limits["max_balance"], ctx.limits["ntag_max_balance"]) if ntag else ctx.limits["max_balance"]
    for r in commits:
        tid, seq = r["terminal_id"], r["seq"]
        if r["op"] in NOT_FOR_SALE_TERMINALS and ctx.roles.get(tid) == "sale":
            found.append(("not_permitted", tid, seq, f"{r['op']} of {r['amount']} booked by terminal {tid}, "
                                                     f"enrolled for sales only"))
        top = max(r["balance_before"] or 0, r["balance_after"] or 0)
        if top > cap:
            found.append(("forged", tid, seq, f"balance {top} on the card is above the maximum of {cap}"))
        if (tid, seq) in ctx.over_ceiling:
            ceiling = ctx.limits["credit_per_day"]
            found.append(("over_credit_ceiling", tid, seq,
                          f"{r['op']} of {r['amount']} took terminal {tid} past its daily credit ceiling of {ceiling}"))
    for r in rows:
        if r["op"] == "decline" and r["phase"] == "info":
            kind = DECLINE_KINDS.get(_data(r).get("code", ""))
            if kind is not None:
                found.append((kind, r["terminal_id"], r["seq"], f"terminal {r['terminal_id']} refused the card: "
                                                               f"{_data(r).get('reason', '')}"[:300]))
    uids = {r["uid"] for r in rows if r["uid"]}
    for uid in uids:
        other = ctx.fraud_uids.get(uid)
        if other is not None and other != card_id and commits:
            first = commits[0]
            found.append(("forged", first["terminal_id"], first["seq"],
                          f"band {uid} of blocked card {other} reappeared as card {card_id}"))
    return found


def band_balance(rows: list[dict]) -> int | None:
    """What the band itself last showed: the newest commit's balance after, or a later refusal's balance."""
    best: tuple[str, int] | None = None
    for r in rows:
        if r["phase"] == "commit" and r["balance_after"] is not None:
            value = int(r["balance_after"])
        elif r["op"] == "decline" and r["balance_before"] is not None:
            value = int(r["balance_before"])
        else:
            continue
        if best is None or str(r["time"]) >= best[0]:
            best = (str(r["time"]), value)
    return best[1] if best is not None else None


def money_findings(card_id: int, rows: list[dict], ledger: int, kinds: set[str], closed: bool) -> \
        list[tuple[str, int, int, str, int]]:
    """Exposure (the band holds more than the ledger explains) and negative ledger balances. A card still
    waiting for a terminal's sync (`gap`, `pending`) is explained by that; a replaced or refunded card's band
    is blocked and its money accounted for elsewhere."""
    found: list[tuple[str, int, int, str, int]] = []
    last = rows[-1] if rows else None
    where = (last["terminal_id"], last["seq"]) if last else (0, 0)
    if ledger < 0:
        found.append(("negative_balance", *where, f"the ledger balance of card {card_id} is {ledger}", -ledger))
    band = band_balance(rows)
    waiting = kinds & {"gap", "pending", "pending_landed"}
    if band is not None and not closed and not waiting and band > max(ledger, 0):
        found.append(("exposure", *where, f"the band shows {band}, the ledger explains {max(ledger, 0)}: "
                                          f"{band - max(ledger, 0)} unexplained", band - max(ledger, 0)))
    return found


def closed_cards(store: Store, card_ids: list[int]) -> set[int]:
    """Cards whose band money is accounted for elsewhere: replaced (moved), refunded at the collector."""
    from sync.collector.ledger import replace_moves

    wanted = set(card_ids)
    out = {old for old, _n, _a in replace_moves(store) if old in wanted}
    for r in store.query("SELECT card_id FROM cards WHERE status = 'refunded'"):
        if r["card_id"] in wanted:
            out.add(int(r["card_id"]))
    return out


def exposure(store: Store) -> dict[str, int]:
    """Unexplained money on bands and the sum of negative ledger balances, as the open anomalies say."""
    totals = {r["kind"]: int(r["amount"] or 0) for r in store.query(
        "SELECT kind, SUM(amount) AS amount FROM anomalies WHERE kind IN ('exposure', 'negative_balance') "
        "GROUP BY kind")}
    return {"exposure": totals.get("exposure", 0), "negative_balances": totals.get("negative_balance", 0)}
