"""MIFARE DESFire EV2/EV3 driver: native commands in ISO 7816-4 wrapping with EV2 secure messaging.

Through PC/SC an ISO-DEP card takes APDUs as they are, so a native command is
`90 INS 00 00 Lc data 00` and the answer ends in `91 SC` (`91 AF`: another
frame follows). Each method is one command (one card exchange unless it has
more frames); the caller says which communication mode the file uses, as it
knows the layout it created. An error answer ends the session on the card, so
the driver forgets its session too.
"""

from __future__ import annotations

import hmac
import os

from terminal.nfc import desfire_crypto as dc
from terminal.nfc.errors import CardAuthError, CardError, UnsupportedCard
from terminal.nfc.reader import Connection, ReaderError

PLAIN, MAC, FULL = 0x00, 0x01, 0x03
PICC = b"\x00\x00\x00"
DESFIRE_ATR_HISTORICAL = b"\x80"
FREE, NEVER = 0xE, 0xF
PRODUCTS = {0x12: "DESFIRE_EV2", 0x22: "DESFIRE_EV2", 0x30: "DESFIRE_EV3", 0x33: "DESFIRE_EV3", 0x01: "DESFIRE_EV1"}
STATUS_TEXT = {0x0C: "no changes", 0x0E: "out of EEPROM", 0x1C: "illegal command", 0x1E: "integrity error",
               0x40: "no such key", 0x7E: "length error", 0x9D: "permission denied", 0x9E: "parameter error",
               0xA0: "application not found", 0xAE: "authentication error", 0xBE: "boundary error",
               0xCA: "command aborted", 0xDE: "duplicate", 0xF0: "file not found"}


class DesfireError(CardError):
    """The card answered a command with an error status."""

    def __init__(self, what: str, code: int) -> None:
        super().__init__(f"DESFire {what}: {STATUS_TEXT.get(code, f'status {code:02X}')}")
        self.code = code


class DesfireAccessDenied(DesfireError, CardAuthError):
    """Authentication failed, or the session's key has no right to do this."""


class ApplicationMissing(DesfireError):
    """The application is not on the card (a blank card, or another event's)."""


def access_rights(*, read: int, write: int, read_write: int, change: int) -> bytes:
    """The two access-right bytes of a file: key numbers 0-13, FREE (E) or NEVER (F) per right."""
    return (read << 12 | write << 8 | read_write << 4 | change).to_bytes(2, "little")


def is_desfire_atr(atr: bytes) -> bool:
    """ISO-DEP ATR whose only historical byte is 80: DESFire EV1/EV2/EV3 behind a PC/SC reader."""
    atr = bytes(atr)
    return len(atr) == 6 and atr[0] == 0x3B and atr[1] == 0x81 and atr[2:4] == b"\x80\x01" and atr[4:5] == b"\x80"


class DesfireCard:
    """A tapped DESFire card; `session` is the EV2 session after `authenticate`."""

    def __init__(self, connection: Connection) -> None:
        if not is_desfire_atr(connection.atr):
            raise UnsupportedCard("not a MIFARE DESFire card")
        self._connection = connection
        self.session: dc.Ev2Session | None = None
        self.exchanges = 0

    # ------------------------------------------------------------------ transport
    def _frame(self, ins: int, data: bytes, what: str) -> tuple[int, bytes]:
        apdu = bytes([0x90, ins, 0, 0, len(data)]) + data + b"\x00" if data else bytes([0x90, ins, 0, 0, 0])
        self.exchanges += 1
        try:
            answer = bytes(self._connection.transmit(apdu))
        except CardError:
            self.session = None
            raise
        except Exception as exc:  # a backend that did not map its own failure
            raise ReaderError(f"reader failed during {what}: {exc}") from exc
        if len(answer) < 2 or answer[-2] != 0x91:
            self.session = None
            raise UnsupportedCard(f"not a DESFire answer to {what} (SW {answer[-2:].hex().upper()})")
        return answer[-1], answer[:-2]

    def _check(self, code: int, what: str, expect: int = 0x00) -> None:
        if code == expect:
            return
        self.session = None
        if code in (0xAE, 0x9D, 0x40):
            raise DesfireAccessDenied(what, code)
        if code == 0xA0:
            raise ApplicationMissing(what, code)
        raise DesfireError(what, code)

    def command(self, ins: int, header: bytes = b"", data: bytes = b"", *, mode: int = PLAIN,
                what: str = "command") -> bytes:
        """One command in the given communication mode; returns the plain answer data."""
        s = self.session
        if s is None or mode == PLAIN:
            code, body = self._frame(ins, header + data, what)
            self._check(code, what)
            if s is not None:
                s.counter += 1
            return body
        payload = s.encrypt_command(data) if mode == FULL and data else data
        mac = s.command_mac(ins, header, payload)
        code, body = self._frame(ins, header + payload + mac, what)
        self._check(code, what)
        s.counter += 1
        if len(body) < 8 or not hmac.compare_digest(body[-8:], s.response_mac(code, body[:-8])):
            self.session = None
            raise DesfireError(f"{what} answer MAC", 0x1E)
        body = body[:-8]
        return s.decrypt_response(body) if mode == FULL and body else body

    # ------------------------------------------------------------------ card and applications
    def reader_uid(self) -> bytes:
        """The UID the reader saw at anticollision (FF CA, answered by the reader, not a card exchange)."""
        answer = bytes(self._connection.transmit(bytes.fromhex("FFCA000000")))
        if answer[-2:] != b"\x90\x00":
            raise ReaderError(f"reader refused GET UID (SW {answer[-2:].hex().upper()})")
        return answer[:-2]

    def get_version(self) -> str:
        """Product from GetVersion's hardware frame (three exchanges)."""
        code, hw = self._frame(0x60, b"", "GetVersion")
        while code == 0xAF:
            code, _ = self._frame(0xAF, b"", "GetVersion")
        self._check(code, "GetVersion")
        if len(hw) < 4 or hw[1] != 0x01:
            raise UnsupportedCard("a DESFire-compatible chip that is not a DESFire")
        return PRODUCTS.get(hw[3], f"DESFIRE_{hw[3]:02X}")

    def select(self, aid: bytes) -> None:
        self.session = None
        code, _ = self._frame(0x5A, aid, "SelectApplication")
        self._check(code, "SelectApplication")

    def authenticate(self, key_no: int, key: bytes) -> None:
        """AuthenticateEV2First, or NonFirst when a session is open (TI and counter carry on)."""
        previous = self.session
        ins = 0x77 if previous is not None else 0x71
        code, enc_rnd_b = self._frame(ins, bytes([key_no]) if previous else bytes([key_no, 0]), "Authenticate")
        self._check(code, "Authenticate", expect=0xAF)
        rnd_a = os.urandom(16)
        try:
            part2, rnd_b = dc.auth_part2(key, enc_rnd_b, rnd_a)
        except dc.SecureMessagingError as exc:
            self.session = None
            raise DesfireError("Authenticate", 0x7E) from exc
        code, answer = self._frame(0xAF, part2, "Authenticate")
        self._check(code, "Authenticate")
        try:
            if previous is None:
                self.session = dc.auth_finish_first(key, key_no, rnd_a, rnd_b, answer)
            else:
                self.session = dc.auth_finish_nonfirst(key, key_no, rnd_a, rnd_b, answer, previous.ti,
                                                       previous.counter)
        except dc.SecureMessagingError as exc:
            self.session = None
            raise DesfireAccessDenied("Authenticate (card proof)", 0xAE) from exc

    def get_card_uid(self) -> bytes:
        return self.command(0x51, mode=FULL, what="GetCardUID")[:7]

    def plain_or_mac(self) -> int:
        """MAC once authenticated, plain before: how personalisation commands go."""
        return MAC if self.session is not None else PLAIN

    def change_key(self, key_no: int, new: bytes, old: bytes, version: int = 1) -> None:
        """ChangeKey (Full). Changing the session's own key ends the session (plain answer)."""
        s = self.session
        if s is None:
            raise DesfireAccessDenied("ChangeKey", 0xAE)
        if key_no == s.key_no:
            payload = s.encrypt_command(new + bytes([version]))
            code, _ = self._frame(0xC4, bytes([key_no]) + payload + s.command_mac(0xC4, bytes([key_no]), payload),
                                  "ChangeKey")
            self._check(code, "ChangeKey")
            self.session = None
            return
        cryptogram = bytes(a ^ b for a, b in zip(new, old, strict=True)) + bytes([version]) + dc.crc32_desfire(new)
        self.command(0xC4, bytes([key_no]), cryptogram, mode=FULL, what="ChangeKey")

    # ------------------------------------------------------------------ files
    def read_data(self, file_no: int, offset: int, length: int, mode: int) -> bytes:
        return self.command(0xBD, bytes([file_no]) + offset.to_bytes(3, "little") + length.to_bytes(3, "little"),
                            mode=mode, what="ReadData")

    def write_data(self, file_no: int, offset: int, data: bytes, mode: int) -> None:
        header = bytes([file_no]) + offset.to_bytes(3, "little") + len(data).to_bytes(3, "little")
        self.command(0x3D, header, data, mode=mode, what="WriteData")

    def get_value(self, file_no: int, mode: int) -> int:
        raw = self.command(0x6C, bytes([file_no]), mode=mode, what="GetValue")
        if len(raw) != 4:
            raise DesfireError("GetValue answer", 0x7E)
        return int.from_bytes(raw, "little", signed=True)

    def _value_op(self, ins: int, file_no: int, amount: int, mode: int, what: str) -> None:
        self.command(ins, bytes([file_no]), amount.to_bytes(4, "little", signed=True), mode=mode, what=what)

    def credit(self, file_no: int, amount: int, mode: int) -> None:
        self._value_op(0x0C, file_no, amount, mode, "Credit")

    def debit(self, file_no: int, amount: int, mode: int) -> None:
        self._value_op(0xDC, file_no, amount, mode, "Debit")

    def limited_credit(self, file_no: int, amount: int, mode: int) -> None:
        self._value_op(0x1C, file_no, amount, mode, "LimitedCredit")

    def read_records(self, file_no: int, newest: int, count: int, mode: int) -> bytes:
        """Records `newest`..`newest+count-1` counted back from the newest (0), oldest first."""
        header = bytes([file_no]) + newest.to_bytes(3, "little") + count.to_bytes(3, "little")
        return self.command(0xBB, header, mode=mode, what="ReadRecords")

    def write_record(self, file_no: int, data: bytes, mode: int) -> None:
        header = bytes([file_no]) + (0).to_bytes(3, "little") + len(data).to_bytes(3, "little")
        self.command(0x3B, header, data, mode=mode, what="WriteRecord")

    def commit(self) -> None:
        self.command(0xC7, mode=self.plain_or_mac(), what="CommitTransaction")

    def abort(self) -> None:
        self.command(0xA7, mode=self.plain_or_mac(), what="AbortTransaction")
