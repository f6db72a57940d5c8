"""The DESFire native command set of the emulator: authentication, keys, applications, files, transactions.

Each handler takes the command data (without INS) and returns (status, body);
errors are raised as `CardStatus`. Secure messaging follows EV2: with a
session, commands carry a MAC (Full: encrypted data too) and answers come
back MAC'd with the command counter advanced by one.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable

from terminal.nfc import desfire_crypto as dc
from terminal.nfc.emulator.desfire_file_commands import FileCommands
from terminal.nfc.emulator.desfire_files import (
    ADDITIONAL_FRAME,
    APPLICATION_NOT_FOUND,
    AUTHENTICATION_ERROR,
    BOUNDARY_ERROR,
    COMMAND_ABORTED,
    DUPLICATE_ERROR,
    FULL,
    ILLEGAL_COMMAND,
    INTEGRITY_ERROR,
    LENGTH_ERROR,
    MAC,
    NO_SUCH_KEY,
    OK,
    PARAMETER_ERROR,
    PERMISSION_DENIED,
    PLAIN,
    Access,
    AnyFile,
    Application,
    CardStatus,
    RecordFile,
    StdFile,
    Transaction,
    ValueFile,
    u24,
)

PICC = b"\x00\x00\x00"



class CommandSet(FileCommands):
    """Mixed into `DesfireEmulator`, which provides the card's content and its field session."""

    uid: bytes
    product: str
    picc_key: bytes
    picc_key_settings: int
    apps: dict[bytes, Application]
    _selected: bytes
    _session: dc.Ev2Session | None
    _auth_pending: tuple[str, int, bytes, bytes] | None
    _more: list[bytes]
    _tx: Transaction

    def _drop_auth(self) -> None:  # provided by the card
        raise NotImplementedError

    def _native(self, ins: int, data: bytes) -> tuple[int, bytes]:
        if ins == 0xAF:
            return self._additional_frame(data)
        self._auth_pending = None
        self._more = []
        handler = self._handlers().get(ins)
        if handler is None:
            raise CardStatus(ILLEGAL_COMMAND, f"command {ins:02X}")
        return handler(data)

    def _handlers(self) -> dict[int, Callable[[bytes], tuple[int, bytes]]]:
        return {0x60: self._get_version, 0x5A: self._select, 0x71: self._auth_first, 0x77: self._auth_nonfirst,
                0xCA: self._create_application, 0xDA: self._delete_application, 0x51: self._get_card_uid,
                0xC4: self._change_key, 0xCD: self._create_std, 0xCC: self._create_value, 0xC0: self._create_cyclic,
                0xBD: self._read_data, 0x3D: self._write_data, 0x6C: self._get_value, 0x0C: self._credit,
                0xDC: self._debit, 0x1C: self._limited_credit, 0xBB: self._read_records, 0x3B: self._write_record,
                0xC7: self._commit, 0xA7: self._abort}

    # ----------------------------------------------------------------- secure messaging
    def _unwrap(self, ins: int, data: bytes, header_len: int, mode: int) -> bytes:
        s = self._session
        if s is None or mode == PLAIN:
            return data
        if len(data) < header_len + 8:
            raise CardStatus(LENGTH_ERROR, "no MAC")
        body, mac = data[:-8], data[-8:]
        if not hmac.compare_digest(mac, s.command_mac(ins, body[:header_len], body[header_len:])):
            raise CardStatus(INTEGRITY_ERROR, "command MAC")
        if mode == FULL and len(body) > header_len:
            return body[:header_len] + s.decrypt_command(body[header_len:])
        return body

    def _wrap(self, body: bytes, mode: int) -> tuple[int, bytes]:
        s = self._session
        if s is None:
            return OK, body
        s.counter += 1
        if mode == PLAIN:
            return OK, body
        if mode == FULL and body:
            body = s.encrypt_response(body, s.counter)
        return OK, body + s.response_mac(OK, body)

    def _session_mode(self) -> int:
        return MAC if self._session is not None else PLAIN

    # ----------------------------------------------------------------- PICC and applications
    def _get_version(self, data: bytes) -> tuple[int, bytes]:
        from terminal.nfc.emulator.desfire import VERSIONS

        hw, sw = VERSIONS[self.product]
        self._more = [sw, self.uid + bytes.fromhex("BA7C4A5E90") + b"\x24\x26"]
        return ADDITIONAL_FRAME, hw

    def _additional_frame(self, data: bytes) -> tuple[int, bytes]:
        if self._more:
            frame = self._more.pop(0)
            return (ADDITIONAL_FRAME if self._more else OK), frame
        pending, self._auth_pending = self._auth_pending, None
        if pending is None:
            raise CardStatus(COMMAND_ABORTED, "no frame expected")
        kind, key_no, key, rnd_b = pending
        if len(data) != 32:
            raise CardStatus(LENGTH_ERROR, "authentication frame")
        plain = dc.cbc_decrypt(key, dc.ZERO_IV, data)
        rnd_a = plain[:16]
        if plain[16:] != dc.rotl(rnd_b):
            raise CardStatus(AUTHENTICATION_ERROR, "wrong key")
        enc, mac = dc.session_keys(key, rnd_a, rnd_b)
        if kind == "first":
            ti = os.urandom(4)
            self._session = dc.Ev2Session(key_no, enc, mac, ti, 0)
            return OK, dc.cbc_encrypt(key, dc.ZERO_IV, ti + dc.rotl(rnd_a) + bytes(12))
        assert self._session is not None
        self._session = dc.Ev2Session(key_no, enc, mac, self._session.ti, self._session.counter)
        return OK, dc.cbc_encrypt(key, dc.ZERO_IV, dc.rotl(rnd_a))

    def _keys(self) -> list[bytes]:
        return [self.picc_key] if self._selected == PICC else self.apps[self._selected].keys

    def _app(self) -> Application:
        if self._selected == PICC:
            raise CardStatus(PERMISSION_DENIED, "no application selected")
        return self.apps[self._selected]

    def _select(self, data: bytes) -> tuple[int, bytes]:
        if len(data) != 3:
            raise CardStatus(LENGTH_ERROR)
        self._drop_auth()
        self._tx = Transaction()
        if data != PICC and data not in self.apps:
            self._selected = PICC
            raise CardStatus(APPLICATION_NOT_FOUND)
        self._selected = data
        return OK, b""

    def _start_auth(self, kind: str, data: bytes) -> tuple[int, bytes]:
        if len(data) < 1:
            raise CardStatus(LENGTH_ERROR)
        key_no = data[0] & 0x3F
        keys = self._keys()
        if key_no >= len(keys):
            raise CardStatus(NO_SUCH_KEY)
        if kind == "first":
            self._session = None
        elif self._session is None:
            raise CardStatus(AUTHENTICATION_ERROR, "NonFirst needs a session")
        rnd_b = os.urandom(16)
        self._auth_pending = (kind, key_no, keys[key_no], rnd_b)
        return ADDITIONAL_FRAME, dc.cbc_encrypt(keys[key_no], dc.ZERO_IV, rnd_b)

    def _auth_first(self, data: bytes) -> tuple[int, bytes]:
        return self._start_auth("first", data)

    def _auth_nonfirst(self, data: bytes) -> tuple[int, bytes]:
        return self._start_auth("nonfirst", data)

    def _is_master(self) -> bool:
        return self._session is not None and self._session.key_no == 0

    def _create_application(self, data: bytes) -> tuple[int, bytes]:
        if self._selected != PICC:
            raise CardStatus(PERMISSION_DENIED, "select the PICC first")
        data = self._unwrap(0xCA, data, len(data) - (8 if self._session else 0), self._session_mode())
        if not (self.picc_key_settings & 0x04 or self._is_master()):
            raise CardStatus(AUTHENTICATION_ERROR)
        if len(data) != 5:
            raise CardStatus(LENGTH_ERROR)
        aid, ks1, ks2 = data[0:3], data[3], data[4]
        count = ks2 & 0x0F
        if aid == PICC or ks2 & 0xC0 != 0x80 or not 1 <= count <= 14:
            raise CardStatus(PARAMETER_ERROR, "AES applications with 1..14 keys only")
        if aid in self.apps:
            raise CardStatus(DUPLICATE_ERROR)
        self.apps[aid] = Application.new(ks1, count)
        return self._wrap(b"", self._session_mode())

    def _delete_application(self, data: bytes) -> tuple[int, bytes]:
        mode = self._session_mode()
        data = self._unwrap(0xDA, data, 3, mode)
        aid = data[:3]
        if aid not in self.apps:
            raise CardStatus(APPLICATION_NOT_FOUND)
        if not self._is_master() or self._selected not in (PICC, aid):
            raise CardStatus(PERMISSION_DENIED)
        del self.apps[aid]
        answer = self._wrap(b"", mode)
        if self._selected == aid:
            self._selected = PICC
            self._drop_auth()
        return answer

    def _get_card_uid(self, data: bytes) -> tuple[int, bytes]:
        if self._session is None:
            raise CardStatus(AUTHENTICATION_ERROR)
        self._unwrap(0x51, data, 0, FULL)
        return self._wrap(self.uid, FULL)

    def _change_key(self, data: bytes) -> tuple[int, bytes]:
        s = self._session
        if s is None:
            raise CardStatus(AUTHENTICATION_ERROR)
        data = self._unwrap(0xC4, data, 1, FULL)
        key_no, payload = data[0] & 0x3F, data[1:]
        keys = self._keys()
        if key_no >= len(keys):
            raise CardStatus(NO_SUCH_KEY)
        if self._selected == PICC or key_no == 0:
            settings = self.picc_key_settings if self._selected == PICC else self._app().key_settings
            allowed = key_no == 0 and s.key_no == 0 and bool(settings & 0x01)
        else:
            access = self._app().change_key_access
            allowed = access != 0xF and s.key_no == (key_no if access == 0xE else access)
        if not allowed:
            raise CardStatus(PERMISSION_DENIED, "ChangeKey access")
        if key_no == s.key_no:
            if len(payload) != 17:
                raise CardStatus(LENGTH_ERROR)
            new, version = payload[:16], payload[16]
        else:
            if len(payload) != 21:
                raise CardStatus(LENGTH_ERROR)
            new = bytes(a ^ b for a, b in zip(payload[:16], keys[key_no], strict=True))
            version = payload[16]
            if payload[17:21] != dc.crc32_desfire(new):
                raise CardStatus(INTEGRITY_ERROR, "key CRC")
        if self._selected == PICC:
            self.picc_key = new
        else:
            app = self._app()
            app.keys[key_no] = new
            app.key_versions[key_no] = version
        if key_no == s.key_no:
            self._drop_auth()  # the session's key is gone: plain answer, session over
            return OK, b""
        return self._wrap(b"", MAC)

    # ----------------------------------------------------------------- file creation
    def _create_file(self, ins: int, data: bytes, build: Callable[[bytes, int, Access], AnyFile]) -> tuple[int, bytes]:
        app = self._app()
        mode = self._session_mode()
        data = self._unwrap(ins, data, len(data) - (8 if self._session else 0), mode)
        if not (app.key_settings & 0x04 or self._is_master()):
            raise CardStatus(AUTHENTICATION_ERROR if self._session is None else PERMISSION_DENIED)
        if len(data) < 4 or data[1] not in (PLAIN, MAC, FULL):
            raise CardStatus(PARAMETER_ERROR)
        file_no = data[0]
        if file_no > 0x1F:
            raise CardStatus(PARAMETER_ERROR)
        if file_no in app.files:
            raise CardStatus(DUPLICATE_ERROR)
        app.files[file_no] = build(data[4:], data[1], Access.decode(data[2:4]))
        return self._wrap(b"", mode)

    def _create_std(self, data: bytes) -> tuple[int, bytes]:
        def build(rest: bytes, comm: int, access: Access) -> AnyFile:
            if len(rest) != 3 or not 1 <= u24(rest) <= 8192:
                raise CardStatus(PARAMETER_ERROR)
            return StdFile(comm, access, bytearray(u24(rest)))
        return self._create_file(0xCD, data, build)

    def _create_value(self, data: bytes) -> tuple[int, bytes]:
        def build(rest: bytes, comm: int, access: Access) -> AnyFile:
            if len(rest) != 13:
                raise CardStatus(LENGTH_ERROR)
            lower, upper, value = (int.from_bytes(rest[i:i + 4], "little", signed=True) for i in (0, 4, 8))
            if not lower <= value <= upper:
                raise CardStatus(BOUNDARY_ERROR)
            return ValueFile(comm, access, lower, upper, value, bool(rest[12] & 0x01))
        return self._create_file(0xCC, data, build)

    def _create_cyclic(self, data: bytes) -> tuple[int, bytes]:
        def build(rest: bytes, comm: int, access: Access) -> AnyFile:
            if len(rest) != 6 or not 1 <= u24(rest[:3]) <= 256 or not 2 <= u24(rest[3:]) <= 64:
                raise CardStatus(PARAMETER_ERROR)
            return RecordFile(comm, access, u24(rest[:3]), u24(rest[3:]))
        return self._create_file(0xC0, data, build)
