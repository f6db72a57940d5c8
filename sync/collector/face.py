"""Face accounts at the collector: accounts, their ledger, online authorization, gallery changes and erasure.

A face account's balance lives here (DESIGN.md "Where the balance lives"), in the
same books as cards: top-ups at a cashier, sales at stalls and refunds at checkout
are ordinary journal entries (card_id None, `data["face_account"]`) that ingest
folds into `face_ledger` in the same transaction that stores them, so exactly once.
Online authorization puts a *hold* on the ledger (atomically, refusing overspend);
the sale entry that follows settles it. Only cashier and admin terminals may
credit an account: a top-up journaled by a sale terminal is kept in its journal
but does not reach the balance (`refused_credit`); it is an open anomaly
(`refused_face_credit`, card id 0, the account in its detail), so the summary's
books do not balance, ingest reports it and the terminal's next bundle tells it.

Templates: enrollment uploads arrive sealed for the event's terminals
(`sync.format.face_keys`); the collector keeps one `put` change per live template in
`gallery_changes`, which bundles carry. Erasure (checkout, a guest's request,
expiry) deletes the template here at once and adds an `erase` change; terminals
confirm it in their next batch (`face_erasures` in the batch status) or by API.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from sync.collector.event import get_meta, get_setting, now_iso
from sync.collector.face_gallery import scrub, uid_digest
from sync.collector.storage import Store
from sync.format.face_keys import SealError

ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")  # \Z: "$" would let a trailing newline through
CREDIT_ROLES = ("cashier", "admin")
DAY_S = 86_400
_SIGN = {"topup": 1, "void": 1, "sale": -1, "close": -1}
_KIND = {"topup": "topup", "void": "void", "sale": "sale", "close": "refund"}
BOOK_KINDS = ("topup", "void", "sale", "refund")  # what the balance is made of (holds are reservations)


class FaceError(Exception):
    """A face-account action that cannot be done; the message says why."""


def check_account_id(account_id: object) -> str:
    if not isinstance(account_id, str) or not ACCOUNT_RE.match(account_id):
        raise FaceError("account id must be 1-64 characters: letters, digits, '_', '.', ':' or '-'")
    return account_id


def _lock(store: Store, name: str) -> None:
    """Serialise writers on one account (or the change counter) across collector processes (SQLite: implicit)."""
    if store.dialect == "postgresql":
        store.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"stallpay-face:{name}"])


def get_account(store: Store, account_id: str) -> dict | None:
    rows = store.query("SELECT * FROM face_accounts WHERE account_id = ?", [account_id])
    return rows[0] if rows else None


def _ensure_account(store: Store, account_id: str) -> None:
    store.execute("INSERT INTO face_accounts (account_id, holder, phone_hash, status, created_at) "
                  "VALUES (?, '', '', 'active', ?) ON CONFLICT (account_id) DO NOTHING", [account_id, now_iso()])


def register_account(store: Store, account_id: str, *, holder: str = "", phone_hash: str = "",
                     wristband_uid: str | None = None) -> dict:
    """Create or update an account's holder data; a closed account stays closed."""
    check_account_id(account_id)
    if phone_hash and not re.fullmatch(r"[0-9a-f]{64}|s1\$[0-9a-f]{32}\$[0-9a-f]{64}", phone_hash):
        raise FaceError("phone hash must be 64 hex digits")
    store.execute("INSERT INTO face_accounts (account_id, holder, phone_hash, wristband_uid, status, created_at) "
                  "VALUES (?, ?, ?, ?, 'active', ?) ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, "
                  "phone_hash = excluded.phone_hash, wristband_uid = excluded.wristband_uid",
                  [account_id, holder[:200], phone_hash, uid_digest(store, wristband_uid) if wristband_uid else None,
                   now_iso()])
    return get_account(store, account_id) or {}


# --- balances ------------------------------------------------------------------------------------------------------


def balances(store: Store, account_ids: list[str] | None = None) -> dict[str, int]:
    """Ledger balance per account: top-ups + voids - sales - refunds (holds excluded)."""
    sql = (f"SELECT account_id, SUM(amount) AS b FROM face_ledger WHERE kind IN "
           f"({', '.join('?' * len(BOOK_KINDS))})")
    params: list[Any] = list(BOOK_KINDS)
    if account_ids is not None:
        if not account_ids:
            return {}
        sql += f" AND account_id IN ({', '.join('?' * len(account_ids))})"
        params += account_ids
    return {r["account_id"]: int(r["b"] or 0) for r in store.query(sql + " GROUP BY account_id", params)}


def open_holds(store: Store, account_id: str | None = None) -> dict[str, int]:
    sql = "SELECT account_id, SUM(amount) AS h FROM face_ledger WHERE kind = 'hold' AND settled = 0"
    params: list[Any] = []
    if account_id is not None:
        sql += " AND account_id = ?"
        params.append(account_id)
    return {r["account_id"]: -int(r["h"] or 0) for r in store.query(sql + " GROUP BY account_id", params)}


def available(store: Store, account_id: str) -> int:
    return balances(store, [account_id]).get(account_id, 0) - open_holds(store, account_id).get(account_id, 0)


def snapshot_balances(store: Store) -> dict[str, int]:
    """What each active account may still spend (ledger balance minus open holds), for signed snapshots."""
    active = [r["account_id"] for r in store.query("SELECT account_id FROM face_accounts WHERE status = 'active' "
                                                   "ORDER BY account_id")]
    book = balances(store)
    holds = open_holds(store)
    return {a: book.get(a, 0) - holds.get(a, 0) for a in active}


# --- online authorization ------------------------------------------------------------------------------------------

REQUEST_ID = r"[A-Za-z0-9_-]{8,64}"  # a terminal's authorization request id; the hold is named t<terminal>-<it>


def authorize(store: Store, account_id: str, amount: int, *, terminal_id: int, request_id: str) -> dict[str, Any]:
    """Reserve `amount` on the account, or refuse; atomic per account. The same request id gives the same answer."""
    check_account_id(account_id)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise FaceError("amount must be a positive integer in minor units")
    if not re.fullmatch(REQUEST_ID, request_id or ""):
        raise FaceError("request id must be 8-64 characters [A-Za-z0-9_-]")
    auth_id = f"t{terminal_id}-{request_id}"
    with store.transaction():
        _lock(store, account_id)
        done = store.query("SELECT amount, account_id FROM face_ledger WHERE entry_key = ?", [f"hold:{auth_id}"])
        if done:
            if done[0]["account_id"] != account_id or -int(done[0]["amount"]) != amount:
                raise FaceError("request id already used for another authorization")
            return {"approved": True, "authorization": auth_id, "amount": amount,
                    "available_after": available(store, account_id)}
        account = get_account(store, account_id)
        if account is None:
            return {"approved": False, "reason": "unknown face account", "available": 0}
        if account["status"] != "active":
            return {"approved": False, "reason": f"face account is {account['status']}", "available": 0}
        left = available(store, account_id)
        if amount > left:
            return {"approved": False, "reason": "insufficient funds", "available": left}
        store.execute("INSERT INTO face_ledger (entry_key, account_id, kind, amount, terminal_id, auth_id, time) "
                      "VALUES (?, ?, 'hold', ?, ?, ?, ?)",
                      [f"hold:{auth_id}", account_id, -amount, terminal_id, auth_id, now_iso()])
    return {"approved": True, "authorization": auth_id, "amount": amount, "available_after": left - amount}


def release_hold(store: Store, auth_id: str) -> bool:
    """Cancel an authorization whose sale never happened (operator action)."""
    return store.execute("UPDATE face_ledger SET settled = 1, note = 'released' WHERE kind = 'hold' AND auth_id = ? "
                         "AND settled = 0", [auth_id]) > 0


# --- ingest of journal entries -----------------------------------------------------------------------------------


def ingest_rows(store: Store, rows: list[tuple]) -> int:
    """Fold newly stored entry rows (`sync.collector.prepared.ENTRY_COLUMNS`) about face accounts into the ledger.

    Runs inside the ingest transaction, only for rows stored for the first time. Returns rows taken."""
    face = [r for r in rows if r[10] is None and r[8] == "commit" and r[7] in _SIGN and "face_account" in r[19]]
    if not face:
        return 0
    tids = sorted({r[0] for r in face})
    roles = {t["terminal_id"]: t["role"] for t in store.query(
        f"SELECT terminal_id, role FROM terminals WHERE terminal_id IN ({', '.join('?' * len(tids))})", tids)}
    taken = 0
    for r in face:
        try:
            data = json.loads(r[19])
            account_id = check_account_id(data.get("face_account"))
        except (ValueError, FaceError, AttributeError):
            continue
        tid, seq, op, amount, when = r[0], r[1], r[7], int(r[13]), r[4]
        kind, note = _KIND[op], ""
        if op == "topup" and roles.get(tid) not in CREDIT_ROLES:
            kind, note = "refused_credit", f"top-up by a {roles.get(tid, 'unknown')} terminal does not credit"
            _refused_anomaly(store, tid, seq, account_id, amount, note)
        _ensure_account(store, account_id)
        signed = _SIGN[op] * amount if kind in BOOK_KINDS else 0
        auth = data.get("authorization")
        if not isinstance(auth, str) or not re.fullmatch(rf"t{tid}-{REQUEST_ID}", auth):
            auth = None  # only this terminal's own holds (`authorize` names them t<terminal>-<request id>)
        store.execute("INSERT INTO face_ledger (entry_key, account_id, kind, amount, terminal_id, seq, auth_id, time, "
                      "note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_key) DO NOTHING",
                      [f"t{tid}:{seq}", account_id, kind, signed, tid, seq, auth, when, note or str(amount)])
        if op == "sale" and auth:
            store.execute("UPDATE face_ledger SET settled = 1 WHERE kind = 'hold' AND auth_id = ? AND account_id = ?",
                          [auth, account_id])
        if op == "close" and roles.get(tid) in CREDIT_ROLES:
            store.execute("UPDATE face_accounts SET status = 'closed', closed_at = ?, phone_hash = '', "
                          "wristband_uid = NULL WHERE account_id = ?", [when, account_id])
            erase_account(store, account_id, "checkout", by=f"terminal {tid}")
        taken += 1
    return taken


REFUSED_CREDIT = "refused_face_credit"  # anomaly kind; card_id 0 (a face account is not a card)


def _refused_anomaly(store: Store, tid: int, seq: int, account_id: str, amount: int, note: str) -> None:
    store.execute("INSERT INTO anomalies (card_id, kind, terminal_id, seq, detail, found_at) VALUES (0, ?, ?, ?, ?, ?) "
                  "ON CONFLICT DO NOTHING",
                  [REFUSED_CREDIT, tid, seq, f"face account {account_id}: {amount} not credited ({note}); pair a "
                   f"cashier terminal with a cashier code", now_iso()])


def refused_credits(store: Store, terminal_id: int) -> list[dict[str, Any]]:
    """This terminal's face top-ups the collector did not credit (what its bundle tells it)."""
    return [{"seq": int(r["seq"]), "account_id": r["account_id"], "amount": int(r["amount"])} for r in store.query(
        "SELECT f.seq, f.account_id, e.amount FROM face_ledger f JOIN entries e ON e.terminal_id = f.terminal_id "
        "AND e.seq = f.seq WHERE f.kind = 'refused_credit' AND f.terminal_id = ? ORDER BY f.seq", [terminal_id])]


# --- templates: enrollment, gallery changes, erasure, expiry --------------------------------------------------------


def _drop_template(store: Store, account_id: str) -> int:
    """Delete the stored template's row at once (deleted, not nulled: no old version keeps it after the scrub)."""
    return store.execute("DELETE FROM gallery_changes WHERE account_id = ? AND action = 'put'", [account_id])


def _next_change(store: Store) -> int:
    """The next change id; a counter in `meta`, so the id of a deleted row is never given out again."""
    _lock(store, "gallery-changes")
    last = max(int(store.scalar("SELECT COALESCE(MAX(change_id), 0) FROM gallery_changes") or 0),
               int(get_meta(store, "gallery_last_change") or 0))
    store.execute("INSERT INTO meta (key, value) VALUES ('gallery_last_change', ?) ON CONFLICT (key) DO UPDATE "
                  "SET value = excluded.value", [str(last + 1)])
    return last + 1


def template_expiry(store: Store, now: datetime | None = None) -> int:
    """Unix time a template enrolled now expires: `face_retention_days` after the event end (or after now)."""
    now_s = int((now or datetime.now(UTC)).timestamp())
    end = int(get_setting(store, "event_end") or 0)
    days = get_setting(store, "face_retention_days")
    return max(end, now_s) + int(7 if days is None else days) * DAY_S


def upload_template(store: Store, master_key: bytes, event_id: str, account_id: str, sealed: str, *,
                    holder: str = "", phone_hash: str = "", wristband_uid: str | None = None,
                    expires_at: int | None = None, terminal_id: int | None = None) -> int:
    """Store an enrolled template (sealed for the event's terminals) and register the account; returns the change id.

    The seal is checked here, so a template no terminal could open is refused at once, with a reason."""
    from sync.collector.face_gallery import open_upload, phone_digest, seal_at_rest

    check_account_id(account_id)
    try:
        opened = open_upload(store, master_key, event_id, account_id, sealed, terminal_id)
    except SealError as exc:
        raise FaceError(str(exc)) from None
    # kept under the collector's own key (no terminal can open the row); the digits only as a slow keyed hash
    sealed = seal_at_rest(store, event_id, account_id, opened)
    phone_hash = phone_digest(store, opened["phone_digits"]) if opened["phone_digits"] else ""
    with store.transaction():
        account = get_account(store, account_id)
        if account is not None and account["status"] != "active":
            raise FaceError(f"face account {account_id} is {account['status']}; enroll a new account")
        register_account(store, account_id, holder=holder, phone_hash=phone_hash, wristband_uid=wristband_uid)
        limit = template_expiry(store)
        expiry = min(expires_at, limit) if expires_at else limit
        _drop_template(store, account_id)
        change = _next_change(store)
        store.execute("INSERT INTO gallery_changes (change_id, account_id, action, template, changed_at, expires_at, "
                      "reason) VALUES (?, ?, 'put', ?, ?, ?, 'enrolled')",
                      [change, account_id, sealed, now_iso(), expiry])
    return change


def erase_account(store: Store, account_id: str, reason: str, *, by: str) -> int | None:
    """Delete the template at once and tell every terminal (an `erase` change); None when nothing was held."""
    with store.transaction():
        _lock(store, account_id)
        had = _drop_template(store, account_id)
        already = store.scalar("SELECT 1 FROM gallery_changes WHERE account_id = ? AND action = 'erase'", [account_id])
        if not had and already:
            return None
        change = _next_change(store)
        store.execute("INSERT INTO gallery_changes (change_id, account_id, action, template, changed_at, reason) "
                      "VALUES (?, ?, 'erase', NULL, ?, ?)", [change, account_id, now_iso(), f"{reason} ({by})"[:200]])
    scrub(store)
    return change


def checkout(store: Store, account_id: str, *, by: str, pay_out_here: bool) -> dict[str, Any]:
    """Close the account and erase its template. `pay_out_here`: the collector pays the balance out (a ledger
    refund); otherwise a cashier terminal pays it and journals the refund (op close), which ingest books."""
    check_account_id(account_id)
    with store.transaction():
        _lock(store, account_id)
        account = get_account(store, account_id)
        if account is None:
            raise FaceError(f"unknown face account {account_id}")
        holds = open_holds(store, account_id).get(account_id, 0)
        if holds:
            raise FaceError(f"face account {account_id} has {holds} authorized but not yet synced: sync the stalls")
        balance = max(0, balances(store, [account_id]).get(account_id, 0))
        # a closed account may still hold what an offline checkout left for the organizer to pay out
        closed = account["status"] not in ("active", "frozen")  # frozen: blocked by the guest, still paid out
        if closed and not (pay_out_here and balance):
            raise FaceError(f"face account {account_id} is already {account['status']}")
        if pay_out_here and balance:
            store.execute("INSERT INTO face_ledger (entry_key, account_id, kind, amount, time, note) "
                          "VALUES (?, ?, 'refund', ?, ?, ?)",
                          [f"refund:{account_id}:{secrets.token_hex(4)}", account_id, -balance, now_iso(), by])
        if not closed:
            store.execute("UPDATE face_accounts SET status = 'closed', closed_at = ?, phone_hash = '', "
                          "wristband_uid = NULL WHERE account_id = ?", [now_iso(), account_id])
            erase_account(store, account_id, "checkout", by=by)
    scrub(store)
    return {"account_id": account_id, "refund": balance, "paid_by": "collector" if pay_out_here else "terminal"}


def expire_templates(store: Store, now: datetime | None = None) -> list[str]:
    """Erase every template past its expiry (run when bundles are built and by `collector face expire`)."""
    now_s = int((now or datetime.now(UTC)).timestamp())
    ids = [r["account_id"] for r in store.query(
        "SELECT account_id FROM gallery_changes WHERE action = 'put' AND expires_at IS NOT NULL AND expires_at <= ?",
        [now_s])]
    for account_id in ids:
        erase_account(store, account_id, "expired", by="collector")
    return ids


def gallery_changes(store: Store, after: int = 0) -> list[dict]:
    return store.query("SELECT change_id, account_id, action, template, expires_at FROM gallery_changes "
                       "WHERE change_id > ? AND action IN ('put', 'erase') ORDER BY change_id", [after])


def record_confirmations(store: Store, terminal_id: int, account_ids: object) -> int:
    """A terminal says it erased these accounts' templates (batch status or API)."""
    if not isinstance(account_ids, list):
        return 0
    rows = [(a, terminal_id, now_iso()) for a in account_ids[:10_000] if isinstance(a, str) and ACCOUNT_RE.match(a)]
    if rows:
        store.executemany("INSERT INTO face_erasure_confirmations (account_id, terminal_id, confirmed_at) "
                          "VALUES (?, ?, ?) ON CONFLICT (account_id, terminal_id) DO NOTHING", rows)
    return len(rows)


def confirmed_by(store: Store, terminal_id: int) -> list[str]:
    return [r["account_id"] for r in store.query(
        "SELECT account_id FROM face_erasure_confirmations WHERE terminal_id = ? ORDER BY account_id", [terminal_id])]


def pending_erasures(store: Store, now: datetime | None = None) -> list[dict]:
    """Per terminal, the erasures it has not confirmed yet (what `report erasures` lists), with the age of the
    oldest; `alarm` once that age passes the face-sync window. A revoked terminal that never confirmed stays listed
    as "holds templates, unreachable": revoking it stops its requests, not what is on its SD card."""
    now = now or datetime.now(UTC)
    window_h = float(get_setting(store, "face_sync_window_h") or 24)
    erasures = store.query("SELECT account_id, changed_at, reason FROM gallery_changes WHERE action = 'erase' "
                           "ORDER BY change_id")
    confirmed: dict[int, set[str]] = {}
    for r in store.query("SELECT account_id, terminal_id FROM face_erasure_confirmations"):
        confirmed.setdefault(r["terminal_id"], set()).add(r["account_id"])
    out = []
    for t in store.query("SELECT terminal_id, name, vendor, role, status, last_sync FROM terminals "
                         "ORDER BY terminal_id"):
        mine = confirmed.get(t["terminal_id"], set())
        waiting = [e for e in erasures if e["account_id"] not in mine]
        revoked = t["status"] != "active"
        if revoked and not waiting:
            continue
        oldest = waiting[0]["changed_at"] if waiting else None
        age_h = None if oldest is None else round(
            (now - datetime.fromisoformat(oldest.replace("Z", "+00:00"))).total_seconds() / 3600, 2)
        alarm = revoked or (age_h is not None and age_h > window_h)
        note = ("holds templates, unreachable" if revoked else
                f"erasure waiting {age_h:g} h, past the {window_h:g} h window: face pay is refused there until it "
                "syncs" if alarm else "")
        out.append({"terminal_id": t["terminal_id"], "name": t["name"], "vendor": t["vendor"], "status": t["status"],
                    "last_sync": t["last_sync"], "pending": len(waiting), "oldest_erasure": oldest,
                    "oldest_age_h": age_h, "window_h": window_h, "alarm": alarm, "note": note,
                    "accounts": " ".join(e["account_id"] for e in waiting[:50])})
    return out
