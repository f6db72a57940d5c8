"""Speed of the in-process NFC stack: emulated NTAG215 sale taps and raw APDUs per second."""

from __future__ import annotations

import json
import time

from terminal.nfc.emulated import EmulatedReader
from terminal.nfc.emulator import NtagEmulator
from terminal.nfc.ntag import identify


def main() -> None:
    card = NtagEmulator("NTAG215", uid=bytes.fromhex("04010203040506"))
    reader = EmulatedReader()
    reader.place(card)
    tag = identify(reader.wait_for_card(0))
    tag.protect(b"pw01", b"ok", 4)
    reader.remove()
    taps = 2000
    exchanges = 0
    start = time.perf_counter()
    for i in range(taps):
        reader.place(card)
        conn = reader.wait_for_card(0)
        tag = identify(conn, product_hint="NTAG215")
        tag.read_pages(0, 41)
        tag.authenticate(b"pw01")
        for page in range(8, 16):
            tag.write_page(page, i.to_bytes(4, "little"))
        exchanges = tag.exchanges
        conn.close()
        reader.remove()
    elapsed = time.perf_counter() - start
    apdu = bytes.fromhex("FF00000005D4423A0028")
    card.power_on()
    n = 50000
    start = time.perf_counter()
    for _ in range(n):
        card.transmit(apdu)
    raw = time.perf_counter() - start
    print(json.dumps({
        "sale_taps_per_s": round(taps / elapsed),
        "exchanges_per_sale_tap": exchanges,
        "fast_read_41_pages_apdus_per_s": round(n / raw),
    }))


if __name__ == "__main__":
    main()
