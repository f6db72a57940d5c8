"""The chips the NTAG emulator can be: each one's memory map and delivery state, from its NXP data sheet
(NTAG213_215_216 rev 3.2, MF0ULX1 rev 3.x)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProductSpec:
    """Memory map of one chip, from its data sheet."""

    name: str
    version: bytes  # GET_VERSION answer
    pages: int  # total pages, 0 .. pages-1
    cfg0: int  # CFG0 page; CFG1, PWD, PACK follow
    dynamic_lock: int | None  # page of the dynamic lock bytes
    lock_pages_per_bit: int  # dynamic lock granularity
    cc: bytes  # page 3 as delivered
    cfg0_default: bytes
    cfg1_default: bytes
    dynamic_lock_default: bytes
    ntag: bool  # NTAG21x (NFC counter, 2^AUTHLIM) vs Ultralight EV1 (3 counters, INCR_CNT)

    @property
    def cfg1(self) -> int:
        return self.cfg0 + 1

    @property
    def pwd(self) -> int:
        return self.cfg0 + 2

    @property
    def pack(self) -> int:
        return self.cfg0 + 3

    @property
    def user_end(self) -> int:
        """Last user page."""
        return (self.dynamic_lock if self.dynamic_lock is not None else self.cfg0) - 1

    @property
    def dynamic_lock_bits(self) -> int:
        first = 16
        if self.user_end < first:
            return 0
        return -(-(self.user_end - first + 1) // self.lock_pages_per_bit)


_NTAG_CFG0 = bytes.fromhex("040000ff")
_UL_CFG0 = bytes.fromhex("000000ff")

PRODUCTS: dict[str, ProductSpec] = {
    "NTAG213": ProductSpec("NTAG213", bytes.fromhex("0004040201000f03"), 45, 0x29, 0x28, 2,
                           bytes.fromhex("e1101200"), _NTAG_CFG0, bytes(4), bytes.fromhex("000000bd"), True),
    "NTAG215": ProductSpec("NTAG215", bytes.fromhex("0004040201001103"), 135, 0x83, 0x82, 16,
                           bytes.fromhex("e1103e00"), _NTAG_CFG0, bytes(4), bytes.fromhex("000000bd"), True),
    "NTAG216": ProductSpec("NTAG216", bytes.fromhex("0004040201001303"), 231, 0xE3, 0xE2, 16,
                           bytes.fromhex("e1106d00"), _NTAG_CFG0, bytes(4), bytes.fromhex("000000bd"), True),
    "MF0UL11": ProductSpec("MF0UL11", bytes.fromhex("0004030101000b03"), 20, 0x10, None, 2,
                           bytes(4), _UL_CFG0, bytes.fromhex("00050000"), bytes(4), False),
    "MF0UL21": ProductSpec("MF0UL21", bytes.fromhex("0004030101000e03"), 41, 0x25, 0x24, 2,
                           bytes(4), _UL_CFG0, bytes.fromhex("00050000"), bytes(4), False),
}
