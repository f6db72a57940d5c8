"""A mutation fuzzer for the targets in `tests.fuzz.targets`: structure-aware seeds (validly signed, chained or
sealed, with hostile field values) and raw byte mutations of them and of the corpus.

Not coverage-guided (atheris has no aarch64 wheels for Python 3.11); depth comes from the structure-aware seeds,
which reach the code behind every signature and MAC check. A crash is any exception other than the target's own
refusal; its input is kept in the corpus so CI replays it for good.
"""

from __future__ import annotations

import json
import random
import struct
import time
import traceback
import zlib
from collections.abc import Callable
from typing import Any

from sync.format.batch import MAGIC, canonical_json, encode, make_batch
from sync.format.pairing import seal_response
from terminal.nfc.ntag_purse import COMPACT, LEGACY, READ_PAGES, USER_START, SlotRef, slots
from terminal.wallet.journal import GENESIS
from terminal.wallet.keys import event_tag
from terminal.wallet.purse import (
    LEGACY_VERSION,
    SEQ_MAX,
    U24,
    VERSION,
    Header,
    Op,
    Record,
    encode_header,
    seal,
    seal_legacy,
)
from tests.fuzz.forge import rechain
from tests.fuzz.targets import (
    BUNDLE_KEY,
    EVENT,
    PAIR_KEY,
    PAIR_REQUEST,
    PURSE_KEYS,
    TARGETS,
    TERMINAL_KEY,
    UID,
    corpus,
    keep,
)

HOSTILE: list[Any] = [None, True, 0, -1, 1, 2**31, 2**32 - 1, 2**53 + 1, 2**62, 2**63 - 1, 2**63, -(2**63), 2**64,
                      10**30, 1.5, float("1e308"), "", "\x00", "x" * 300, "é", [], {}, [[[]]], {"a": {"b": {}}}]


def _value(rng: random.Random, good: Any) -> Any:
    return good if rng.random() < 0.7 else rng.choice(HOSTILE)


def purse_seed(rng: random.Random) -> bytes:
    """A band image of either header version, with compact records (and legacy ones on a version-1 header)."""
    product = rng.choice(["NTAG213", "NTAG215", "NTAG216", "MF0UL21"])
    version = rng.choice([VERSION, LEGACY_VERSION])
    header = Header(product=product, event_tag=event_tag(EVENT), card_id=rng.randrange(2**32), version=version)
    pages = bytearray(rng.choice([b"\0", b"\xff"]) * (READ_PAGES * 4))
    pages[0:3], pages[4:8] = UID[0:3], UID[3:7]
    pages[USER_START * 4:USER_START * 4 + 16] = encode_header(PURSE_KEYS, UID, header)
    legacy = version == LEGACY_VERSION and rng.random() < 0.5
    refs = slots(product, (LEGACY if legacy else COMPACT,))
    seq = rng.choice([1, 2, rng.randrange(1, SEQ_MAX), SEQ_MAX])
    for s in range(max(1, seq - len(refs) + 1), seq + 1):
        rec = Record(seq=s, balance=rng.randrange(U24), spent=rng.randrange(U24), comp=rng.randrange(U24),
                     time=rng.randrange(2**32), terminal=rng.randrange(2**16), op=rng.choice(list(Op)))
        ref = SlotRef(LEGACY, s % len(refs)) if legacy else refs[s % len(refs)]
        sealed = (seal_legacy(PURSE_KEYS, UID, header, rec, len(refs)) if legacy
                  else seal(PURSE_KEYS, UID, header, rec, ref.index))
        pages[ref.page * 4:ref.page * 4 + len(sealed)] = sealed
    return bytes(pages)


def _entry(seq: int, rng: random.Random) -> dict[str, Any]:
    amount = rng.randrange(1, 5000)
    return {"seq": seq, "terminal_id": 3, "event_id": EVENT, "time": "2026-07-01T12:00:00.000Z",
            "clock_synced": _value(rng, True), "operator": _value(rng, "op1"), "op": _value(rng, "sale"),
            "phase": _value(rng, "commit"), "ref": _value(rng, None), "card_id": _value(rng, 7),
            "uid": _value(rng, "04a1b2c3d4e5f6"), "card_seq": _value(rng, seq), "amount": _value(rng, amount),
            "balance_before": _value(rng, 10_000), "balance_after": _value(rng, 10_000 - amount),
            "currency": _value(rng, "EUR"), "method": _value(rng, None), "items": _value(rng, []),
            "data": _value(rng, {}), "prev_hash": GENESIS}


def batch_seed(rng: random.Random) -> bytes:
    first = rng.choice([1, 2, 2**31, 2**62, 2**63 - 1])
    entries = rechain([_entry(first + i, rng) for i in range(rng.randrange(1, 6))],
                      rng.choice([GENESIS, "f" * 64]))
    try:
        b = make_batch(entries, TERMINAL_KEY, terminal_status=_value(rng, {}) if rng.random() < 0.1 else None)
        return encode(b)
    except (TypeError, ValueError, OverflowError):  # json can refuse a hostile value before we get to sign it
        return MAGIC + zlib.compress(json.dumps({"header": {}, "entries": [], "signature": ""}).encode())


def bundle_seed(rng: random.Random) -> bytes:
    body = {"format": _value(rng, "stallpay-bundle/1"), "event_id": _value(rng, EVENT),
            "issued_at": _value(rng, "2026-07-01T12:00:00Z"), "hotlist": _value(rng, [[1, "lost"]]),
            "catalogue": _value(rng, {}), "operators": _value(rng, [])}
    message = canonical_json(body)
    return canonical_json({"body": body, "signature": BUNDLE_KEY.sign(message).hex()})


def pairing_seed(rng: random.Random) -> bytes:
    payload = {"event_id": _value(rng, EVENT), "terminal_id": _value(rng, 3), "role": _value(rng, "sale"),
               "master_key": _value(rng, "00" * 16), "bundle": _value(rng, {})}
    sealed: dict[str, Any] = seal_response(PAIR_KEY, PAIR_REQUEST, payload)
    if rng.random() < 0.3:
        sealed[rng.choice(list(sealed))] = rng.choice(HOSTILE)
    return json.dumps(sealed).encode()


def print_queue_seed(rng: random.Random) -> bytes:
    return b"\x00".join(bytes([rng.randrange(5)]) + rng.randbytes(rng.randrange(0, 40)) for _ in range(10))


SEEDS: dict[str, Callable[[random.Random], bytes]] = {
    "purse": purse_seed, "batch": batch_seed, "bundle": bundle_seed, "pairing": pairing_seed,
    "print_queue": print_queue_seed}

_INTERESTING = [struct.pack("<q", v) for v in (0, -1, 2**31 - 1, 2**63 - 1)] + [b"\xff" * 4, b"[" * 64, b'"', b"{"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four byte-level changes: flips, random bytes, inserts, deletes, interesting values, duplication."""
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        pos = rng.randrange(len(buf) + 1)
        choice = rng.randrange(7)
        if choice == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif choice == 1 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif choice == 2:
            buf[pos:pos] = rng.randbytes(rng.randrange(1, 9))
        elif choice == 3 and buf:
            del buf[pos:pos + rng.randrange(1, 17)]
        elif choice == 4:
            buf[pos:pos] = rng.choice(_INTERESTING)
        elif choice == 5 and buf:
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start:start + rng.randrange(1, 64)]
        else:
            del buf[pos:]
    return bytes(buf)


def _maybe_inflated(name: str, data: bytes, rng: random.Random) -> bytes:
    """Batches are compressed: mutating inside the deflate stream reaches the JSON decoder too."""
    if name == "batch" and data.startswith(MAGIC) and rng.random() < 0.5:
        try:
            body = zlib.decompress(data[len(MAGIC):])
        except zlib.error:
            return data
        return MAGIC + zlib.compress(mutate(body, rng), 1)
    return mutate(data, rng)


def fuzz(name: str, executions: int, seed: int = 0, *, seconds: float | None = None,
         keep_crashes: bool = True) -> dict[str, Any]:
    """Run `executions` inputs (or until `seconds` pass) through one target; returns counts and crash samples."""
    rng = random.Random(seed)
    target, make = TARGETS[name], SEEDS[name]
    pool = [p.read_bytes() for p in corpus(name)] or [make(rng)]
    crashes: list[str] = []
    done = 0
    started = time.monotonic()
    while done < executions and (seconds is None or time.monotonic() - started < seconds):
        r = rng.random()
        if r < 0.3:
            data = make(rng)
        elif r < 0.35:
            data = rng.randbytes(rng.randrange(0, 600))
        else:
            data = _maybe_inflated(name, rng.choice(pool), rng)
        done += 1
        try:
            target(data)
        except Exception:  # a crash: anything but the target's own refusal
            crashes.append(traceback.format_exc(limit=3)[-400:])
            if keep_crashes:
                keep(name, data)
        if r < 0.3 and len(pool) < 256 and rng.random() < 0.05:
            pool.append(data)  # structured seeds widen the mutation pool
    return {"target": name, "executions": done, "crashes": len(crashes), "samples": crashes[:3],
            "seconds": round(time.monotonic() - started, 1)}


def _fuzz_share(args: tuple[str, int, int, float | None]) -> dict[str, Any]:
    name, executions, seed, seconds = args
    return fuzz(name, executions, seed, seconds=seconds)


def fuzz_all(names: list[str], executions: int, *, workers: int = 1,
             seconds: float | None = None) -> dict[str, Any]:
    """Every target in `names`, each with `executions` inputs split over `workers` forked processes (seeds 0..n-1,
    so the workers try different inputs); counts and crash samples summed per target."""
    import multiprocessing

    jobs = [(name, executions // workers + (w < executions % workers), w, seconds)
            for name in names for w in range(workers)]
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            shares = pool.map(_fuzz_share, jobs, chunksize=1)
    else:
        shares = [_fuzz_share(job) for job in jobs]
    results: dict[str, Any] = {}
    for share in shares:
        r = results.setdefault(share["target"], {"target": share["target"], "executions": 0, "crashes": 0,
                                                  "samples": [], "worker_seconds": 0.0})
        r["executions"] += share["executions"]
        r["crashes"] += share["crashes"]
        r["samples"] = (r["samples"] + share["samples"])[:3]
        r["worker_seconds"] = round(r["worker_seconds"] + share["seconds"], 1)
    return {"targets": results, "workers": workers, "executions": sum(r["executions"] for r in results.values()),
            "failures": sum(r["crashes"] for r in results.values())}
