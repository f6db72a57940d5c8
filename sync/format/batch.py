"""The batch: a signed, compressed slice of one terminal's journal, the unit of sync.

A batch carries its chain position (first and last sequence, the hash before the
first entry and the hash of the last). The terminal signs the header; since every
entry names its predecessor's hash, the signed `last_hash` commits to every entry,
so the collector can prove that nothing in a batch was removed or altered.
The same encoding travels over HTTP and on a USB stick.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from itertools import repeat
from operator import ge, itemgetter
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.format.entry import FIELDS, entry_hash
from sync.format.keys import public_hex, verify

FORMAT = "stallpay-batch/1"
MAGIC = b"SPB1"
SUFFIX = ".spb"
MAX_ENTRIES = 10_000
MAX_BYTES = 64 * 1024 * 1024  # uncompressed; a bigger batch is refused rather than exhausting memory
BIGINT = 2**63 - 1  # the collector stores integers as BIGINT: anything wider is refused, not truncated
MAX_SEQ = 2**62  # a journal position; leaves room for seq + 1 in the collector's BIGINT lookups
# amounts and balances: far above any event (10 billion in major units), and small enough that a batch's sums
# (MAX_ENTRIES of them, and the running totals of many batches) stay inside BIGINT
MAX_AMOUNT = 10**12
_NEEDED = frozenset((*FIELDS, "hash"))
_INT_FIELDS = ("amount", "card_id", "card_seq", "balance_before", "balance_after", "ref")
_TEXT_FIELDS = ("operator", "uid", "method")
_ints = itemgetter(*_INT_FIELDS)
_INT_LIMITS = tuple(MAX_AMOUNT if n in ("amount", "balance_before", "balance_after") else BIGINT for n in _INT_FIELDS)
_texts = itemgetter("op", "phase", "time", "currency")
_optional_texts = itemgetter(*_TEXT_FIELDS)


class BatchError(Exception):
    """A batch that cannot be accepted; the message is the reason shown to the organizer."""


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Batch:
    header: dict[str, Any]
    entries: list[dict[str, Any]]
    signature: str
    # False only when the decoder saw no escaped NUL anywhere, so entries need no NUL check of their own
    may_hold_nul: bool = field(default=True, compare=False)

    @property
    def event_id(self) -> str:
        return self.header["event_id"]

    @property
    def terminal_id(self) -> int:
        return self.header["terminal_id"]

    @property
    def first_seq(self) -> int:
        return self.header["first_seq"]

    @property
    def last_seq(self) -> int:
        return self.header["last_seq"]

    @property
    def batch_id(self) -> str:
        """Stable identity: the same entries exported twice give the same id."""
        return hashlib.sha256(canonical_json(self.header)).hexdigest()

    def filename(self) -> str:
        return f"{self.event_id}-t{self.terminal_id:05d}-{self.first_seq:010d}-{self.last_seq:010d}{SUFFIX}"


def make_batch(entries: list[dict[str, Any]], key: Ed25519PrivateKey, *, terminal_status: dict | None = None) -> Batch:
    """Sign a contiguous run of journal entries (as given by `Journal.export`)."""
    if not entries:
        raise BatchError("a batch needs at least one entry")
    first, last = entries[0], entries[-1]
    header = {
        "format": FORMAT,
        "event_id": first["event_id"],
        "terminal_id": first["terminal_id"],
        "public_key": public_hex(key),
        "first_seq": first["seq"],
        "last_seq": last["seq"],
        "count": len(entries),
        "prev_hash": first["prev_hash"],
        "last_hash": last["hash"],
        "status": dict(terminal_status or {}),
    }
    clean = [{**{k: e[k] for k in FIELDS}, "hash": e["hash"]} for e in entries]
    return Batch(header=header, entries=clean, signature=key.sign(canonical_json(header)).hex())


def encode(batch: Batch) -> bytes:
    body = canonical_json({"header": batch.header, "entries": batch.entries, "signature": batch.signature})
    return MAGIC + zlib.compress(body, 6)


def inflate(data: bytes, codec: Any = zlib) -> bytes:
    """The batch's JSON body, decompressed within `MAX_BYTES`; BatchError if it is not a whole StallPay batch.
    `codec`: a module with zlib's `decompressobj` and `error` (the collector passes ISA-L's, twice as fast)."""
    if not data.startswith(MAGIC):
        raise BatchError("not a StallPay batch (bad magic)")
    try:
        inflater = codec.decompressobj()
        body = inflater.decompress(data[len(MAGIC):], MAX_BYTES)
        # ISA-L may keep the rest of a bomb's input buffered (no unconsumed_tail): a full output says it too
        if inflater.unconsumed_tail or (len(body) == MAX_BYTES and not inflater.eof):
            raise BatchError(f"batch is larger than {MAX_BYTES} bytes uncompressed")
        if not inflater.eof:
            raise BatchError("batch is truncated (compressed data ends early)")
    except codec.error as exc:
        raise BatchError(f"batch is corrupt ({exc})") from None
    return body


def decode(data: bytes) -> Batch:
    """Parse bytes into a Batch without trusting it yet (see `check`)."""
    return decode_body(inflate(data))


def decode_body(body: bytes) -> Batch:
    """`decode` of a body `inflate` gave."""
    try:
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:  # orjson is stricter (e.g. integers wider than 64 bits): let json decide
            raw = json.loads(body)
            canonical_json(raw)  # lone surrogates (json accepts "\ud800") cannot be hashed or signed: refuse here
        header, entries, signature = raw["header"], raw["entries"], raw["signature"]
    except RecursionError:  # nesting deeper than orjson's limit: the fallback parser would exhaust the stack
        raise BatchError("batch is corrupt (JSON nested too deeply)") from None
    except (ValueError, KeyError, TypeError):
        raise BatchError("batch is corrupt (not the batch JSON layout)") from None
    if not isinstance(header, dict) or not isinstance(entries, list) or not isinstance(signature, str):
        raise BatchError("batch is corrupt (not the batch JSON layout)")
    return Batch(header=header, entries=entries, signature=signature, may_hold_nul=b"\\u0000" in body)


_HEADER_TYPES = {"format": str, "event_id": str, "terminal_id": int, "public_key": str, "first_seq": int,
                 "last_seq": int, "count": int, "prev_hash": str, "last_hash": str, "status": dict}


def check(batch: Batch, public_key_hex: str) -> None:
    """Verify the signature and the internal chain; raise BatchError with the reason otherwise."""
    check_signature(batch, public_key_hex)
    check_chain(batch)


def check_header(batch: Batch) -> None:
    h = batch.header
    for name, typ in _HEADER_TYPES.items():
        if not isinstance(h.get(name), typ) or (typ is int and isinstance(h.get(name), bool)):
            raise BatchError(f"batch header field {name!r} is missing or malformed")
        if typ is int and not 0 <= h[name] <= (MAX_SEQ if name.endswith("_seq") else BIGINT):
            raise BatchError(f"batch header field {name!r} is out of range")
    if h["format"] != FORMAT:
        raise BatchError(f"unsupported batch format {h['format']!r}")


def check_signature(batch: Batch, public_key_hex: str) -> None:
    """The header is the enrolled key's; since it names the last hash, this covers every entry once the chain
    checks out (`check_chain`)."""
    check_header(batch)
    h = batch.header
    if h["public_key"] != public_key_hex or not verify(public_key_hex, batch.signature, canonical_json(h)):
        raise BatchError(f"bad signature: batch was not signed by terminal {h['terminal_id']}'s enrolled key")


def entry_digest(entry: dict[str, Any]) -> str:
    """The journal's entry hash (`sync.format.entry.entry_hash`), computed with orjson, whose output is the
    same canonical JSON; on any difference (floats, integers beyond 64 bits) the reference encoder decides."""
    try:
        if len(entry) == len(_NEEDED):  # exactly the hashed fields and `hash` (checked by the caller)
            body = entry.copy()
            del body["hash"]
        else:
            body = {k: entry[k] for k in FIELDS}
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except TypeError:
        return entry_hash(entry)


def check_chain(batch: Batch) -> None:
    """Counts, sequence, chain and entry hashes, field types and ranges (no key needed: runs in worker processes)."""
    check_header(batch)
    h = batch.header
    if not 1 <= h["count"] <= MAX_ENTRIES or h["last_seq"] - h["first_seq"] + 1 != h["count"]:
        raise BatchError("batch header is inconsistent (count does not match the sequence range)")
    if len(batch.entries) != h["count"]:
        raise BatchError(f"batch is truncated: header says {h['count']} entries, found {len(batch.entries)}")
    if _chain_holds(batch):
        return
    prev = h["prev_hash"]
    tid, event = h["terminal_id"], h["event_id"]
    for i, entry in enumerate(batch.entries):
        expected_seq = h["first_seq"] + i
        if type(entry) is not dict or not entry.keys() >= _NEEDED:
            raise BatchError(f"entry {expected_seq} is malformed")
        if entry["seq"] != expected_seq:
            raise BatchError(f"entry sequence broken: expected {expected_seq}, found {entry['seq']!r}")
        if entry["terminal_id"] != tid or entry["event_id"] != event:
            raise BatchError(f"entry {expected_seq} belongs to another terminal or event")
        if entry["prev_hash"] != prev:
            raise BatchError(f"chain broken before entry {expected_seq} (an entry was removed or reordered)")
        try:
            altered = entry_digest(entry) != entry["hash"] and entry_hash(entry) != entry["hash"]
        except (TypeError, ValueError):
            raise BatchError(f"entry {expected_seq} is malformed") from None
        if altered:
            raise BatchError(f"entry {expected_seq} was altered (hash mismatch)")
        _check_entry_types(entry, expected_seq, batch.may_hold_nul)
        prev = entry["hash"]
    if prev != h["last_hash"]:
        raise BatchError("batch is truncated or altered: last entry does not match the signed chain head")


def _chain_holds(batch: Batch) -> bool:
    """The checks of `check_chain`'s loop done column by column (C-level passes instead of Python per entry).

    True means every entry passes them; False means some check failed or could not be done this way, and the loop
    then finds which entry and why. Each test here implies its per-entry counterpart, so this never accepts what the
    loop would refuse."""
    entries, h = batch.entries, batch.header
    n = len(entries)
    if not n or set(map(type, entries)) != {dict} or not all(map(ge, map(dict.keys, entries), repeat(_NEEDED))):
        return False
    hashes = list(map(_HASH, entries))
    if (list(map(_SEQ, entries)) != list(range(h["first_seq"], h["first_seq"] + n))
            or list(map(_TID, entries)) != [h["terminal_id"]] * n or list(map(_EVENT, entries)) != [h["event_id"]] * n
            or list(map(_PREV, entries)) != [h["prev_hash"], *hashes[:-1]] or hashes[-1] != h["last_hash"]):
        return False
    for name, limit in zip(_INT_FIELDS, _INT_LIMITS, strict=True):
        column = list(map(itemgetter(name), entries))
        kinds = set(map(type, column))
        if type(None) in kinds:
            if name == "amount":
                return False
            column = [v for v in column if v is not None]
            kinds.discard(type(None))
        if kinds - {int} or (column and not (-limit <= min(column) and max(column) <= limit)):
            return False
    texts = [list(map(itemgetter(name), entries)) for name in ("op", "phase", "time", "currency")]
    optional = [list(map(itemgetter(name), entries)) for name in _TEXT_FIELDS]
    if (any(set(map(type, c)) != {str} for c in texts) or any(set(map(type, c)) - {str, type(None)} for c in optional)
            or set(map(type, map(_ITEMS, entries))) != {list} or set(map(type, map(_DATA, entries))) != {dict}):
        return False
    if batch.may_hold_nul:
        every = [v for c in texts for v in c] + [v for c in optional for v in c if v]
        if "\x00" in "".join(every):
            return False
    try:
        return list(map(entry_digest, entries)) == hashes
    except (TypeError, ValueError):
        return False


_HASH, _SEQ, _TID, _EVENT, _PREV, _ITEMS, _DATA = map(itemgetter, ("hash", "seq", "terminal_id", "event_id",
                                                                  "prev_hash", "items", "data"))


def _check_entry_types(entry: dict[str, Any], seq: int, check_nul: bool = True) -> None:
    for name, value, limit in zip(_INT_FIELDS, _ints(entry), _INT_LIMITS, strict=True):
        if value is not None and (type(value) is not int or not -limit <= value <= limit):
            if type(value) is int and limit == MAX_AMOUNT and -BIGINT <= value <= BIGINT:
                raise BatchError(f"entry {seq}: {name} beyond {MAX_AMOUNT} minor units")
            raise BatchError(f"entry {seq}: {name} must be an integer within 64 bits")
    if entry["amount"] is None:
        raise BatchError(f"entry {seq}: amount is required")
    texts = _texts(entry)
    for value in texts:
        if type(value) is not str:
            raise BatchError(f"entry {seq}: op, phase, time and currency must be text")
    optional = _optional_texts(entry)
    for value in optional:
        if value is not None and type(value) is not str:
            raise BatchError(f"entry {seq}: operator, uid and method must be text")
    if check_nul and "\x00" in "".join(texts + tuple(v for v in optional if v)):
        raise BatchError(f"entry {seq}: text fields may not contain NUL characters")
    if type(entry["items"]) is not list or type(entry["data"]) is not dict:
        raise BatchError(f"entry {seq}: items must be a list and data an object")
