"""The collector inflates batches with ISA-L (`isal_zlib`), the terminal's reference with zlib: on any bytes both
must give the same body or refuse for the same reason (the message's wording after the reason may differ)."""

from __future__ import annotations

import random
import zlib

import pytest
from isal import isal_zlib

from bench.ingest import synth
from sync.collector.prepared import prepare
from sync.format.batch import MAGIC, MAX_BYTES, BatchError, decode, inflate
from tests.fuzz.targets import corpus


def _verdict(data: bytes, codec: object) -> bytes | str:
    try:
        return inflate(data, codec)
    except BatchError as exc:
        return str(exc).split(" (")[0]  # the reason; zlib and ISA-L word the detail differently


def _inputs() -> list[bytes]:
    rng = random.Random(3)
    _keys, good, _rows = synth(300, 2, batch_size=100)
    stream = good[0][len(MAGIC):]
    inputs = [*good, b"", MAGIC, b"SPB0" + stream, MAGIC + stream + b"trailing"]
    inputs += [MAGIC + stream[:cut] for cut in (0, 1, 2, 10, len(stream) // 2, len(stream) - 1)]
    for _ in range(200):  # flipped bytes: corrupt, or still inflating to a different body
        at = rng.randrange(len(stream))
        inputs.append(MAGIC + stream[:at] + bytes([stream[at] ^ (1 << rng.randrange(8))]) + stream[at + 1:])
    inputs.append(MAGIC + zlib.compress(b" " * (MAX_BYTES + 1), 9))  # a bomb past the limit
    inputs += [p.read_bytes() for p in corpus("batch")]
    return inputs


def test_isal_and_zlib_agree_on_every_input() -> None:
    verdicts = {"body": 0, "refused": 0}
    for data in _inputs():
        mine = _verdict(data, isal_zlib)
        assert mine == _verdict(data, zlib), data[:40]
        verdicts["body" if isinstance(mine, bytes) else "refused"] += 1
    assert verdicts["body"] >= 3 and verdicts["refused"] >= 100, verdicts


@pytest.mark.parametrize("cut", [1, 100, -1])
def test_prepare_refuses_a_truncated_batch_with_the_reference_reason(cut: int) -> None:
    _keys, good, _rows = synth(100, 1, batch_size=100)
    data = good[0][:cut]
    with pytest.raises(BatchError) as reference:
        decode(data)
    p = prepare("usb/batch-1.spb", data, copy_text=True)
    assert p.count == 0 and p.error.split(" (")[0] == str(reference.value).split(" (")[0]
