"""Guest portal access for face accounts: the account id from the receipt and the phone digits given at
enrolment (checked against the keyed hash kept at the collector, never stored in clear), then a signed
cookie for that one account."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from sync.collector.backoffice.guest_access import COOKIE_LIFETIME_S, _portal_key
from sync.collector.face import get_account
from sync.collector.face_gallery import phone_matches
from sync.collector.storage import Store
from sync.format.face_keys import phone_hash

ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def phone_ok(store: Store, master_key: bytes | None, event_id: str, account_id: str, typed: str) -> bool:
    digits = re.sub(r"[\s()+-]", "", typed)
    if not ACCOUNT_ID.fullmatch(account_id) or not digits.isdigit() or not 4 <= len(digits) <= 15:
        return False
    account = get_account(store, account_id)
    stored = str((account or {}).get("phone_hash") or "")
    if not stored:
        return False
    if stored.startswith("s1$"):
        return phone_matches(store, stored, digits)
    if master_key is None:
        return False
    return hmac.compare_digest(phone_hash(master_key, event_id, account_id, digits).encode(), stored.encode())


def face_cookie(store: Store, account_id: str, now: float | None = None) -> str:
    body = f"{account_id}.{int((now or time.time()) + COOKIE_LIFETIME_S)}"
    sig = hmac.new(_portal_key(store), f"portal-face|{body}".encode(), hashlib.sha256).hexdigest()
    return f"{body}.{sig}"


def cookie_account(store: Store, cookie: str | None, now: float | None = None) -> str | None:
    try:
        account_id, expires, sig = (cookie or "").split(".")
        body = f"{account_id}.{int(expires)}"
    except ValueError:
        return None
    good = hmac.new(_portal_key(store), f"portal-face|{body}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(good.encode(), sig.encode()) or int(expires) < (now or time.time()):
        return None
    return account_id if ACCOUNT_ID.fullmatch(account_id) else None
