"""NTAG213/215/216 and MIFARE Ultralight EV1 (MF0UL11/MF0UL21) as a reader backend.

A backend, not a mock: it answers the same APDUs an ACR122U passes to a real
tag (pseudo-APDUs `FF CA`, `FF B0`, `FF D6` and direct transmit
`FF 00 00 00 Lc D4 42 <cmd>`), with the memory map and rules of the NXP data
sheets (NTAG213_215_216 rev 3.2, MF0ULX1 rev 3.x), so the driver under test is
the one that runs on the Pi. What it models:

- memory: UID/BCC pages 0-2, static lock bytes (OTP, block-lock bits),
  CC/OTP page 3 (OTP), user pages, dynamic lock bytes (OTP, block-lock
  bits), CFG0 (AUTH0 in byte 3), CFG1 (ACCESS: PROT, CFGLCK, NFC_CNT_EN,
  NFC_CNT_PWD_PROT, AUTHLIM), PWD and PACK (always read back as 00);
- password protection per field session: WRITE at or after AUTH0 needs
  PWD_AUTH, reads too when ACCESS.PROT is set; AUTHLIM limits wrong
  passwords (2^AUTHLIM on NTAG21x, AUTHLIM on Ultralight EV1), then NAK 4;
- counters: NTAG21x NFC counter (NFC_CNT_EN; +1 on the first READ/FAST_READ
  of a field session, read with READ_CNT 02), Ultralight EV1 three 24-bit
  one-way counters (READ_CNT/INCR_CNT, NAK 4 on overflow);
- any NAK sends the chip back to IDLE/HALT, as the data sheets say: it answers
  nothing (reader timeout) until the next field reset (`power_on`);
- tearing: pages 2, 3 and the dynamic lock page are tearing-protected (all or
  nothing); other pages keep exactly the bytes written before the card left.

Dynamic lock bits are modelled as one bit per `lock_pages_per_bit` user pages
from page 16 on (2 on NTAG213/MF0UL21, 16 on NTAG215/216), block-lock bit j
in byte 2 freezing lock bits 2j and 2j+1.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from terminal.nfc.emulator.atr import CARD_NAME_ULTRALIGHT, storage_card_atr
from terminal.nfc.emulator.field import InField
from terminal.nfc.emulator.ntag_products import PRODUCTS
from terminal.nfc.originality import sign_originality

SW_OK = b"\x90\x00"
SW_FAILED = b"\x63\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_NOT_SUPPORTED = b"\x6a\x81"
DIRECT_TIMEOUT = b"\xd5\x43\x01" + SW_OK

ACK = b"\x0a"
NAK_INVALID = 0x00  # invalid argument: bad page, locked page, needs the password, wrong password
NAK_CRC = 0x01
NAK_COUNTER = 0x04  # authentication limit reached / counter overflow
NAK_EEPROM = 0x05

COUNTER_MAX = 0xFFFFFF
STATE_FORMAT = "stallpay-ntag-emulator/1"


class EmulatedCard(Protocol):
    """What a reader backend needs from an emulated card."""

    atr: bytes
    uid: bytes

    def power_on(self) -> None: ...

    def transmit(self, apdu: bytes) -> bytes: ...


class _LoadDescriptor:
    """`NtagEmulator.load(path)` makes a new card; `card.load(path)` restores this card in place."""

    def __get__(self, instance: NtagEmulator | None, owner: type[NtagEmulator]) -> Any:
        if instance is None:
            return owner._load_new
        return instance._load_into


class NtagEmulator(InField):
    """One NTAG21x / Ultralight EV1 chip with its memory, counters and field session."""

    def __init__(
        self,
        product: str = "NTAG215",
        uid: bytes | None = None,
        signature_key: Any = None,
        *,
        signature: bytes | None = None,
    ) -> None:
        if product not in PRODUCTS:
            raise ValueError(f"unknown product {product!r}; one of {', '.join(PRODUCTS)}")
        self.spec = PRODUCTS[product]
        if uid is None:
            uid = b"\x04" + os.urandom(6)
        uid = bytes(uid)
        if len(uid) != 7:
            raise ValueError(f"an NTAG/Ultralight UID is 7 bytes, got {len(uid)}")
        self.uid = uid
        self.atr = storage_card_atr(CARD_NAME_ULTRALIGHT)
        if signature is not None:
            if len(signature) != 32:
                raise ValueError("an originality signature is 32 bytes")
            self.signature = bytes(signature)
        elif signature_key is not None:
            self.signature = sign_originality(uid, signature_key)
        else:
            self.signature = bytes(32)
        self._mem = bytearray(self.spec.pages * 4)
        self._counters = [0, 0, 0]  # UL EV1 counters 0..2; on NTAG21x index 2 is the NFC counter
        self._failed_auth = 0
        self._format()
        self._lock = threading.Lock()
        self.commands = 0
        self.in_field = True
        self._tear_in: int | None = None
        self._tear_partial: int | None = None
        self.backing: Path | None = None  # state file written through on every change (`write_through`)
        self._reset_session()

    # ----------------------------------------------------------------- helpers for tests and backends
    @property
    def product(self) -> str:
        return self.spec.name

    def tear_after(self, n_commands: int, partial_bytes: int | None = None) -> None:
        """Leave the field during the n-th further command (1 = the next one).

        The torn command is executed but its answer is lost when `partial_bytes`
        is None; with `partial_bytes`, a WRITE stores only that many bytes of its
        page (none on tearing-protected pages) and any other command has no
        effect. `n_commands=0` means the card is already gone. Commands after
        the tear raise CardRemoved until `power_on`.
        """
        if partial_bytes is not None and not 0 <= partial_bytes <= 4:
            raise ValueError("partial_bytes is 0..4")
        if self._arm_tear(n_commands):
            self._tear_partial = partial_bytes

    def snapshot(self) -> bytes:
        """Raw image: all pages (PWD/PACK included), three counters (3 bytes LSB first), failed-auth count."""
        counters = b"".join(c.to_bytes(3, "little") for c in self._counters)
        return bytes(self._mem) + counters + bytes([self._failed_auth])

    def restore(self, image: bytes) -> None:
        """Put back an image from `snapshot()` (rollback attacks, test set-up)."""
        expected = self.spec.pages * 4 + 10
        if len(image) != expected:
            raise ValueError(f"{self.spec.name} image is {expected} bytes, got {len(image)}")
        if image[0:3] != self.uid[0:3] or image[4:8] != self.uid[3:7]:
            raise ValueError("image belongs to a card with another UID")
        with self._lock:
            n = self.spec.pages * 4
            self._mem[:] = image[:n]
            self._counters = [int.from_bytes(image[n + 3 * i: n + 3 * i + 3], "little") for i in range(3)]
            self._failed_auth = image[n + 9]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the card (product, UID, signature, memory image) to a JSON state file."""
        state = {
            "format": STATE_FORMAT,
            "product": self.spec.name,
            "uid": self.uid.hex(),
            "signature": self.signature.hex(),
            "image": self.snapshot().hex(),
        }
        from sync.format.private_files import write_private

        write_private(os.fspath(path), json.dumps(state, indent=1).encode())  # the image holds the card password

    load = _LoadDescriptor()

    @staticmethod
    def _read_state(path: str | os.PathLike[str]) -> dict[str, str]:
        try:
            state = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read card state file {os.fspath(path)}: {exc}") from exc
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError(f"{os.fspath(path)} is not a StallPay emulated card state file")
        return state

    @classmethod
    def _load_new(cls, path: str | os.PathLike[str]) -> NtagEmulator:
        state = cls._read_state(path)
        card = cls(state["product"], uid=bytes.fromhex(state["uid"]), signature=bytes.fromhex(state["signature"]))
        card.restore(bytes.fromhex(state["image"]))
        return card

    def _load_into(self, path: str | os.PathLike[str]) -> None:
        state = self._read_state(path)
        if state["product"] != self.spec.name or bytes.fromhex(state["uid"]) != self.uid:
            raise ValueError(f"{os.fspath(path)} holds a {state['product']} with UID {state['uid']}, not this card")
        self.signature = bytes.fromhex(state["signature"])
        self.restore(bytes.fromhex(state["image"]))

    # Convenient views for tests (no side effects, no exchange counted).
    def page(self, page: int) -> bytes:
        """Raw page content as stored (PWD/PACK included)."""
        return bytes(self._mem[page * 4: page * 4 + 4])

    def counter(self, index: int) -> int:
        return self._counters[index]

    @property
    def authenticated(self) -> bool:
        return self._authenticated

    @property
    def halted(self) -> bool:
        return self._halted

    # ----------------------------------------------------------------- memory set-up
    def _bcc0(self) -> int:
        return 0x88 ^ self.uid[0] ^ self.uid[1] ^ self.uid[2]

    def _format(self) -> None:
        s, u = self.spec, self.uid
        self._mem[0:4] = u[0:3] + bytes([self._bcc0()])
        self._mem[4:8] = u[3:7]
        self._mem[8:12] = bytes([u[3] ^ u[4] ^ u[5] ^ u[6], 0x48, 0x00, 0x00])
        self._mem[12:16] = s.cc
        if s.dynamic_lock is not None:
            self._set_raw(s.dynamic_lock, s.dynamic_lock_default)
        self._set_raw(s.cfg0, s.cfg0_default)
        self._set_raw(s.cfg1, s.cfg1_default)
        self._set_raw(s.pwd, b"\xff\xff\xff\xff")
        self._set_raw(s.pack, bytes(4))

    def _set_raw(self, page: int, data: bytes) -> None:
        self._mem[page * 4: page * 4 + 4] = data

    def _reset_session(self) -> None:
        """Back to IDLE, not authenticated."""
        self._authenticated = False
        self._halted = False
        self._nfc_counted = False

    # ----------------------------------------------------------------- configuration bytes
    @property
    def _auth0(self) -> int:
        return self._mem[self.spec.cfg0 * 4 + 3]

    @property
    def _access(self) -> int:
        return self._mem[self.spec.cfg1 * 4]

    def _read_limit(self) -> int:
        """End of the memory a READ may reach now (AUTH0 when reads are protected and not authenticated)."""
        if self._access & 0x80 and not self._authenticated:
            return min(self._auth0, self.spec.pages)
        return self.spec.pages

    # ----------------------------------------------------------------- APDU level
    def _tear_effect(self, apdu: bytes) -> None:
        partial, self._tear_partial = self._tear_partial, None
        self._torn(apdu, partial)

    def _torn(self, apdu: bytes, partial: int | None) -> None:
        if partial is None:
            self._dispatch(apdu)
            return
        write = self._as_write(apdu)
        if write is not None and not self._halted:
            self._write(write[0], write[1], partial)

    @staticmethod
    def _as_write(apdu: bytes) -> tuple[int, bytes] | None:
        if len(apdu) == 9 and apdu[:3] == b"\xff\xd6\x00" and apdu[4] == 4:
            return apdu[3], apdu[5:9]
        if len(apdu) == 13 and apdu[:5] == b"\xff\x00\x00\x00\x08" and apdu[5:8] == b"\xd4\x42\xa2":
            return apdu[8], apdu[9:13]
        return None

    def _dispatch(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        if cla != 0xFF:
            return SW_NOT_SUPPORTED
        if ins == 0xCA:  # GET DATA: UID (answered by the reader from anticollision)
            if p1 != 0 or p2 != 0 or len(apdu) not in (4, 5):
                return SW_NOT_SUPPORTED
            return self.uid + SW_OK
        if ins == 0xB0:  # READ BINARY: 16 bytes from page p2
            if len(apdu) != 5 or p1 != 0:
                return SW_WRONG_LENGTH if len(apdu) != 5 else SW_NOT_SUPPORTED
            le = apdu[4] or 16
            if le > 16:
                return SW_WRONG_LENGTH
            if self._halted:
                return SW_FAILED
            data = self._read(p2)
            if data is None:
                self._nak(NAK_INVALID)
                return SW_FAILED
            return data[:le] + SW_OK
        if ins == 0xD6:  # UPDATE BINARY: one page
            if len(apdu) != 9 or apdu[4] != 4:
                return SW_WRONG_LENGTH
            if p1 != 0:
                return SW_NOT_SUPPORTED
            if self._halted:
                return SW_FAILED
            if not self._write(p2, apdu[5:9]):
                self._nak(NAK_INVALID)
                return SW_FAILED
            return SW_OK
        if ins == 0x00 and p1 == 0 and p2 == 0:  # direct transmit to the PN533
            if len(apdu) < 5 or len(apdu) != 5 + apdu[4]:
                return SW_WRONG_LENGTH
            payload = apdu[5:]
            if len(payload) < 2 or payload[0] != 0xD4 or payload[1] != 0x42:
                return SW_NOT_SUPPORTED
            command = payload[2:]
            if self._halted or not command:
                return DIRECT_TIMEOUT
            answer = self._command(command)
            if answer is None:
                return DIRECT_TIMEOUT
            return b"\xd5\x43\x00" + answer + SW_OK
        return SW_NOT_SUPPORTED

    # ----------------------------------------------------------------- NFC command level
    def _nak(self, code: int) -> bytes:
        """A NAK sends the chip to IDLE/HALT: it loses authentication and answers nothing more."""
        self._halted = True
        self._authenticated = False
        return bytes([code])

    def _command(self, cmd: bytes) -> bytes | None:
        op, n = cmd[0], len(cmd)
        spec = self.spec
        if op == 0x60 and n == 1:  # GET_VERSION
            return spec.version
        if op == 0x30 and n == 2:  # READ
            data = self._read(cmd[1])
            return data if data is not None else self._nak(NAK_INVALID)
        if op == 0x3A and n == 3:  # FAST_READ
            data = self._fast_read(cmd[1], cmd[2])
            return data if data is not None else self._nak(NAK_INVALID)
        if op == 0xA2 and n == 6:  # WRITE
            return ACK if self._write(cmd[1], cmd[2:6]) else self._nak(NAK_INVALID)
        if op == 0x1B and n == 5:  # PWD_AUTH
            return self._pwd_auth(cmd[1:5])
        if op == 0x3C and n == 2:  # READ_SIG
            return self.signature if cmd[1] == 0 else self._nak(NAK_INVALID)
        if op == 0x39 and n == 2:  # READ_CNT
            return self._read_cnt(cmd[1])
        if op == 0xA5 and n == 6 and not spec.ntag:  # INCR_CNT (Ultralight EV1)
            return self._incr_cnt(cmd[1], cmd[2:6])
        return self._nak(NAK_INVALID)

    def _page_out(self, page: int) -> bytes:
        if page in (self.spec.pwd, self.spec.pack):
            return bytes(4)
        return bytes(self._mem[page * 4: page * 4 + 4])

    def _count_nfc(self) -> None:
        if self.spec.ntag and not self._nfc_counted and self._access & 0x10:
            self._nfc_counted = True
            self._counters[2] = min(self._counters[2] + 1, COUNTER_MAX)

    def _read(self, page: int) -> bytes | None:
        limit = self._read_limit()
        if page >= limit:
            return None
        self._count_nfc()
        return b"".join(self._page_out((page + i) % limit) for i in range(4))

    def _fast_read(self, start: int, end: int) -> bytes | None:
        limit = self._read_limit()
        if start > end or end >= limit:
            return None
        self._count_nfc()
        return b"".join(self._page_out(p) for p in range(start, end + 1))

    def _write_locked(self, page: int) -> bool:
        spec, mem = self.spec, self._mem
        if 3 <= page <= 15:
            lock0, lock1 = mem[10], mem[11]
            if page == 3:
                return bool(lock0 & 0x08)
            if page <= 7:
                return bool(lock0 & (1 << page))
            return bool(lock1 & (1 << (page - 8)))
        if spec.dynamic_lock is not None and 16 <= page <= spec.user_end:
            bit = (page - 16) // spec.lock_pages_per_bit
            return bool(mem[spec.dynamic_lock * 4 + bit // 8] & (1 << (bit % 8)))
        if page in (spec.cfg0, spec.cfg1):
            return bool(self._access & 0x40)  # CFGLCK; PWD and PACK stay writable
        return False

    def _write(self, page: int, data: bytes, partial: int | None = None) -> bool:
        """WRITE rules; `partial` stores only the first bytes (tearing). False means NAK."""
        spec = self.spec
        if page < 2 or page >= spec.pages:
            return False
        if page >= self._auth0 and not self._authenticated:
            return False
        if self._write_locked(page):
            return False
        protected = page in (2, 3) or page == spec.dynamic_lock
        if partial is not None and partial < 4 and protected:
            return True  # tearing-protected page: the old content stays
        if page == 2:
            self._write_static_lock(data[2], data[3])
        elif page == 3:
            for i in range(4):
                self._mem[12 + i] |= data[i]  # OTP bits
        elif page == spec.dynamic_lock:
            self._write_dynamic_lock(data)
        else:
            count = 4 if partial is None else partial
            self._mem[page * 4: page * 4 + count] = data[:count]
        return True

    def _write_static_lock(self, new0: int, new1: int) -> None:
        lock0, lock1 = self._mem[10], self._mem[11]
        frozen0 = frozen1 = 0
        if lock0 & 0x01:  # BL-CC
            frozen0 |= 0x08
        if lock0 & 0x02:  # BL 9-4
            frozen0 |= 0xF0
            frozen1 |= 0x03
        if lock0 & 0x04:  # BL 15-10
            frozen1 |= 0xFC
        self._mem[10] = lock0 | (new0 & ~frozen0 & 0xFF)
        self._mem[11] = lock1 | (new1 & ~frozen1 & 0xFF)

    def _write_dynamic_lock(self, data: bytes) -> None:
        spec = self.spec
        assert spec.dynamic_lock is not None
        base = spec.dynamic_lock * 4
        nbits = spec.dynamic_lock_bits
        lock_mask = (1 << nbits) - 1
        bl_mask = (1 << -(-nbits // 2)) - 1
        current = self._mem[base] | self._mem[base + 1] << 8
        block = self._mem[base + 2]
        frozen = 0
        for j in range(8):
            if block & (1 << j):
                frozen |= 0b11 << (2 * j)
        wanted = (data[0] | data[1] << 8) & lock_mask & ~frozen
        current |= wanted
        self._mem[base] = current & 0xFF
        self._mem[base + 1] = current >> 8
        self._mem[base + 2] = block | (data[2] & bl_mask)

    def _auth_limit(self) -> int | None:
        authlim = self._access & 0x07
        if not authlim:
            return None
        return 1 << authlim if self.spec.ntag else authlim

    def _pwd_auth(self, password: bytes) -> bytes:
        limit = self._auth_limit()
        if limit is not None and self._failed_auth >= limit:
            return self._nak(NAK_COUNTER)
        spec = self.spec
        if password == self._mem[spec.pwd * 4: spec.pwd * 4 + 4]:
            self._authenticated = True
            self._failed_auth = 0
            return bytes(self._mem[spec.pack * 4: spec.pack * 4 + 2])
        if limit is not None:
            self._failed_auth += 1
        return self._nak(NAK_INVALID)

    def _read_cnt(self, index: int) -> bytes:
        if self.spec.ntag:
            access = self._access
            if index != 2 or not access & 0x10:
                return self._nak(NAK_INVALID)
            if access & 0x08 and not self._authenticated:
                return self._nak(NAK_INVALID)
        elif index > 2:
            return self._nak(NAK_INVALID)
        return self._counters[index].to_bytes(3, "little")

    def _incr_cnt(self, index: int, value: bytes) -> bytes:
        if index > 2:
            return self._nak(NAK_INVALID)
        increment = int.from_bytes(value[:3], "little")  # the fourth byte is ignored
        if self._counters[index] + increment > COUNTER_MAX:
            return self._nak(NAK_COUNTER)
        self._counters[index] += increment
        return ACK
