"""Speed of the real PC/SC stack (pyscard -> pcscd -> vpcd -> emulated NTAG215): tap detection, APDU round trip,
and a sale-shaped tap. Uses a running pcscd with vpcd, or starts `pcscd --foreground` (needs root)."""

from __future__ import annotations

import json
import statistics
import subprocess
import time

from smartcard import scard

from terminal.nfc.emulator import NtagEmulator
from terminal.nfc.ntag import identify
from terminal.nfc.pcsc import PcscReader
from terminal.nfc.vpcd import VpcdBridge

READER = "Virtual PCD 00 00"


def _pcscd_answers() -> bool:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    hresult, names = scard.SCardListReaders(context, [])
    scard.SCardReleaseContext(context)
    return hresult == scard.SCARD_S_SUCCESS and READER in names


def _start_pcscd() -> subprocess.Popen[str]:
    process = subprocess.Popen(["pcscd", "--foreground", "--info"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if "daemon ready" in line:
            break
    deadline = time.monotonic() + 10
    while not _pcscd_answers():  # the socket appears a few ms after "daemon ready"
        if time.monotonic() > deadline:
            raise SystemExit("pcscd started but does not list the vpcd reader")
        time.sleep(0.01)
    return process


def main() -> None:
    daemon = None if _pcscd_answers() else _start_pcscd()
    try:
        with VpcdBridge() as bridge, PcscReader(READER) as reader:
            card = NtagEmulator("NTAG215", uid=bytes.fromhex("04010203040506"))
            detect, sale = [], []
            bridge.insert(card)
            with reader.wait_for_card(5) as conn:
                identify(conn).protect(b"pw01", b"ok", 4)
                apdu = bytes.fromhex("FFCA000000")
                n = 500
                start = time.perf_counter()
                for _ in range(n):
                    conn.transmit(apdu)
                roundtrip = (time.perf_counter() - start) / n
            for i in range(10):
                bridge.remove()
                reader.wait_for_removal(5)
                start = time.perf_counter()
                bridge.insert(card)
                conn = reader.wait_for_card(5)
                detect.append(time.perf_counter() - start)
                start = time.perf_counter()
                tag = identify(conn, product_hint="NTAG215")
                tag.read_pages(0, 41)
                tag.authenticate(b"pw01")
                for page in range(8, 16):
                    tag.write_page(page, i.to_bytes(4, "little"))
                sale.append(time.perf_counter() - start)
                conn.close()
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait()
    print(
        json.dumps(
            {
                "apdu_roundtrip_ms": round(roundtrip * 1000, 3),
                "tap_detect_ms_median": round(statistics.median(detect) * 1000, 1),
                "tap_detect_ms_max": round(max(detect) * 1000, 1),
                "sale_tap_ms_median": round(statistics.median(sale) * 1000, 2),
                "sale_tap_exchanges": tag.exchanges,
            }
        )
    )


if __name__ == "__main__":
    main()
