"""NTAG21x / MIFARE Ultralight EV1 driver: the `PurseTag` the wallet writes its purse to.

It speaks Type 2 tag commands (GET_VERSION, FAST_READ, WRITE, PWD_AUTH,
READ_CNT, INCR_CNT, READ_SIG) through any `Connection`, wrapped the way an
ACR122U wants them (`Acr122` holds every quirk of that reader in one place).
A tap costs exchanges and a sale must fit in a handful, so `identify` spends
at most one GET_VERSION (none with `product_hint`) and the UID is taken from
the first FAST_READ that covers pages 0-1, or from the reader (FF CA, which
the reader answers from anticollision data without talking to the card).
"""

from __future__ import annotations

from dataclasses import dataclass

from terminal.nfc.errors import CardAuthError, CardError, CardRemoved, UnsupportedCard
from terminal.nfc.originality import nxp_public_key, verify_originality
from terminal.nfc.reader import Connection, ReaderError

ACK = 0x0A
NAK_CODES = frozenset({0x00, 0x01, 0x04, 0x05})
NAK_LIMIT = 0x04
NAK_EEPROM = 0x05
PAGE = 4


@dataclass(frozen=True)
class CardInfo:
    """What GET_VERSION told about the chip."""

    uid: bytes
    product: str  # "NTAG213", "NTAG215", "NTAG216", "MF0UL11", "MF0UL21"
    user_start: int  # first user page (4)
    user_pages: int  # number of user pages
    config_page: int  # page of CFG0 (MIRROR, RFUI, MIRROR_PAGE, AUTH0)
    has_counter: bool  # Ultralight EV1 one-way counters with INCR_CNT


@dataclass(frozen=True)
class ChipLayout:
    """What the driver needs of a supported chip's memory map (NXP data sheets)."""

    product: str
    pages: int  # total pages
    config_page: int  # CFG0; CFG1, PWD, PACK follow
    user_pages: int
    has_counter: bool  # Ultralight EV1: three INCR_CNT counters
    nfc_counter: bool  # NTAG21x: NFC counter at READ_CNT 02

    @property
    def pwd_page(self) -> int:
        return self.config_page + 2

    @property
    def pack_page(self) -> int:
        return self.config_page + 3


LAYOUTS: dict[str, ChipLayout] = {
    "NTAG213": ChipLayout("NTAG213", 45, 0x29, 36, False, True),
    "NTAG215": ChipLayout("NTAG215", 135, 0x83, 126, False, True),
    "NTAG216": ChipLayout("NTAG216", 231, 0xE3, 222, False, True),
    "MF0UL11": ChipLayout("MF0UL11", 20, 0x10, 12, True, False),
    "MF0UL21": ChipLayout("MF0UL21", 41, 0x25, 32, True, False),
}

# GET_VERSION answers: vendor 04 (NXP), type 04 NTAG / 03 Ultralight, subtype, major, minor, storage size, protocol.
VERSIONS: dict[bytes, str] = {
    bytes.fromhex("0004040201000f03"): "NTAG213",
    bytes.fromhex("0004040201001103"): "NTAG215",
    bytes.fromhex("0004040201001303"): "NTAG216",
    bytes.fromhex("0004030101000b03"): "MF0UL11",
    bytes.fromhex("0004030201000b03"): "MF0UL11",  # 50 pF variant
    bytes.fromhex("0004030101000e03"): "MF0UL21",
    bytes.fromhex("0004030201000e03"): "MF0UL21",
}
TOO_SMALL: dict[bytes, str] = {
    bytes.fromhex("0004040101000b03"): "NTAG210 (48 bytes)",
    bytes.fromhex("0004040101000e03"): "NTAG212 (128 bytes)",
}

# PC/SC part 3 card names (storage-card ATR bytes 13-14) of chips that are not ours.
STORAGE_CARD_NAMES: dict[bytes, str] = {
    b"\x00\x01": "a MIFARE Classic 1K card",
    b"\x00\x02": "a MIFARE Classic 4K card",
    b"\x00\x26": "a MIFARE Mini card",
    b"\x00\x3a": "a MIFARE Ultralight C card",
    b"\xff\x28": "a JCOP card",
}
ULTRALIGHT_FAMILY = b"\x00\x03"
STORAGE_ATR_PREFIX = bytes.fromhex("3B8F8001804F0CA000000306")
LAZY_READ_PAGES = 41  # MF0UL21, the smallest chip that holds a purse, has pages 0..40


class Acr122:
    """ACR122U (PN533) framing and quirks, kept here and nowhere else.

    - Type 2 tag commands go through direct transmit: `FF 00 00 00 Lc D4 42 <cmd>`,
      answered `D5 43 <status> <card answer> 90 00`; status 01 means the card did
      not answer (a NAK'd chip stays silent, or it left the field).
    - ACK/NAK come back as one byte: 0A or 00/01/04/05.
    - One FAST_READ returns at most about 60 pages before the reader truncates.
    """

    MAX_FAST_READ_PAGES = 60
    GET_UID = bytes.fromhex("FFCA000000")

    @staticmethod
    def direct(command: bytes) -> bytes:
        payload = b"\xd4\x42" + command
        return bytes([0xFF, 0x00, 0x00, 0x00, len(payload)]) + payload

    @staticmethod
    def check_status(response: bytes, what: str) -> bytes:
        """Strip the status word; a reader-level refusal is a ReaderError."""
        if len(response) < 2:
            raise ReaderError(f"reader gave a malformed answer to {what}: {response.hex()}")
        if response[-2:] != b"\x90\x00":
            sw = response[-2:].hex().upper()
            if sw == "6A81":
                raise ReaderError(f"reader does not support {what} (SW 6A81)")
            raise ReaderError(f"reader refused {what} (SW {sw})")
        return response[:-2]

    @staticmethod
    def card_answer(body: bytes, what: str) -> bytes | None:
        """Card answer of a direct transmit; None when the card did not answer."""
        if len(body) < 3 or body[:2] != b"\xd5\x43":
            raise ReaderError(f"reader gave a malformed answer to {what}: {body.hex()}")
        status = body[2] & 0x3F
        if status == 0x01:
            return None
        if status != 0x00:
            raise CardError(f"radio error 0x{status:02X} during {what}")
        return body[3:]


class NoAnswer(CardRemoved):
    """The card did not answer a command (it left the field, or a NAK sent it to sleep)."""


class NtagTag:
    """A tapped NTAG21x / Ultralight EV1: implements the wallet's `PurseTag`."""

    def __init__(self, connection: Connection, layout: ChipLayout | None, *, uid: bytes | None = None) -> None:
        self._connection = connection
        self._layout = layout
        self._uid = uid
        self._exchanges = 0
        self.transmits = 0  # all APDUs, including those the reader answers itself

    @property
    def layout(self) -> ChipLayout:
        """The chip's memory map; on a lazily identified tag the first use costs one GET_VERSION."""
        if self._layout is None:
            self._layout = LAYOUTS[_detect_product(self)]
        return self._layout

    def hint_product(self, product: str) -> None:
        """Take the product from a source the caller trusts (the wallet's sealed header): no GET_VERSION."""
        if self._layout is None and product in LAYOUTS:
            self._layout = LAYOUTS[product]

    # ------------------------------------------------------------------ transport
    def _transmit(self, apdu: bytes, what: str) -> bytes:
        self.transmits += 1
        try:
            response = self._connection.transmit(apdu)
        except CardError:
            raise
        except Exception as exc:  # a backend that did not map its own failure
            raise ReaderError(f"reader failed during {what}: {exc}") from exc
        return Acr122.check_status(bytes(response), what)

    def _command(self, command: bytes, what: str) -> bytes:
        """One card exchange; returns the card's answer (may be a one-byte ACK/NAK)."""
        self._exchanges += 1
        answer = Acr122.card_answer(self._transmit(Acr122.direct(command), what), what)
        if answer is None:
            raise NoAnswer(f"card did not answer {what}: keep the card on the reader")
        return answer

    @staticmethod
    def _nak(answer: bytes) -> int | None:
        return answer[0] if len(answer) == 1 and answer[0] in NAK_CODES else None

    # ------------------------------------------------------------------ PurseTag
    @property
    def uid(self) -> bytes:
        if self._uid is None:
            uid = self._transmit(Acr122.GET_UID, "GET UID")
            if len(uid) != 7:
                raise UnsupportedCard(f"UID of {len(uid)} bytes: not an NTAG or Ultralight EV1")
            self._uid = uid
        return self._uid

    @property
    def info(self) -> CardInfo:
        lay = self.layout
        return CardInfo(
            uid=self.uid,
            product=lay.product,
            user_start=4,
            user_pages=lay.user_pages,
            config_page=lay.config_page,
            has_counter=lay.has_counter,
        )

    @property
    def exchanges(self) -> int:
        return self._exchanges

    def read_pages(self, start: int, count: int) -> bytes:
        if self._layout is None and start >= 0 and count >= 1 and start + count <= LAZY_READ_PAGES:
            return self._read_unidentified(start, count)
        if count < 1 or start < 0 or start + count > self.layout.pages:
            raise ValueError(f"pages {start}..{start + count - 1} are outside the {self.layout.product}")
        out = bytearray()
        page = start
        while page < start + count:
            end = min(page + Acr122.MAX_FAST_READ_PAGES, start + count) - 1
            answer = self._command(bytes([0x3A, page, end]), f"FAST_READ {page}..{end}")
            if self._nak(answer) is not None:
                raise CardAuthError(f"card refused reading pages {page}..{end}: they need the password")
            if len(answer) != (end - page + 1) * PAGE:
                raise CardError(f"short read of pages {page}..{end}: {len(answer)} bytes")
            out += answer
            page = end + 1
        if start == 0 and count >= 2 and self._uid is None:
            self._uid = bytes(out[0:3] + out[4:8])
        return bytes(out)

    def _read_unidentified(self, start: int, count: int) -> bytes:
        """A read before GET_VERSION, within what every purse-sized chip has; a NAK means a smaller chip."""
        end = start + count - 1
        answer = self._command(bytes([0x3A, start, end]), f"FAST_READ {start}..{end}")
        if self._nak(answer) is not None or len(answer) != count * PAGE:
            raise UnsupportedCard("a chip too small for a StallPay purse, or not an NTAG/Ultralight EV1")
        if start == 0 and count >= 2 and self._uid is None:
            self._uid = bytes(answer[0:3] + answer[4:8])
        return bytes(answer)

    def write_page(self, page: int, data: bytes) -> None:
        if len(data) != PAGE:
            raise ValueError(f"a page is {PAGE} bytes, got {len(data)}")
        if not 2 <= page < self.layout.pages:
            raise ValueError(f"page {page} is not writable on the {self.layout.product}")
        answer = self._command(bytes([0xA2, page]) + bytes(data), f"WRITE page {page}")
        if answer == bytes([ACK]):
            return
        nak = self._nak(answer)
        if nak == NAK_EEPROM:
            raise CardError(f"card failed to store page {page} (EEPROM error)")
        if nak is not None:
            raise CardAuthError(f"card refused the write to page {page}: locked, or it needs the password")
        raise CardError(f"unexpected answer to WRITE page {page}: {answer.hex()}")

    def authenticate(self, password: bytes) -> bytes:
        if len(password) != 4:
            raise ValueError("an NTAG/Ultralight EV1 password is 4 bytes")
        answer = self._command(b"\x1b" + bytes(password), "PWD_AUTH")
        if len(answer) == 2:
            return answer
        nak = self._nak(answer)
        if nak == NAK_LIMIT:
            raise CardAuthError("card is locked after too many wrong passwords")
        if nak is not None:
            raise CardAuthError("card refused the password: wrong event or not issued by us")
        raise CardError(f"unexpected answer to PWD_AUTH: {answer.hex()}")

    def protect(self, password: bytes, pack: bytes, auth0: int) -> None:
        """Write PWD, then PACK, then (if needed) clear ACCESS.PROT, then AUTH0 last.

        AUTH0 goes last because it switches protection on at once: written
        earlier, the PWD/PACK writes after it would need the password.
        """
        if len(password) != 4 or len(pack) != 2:
            raise ValueError("password is 4 bytes and PACK 2 bytes")
        if not 0 <= auth0 <= 0xFF:
            raise ValueError("AUTH0 is a page number 0..255")
        lay = self.layout
        config = self.read_pages(lay.config_page, 2)
        cfg0, cfg1 = config[0:4], config[4:8]
        self.write_page(lay.pwd_page, bytes(password))
        self.write_page(lay.pack_page, bytes(pack) + b"\x00\x00")
        if cfg1[0] & 0x80:  # PROT: reads must stay open
            self.write_page(lay.config_page + 1, bytes([cfg1[0] & 0x7F]) + cfg1[1:4])
        self.write_page(lay.config_page, cfg0[0:3] + bytes([auth0]))

    def _read_cnt(self, index: int) -> int:
        answer = self._command(bytes([0x39, index]), f"READ_CNT {index}")
        if len(answer) != 3:
            if self._nak(answer) is not None:
                raise CardError(f"card refused READ_CNT {index} (counter disabled or password protected)")
            raise CardError(f"unexpected answer to READ_CNT: {answer.hex()}")
        return int.from_bytes(answer, "little")

    def read_counter(self) -> int | None:
        if not self.layout.has_counter:
            return None
        return self._read_cnt(0)

    def read_nfc_counter(self) -> int:
        """NTAG21x NFC counter (needs ACCESS.NFC_CNT_EN); counts the field sessions that read the tag."""
        if not self.layout.nfc_counter:
            raise CardError(f"the {self.layout.product} has no NFC counter")
        return self._read_cnt(2)

    def increment_counter(self) -> None:
        if not self.layout.has_counter:
            raise CardError(f"the {self.layout.product} has no INCR_CNT counter")
        answer = self._command(b"\xa5\x00\x01\x00\x00\x00", "INCR_CNT 0")
        if answer == bytes([ACK]):
            return
        if self._nak(answer) == NAK_LIMIT:
            raise CardError("the card's counter is at its maximum")
        raise CardError(f"card refused INCR_CNT: {answer.hex()}")

    def read_signature(self) -> bytes:
        answer = self._command(b"\x3c\x00", "READ_SIG")
        if len(answer) != 32:
            raise CardError(f"unexpected answer to READ_SIG: {answer.hex()}")
        return answer

    def verify_signature(self, public_key: bytes | str | None = None) -> bool:
        """READ_SIG and check it against `public_key` (NXP's key for this family when None)."""
        key = public_key or nxp_public_key(self.layout.product)
        return verify_originality(self.uid, self.read_signature(), key)


def refusal_for_atr(atr: bytes) -> str | None:
    """Why a card with this ATR cannot be a wristband of ours; None for the Ultralight/NTAG family."""
    atr = bytes(atr)
    if atr.startswith(STORAGE_ATR_PREFIX) and len(atr) >= 15:
        name = atr[13:15]
        if name == ULTRALIGHT_FAMILY:
            return None
        what = STORAGE_CARD_NAMES.get(name, f"a storage card of type {name.hex().upper()}")
        return f"{what}, not a StallPay wristband"
    if len(atr) >= 4 and atr[0] == 0x3B and atr[2:4] == b"\x80\x01" and atr[1] & 0xF0 == 0x80:
        if atr[1] & 0x0F == 0:
            return "a phone (card emulation), not a StallPay wristband"
        return "a bank card or other smart card (ISO-DEP), not a StallPay wristband"
    return f"an unrecognised card (ATR {atr.hex().upper()}), not a StallPay wristband"


def identify(
    connection: Connection,
    *,
    check_signature: bool = False,
    signature_public_key: bytes | str | None = None,
    product_hint: str | None = None,
    lazy: bool = False,
) -> NtagTag:
    """The tag on `connection`, or UnsupportedCard with a one-line reason; never writes.

    `product_hint` (a product name) skips GET_VERSION when the caller already
    knows the chip, e.g. from an earlier tap of the same UID. `lazy` defers
    GET_VERSION until the layout is needed: the wallet reads first and takes the
    product from the card's sealed header (`hint_product`), saving an exchange.
    """
    reason = refusal_for_atr(connection.atr)
    if reason is not None:
        raise UnsupportedCard(reason)
    if product_hint is not None:
        if product_hint not in LAYOUTS:
            raise ValueError(f"unknown product {product_hint!r}; one of {', '.join(LAYOUTS)}")
        tag = NtagTag(connection, LAYOUTS[product_hint])
    else:
        tag = NtagTag(connection, None)
        if not lazy:
            _ = tag.layout
    if check_signature and not tag.verify_signature(signature_public_key):
        raise UnsupportedCard("originality signature does not verify: not a genuine chip of ours")
    return tag


def _detect_product(tag: NtagTag) -> str:
    """GET_VERSION, mapped to a supported product or refused with a reason."""
    try:
        version = tag._command(b"\x60", "GET_VERSION")
    except NoAnswer:
        raise UnsupportedCard("a MIFARE Ultralight/NTAG203 without GET_VERSION: too small for a purse") from None
    if tag._nak(version) is not None:
        raise UnsupportedCard("a MIFARE Ultralight/NTAG203 without GET_VERSION: too small for a purse")
    version = bytes(version)
    if version in TOO_SMALL:
        raise UnsupportedCard(f"an {TOO_SMALL[version]}: too small for a purse")
    product = VERSIONS.get(version)
    if product is None:
        raise UnsupportedCard(f"an unsupported chip (GET_VERSION {version.hex().upper()})")
    return product
