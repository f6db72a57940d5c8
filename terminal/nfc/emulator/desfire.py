"""MIFARE DESFire EV2/EV3 as a reader backend: native commands wrapped in ISO 7816-4 (CLA 90).

A backend, not a mock: the driver under test talks to it exactly as to a card
behind an ACR122U (`90 INS 00 00 Lc data 00`, answers `data 91 SC`, `91 AF`
for another frame), with EV2 secure messaging from `desfire_crypto`. What it
models of the data sheet:

- PICC level with a factory-blank AES PICC key (all zero) and key settings
  0F (free CreateApplication); applications with up to 14 AES keys, key
  settings (ChangeKey access right, AMK changeable), ChangeKey with the
  XOR/CRC32 cryptogram for other keys and the session ending when the
  authenticated key changes;
- files with access rights enforced per command (GetValue/Debit: R, W or RW;
  LimitedCredit: W or RW; Credit: RW only; records: R/RW to read, W/RW to
  write; FREE = E, NEVER = F) and their communication mode (plain, MAC, Full);
- transactions: value and record changes staged until CommitTransaction; a
  new selection, AbortTransaction or leaving the field drops them;
- an error answer ends the authenticated session, as on the card;
- random UID: with `random_uid` the reader sees a fresh 08xxxxxx each tap;
  the real UID only comes from GetCardUID after authentication;
- tearing: `tear_after(n, executed=...)` takes the card away during the n-th
  command, before or after the card ran it (its answer is lost either way).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from terminal.nfc import desfire_crypto as dc
from terminal.nfc.emulator.atr import iso_dep_atr
from terminal.nfc.emulator.desfire_commands import CommandSet
from terminal.nfc.emulator.desfire_files import Application, CardStatus, Transaction, app_from_json, app_to_json
from terminal.nfc.emulator.field import InField

STATE_FORMAT = "stallpay-desfire-emulator/1"
DESFIRE_HISTORICAL = b"\x80"  # ATS historical byte of DESFire EV1/EV2/EV3
PICC_AID = b"\x00\x00\x00"
VERSIONS = {
    # hardware, software, production frames of GetVersion (8 KB, ISO 14443-4)
    "DESFIRE_EV2": (bytes.fromhex("04010112001A05"), bytes.fromhex("04010112001A05")),
    "DESFIRE_EV3": (bytes.fromhex("04010133001A05"), bytes.fromhex("04010133001A05")),
}
SW_OK = b"\x90\x00"


class DesfireEmulator(InField, CommandSet):
    """One DESFire EV2/EV3 card with its applications and the state of the current field session."""

    def __init__(self, product: str = "DESFIRE_EV2", uid: bytes | None = None, *, random_uid: bool = False) -> None:
        if product not in VERSIONS:
            raise ValueError(f"unknown product {product!r}; one of {', '.join(VERSIONS)}")
        self.product = product
        uid = bytes(uid) if uid is not None else b"\x04" + os.urandom(6)
        if len(uid) != 7:
            raise ValueError(f"a DESFire UID is 7 bytes, got {len(uid)}")
        self.uid = uid
        self.random_uid = random_uid
        self.atr = iso_dep_atr(DESFIRE_HISTORICAL)
        self.picc_key = bytes(16)
        self.picc_key_settings = 0x0F
        self.apps: dict[bytes, Application] = {}
        self._lock = threading.Lock()
        self.commands = 0
        self.in_field = True
        self._tear_in: int | None = None
        self._tear_executed = True
        self._reset_session()

    # ----------------------------------------------------------------- helpers for tests and backends
    def tear_after(self, n_commands: int, *, executed: bool = True) -> None:
        """Leave the field during the n-th further card command (1 = the next); the card runs it or not.

        Its answer is lost either way; a transaction not yet committed is
        dropped, as the card does when the field goes. `n_commands=0`: gone now.
        """
        if self._arm_tear(n_commands):
            self._tear_executed = executed

    def state(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "product": self.product, "uid": self.uid.hex(),
                "random_uid": self.random_uid, "picc_key": self.picc_key.hex(),
                "picc_key_settings": self.picc_key_settings,
                "apps": {aid.hex(): app_to_json(app) for aid, app in sorted(self.apps.items())}}

    def snapshot(self) -> bytes:
        """The card's committed content (keys included) as canonical JSON bytes."""
        return json.dumps(self.state(), sort_keys=True).encode()

    def restore(self, image: bytes) -> None:
        state = json.loads(image)
        if bytes.fromhex(state["uid"]) != self.uid:
            raise ValueError("image belongs to a card with another UID")
        with self._lock:
            self._apply_state(state)

    def _apply_state(self, state: dict[str, Any]) -> None:
        self.picc_key = bytes.fromhex(state["picc_key"])
        self.picc_key_settings = int(state["picc_key_settings"])
        self.apps = {bytes.fromhex(aid): app_from_json(app) for aid, app in state["apps"].items()}
        self._reset_session()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the card to a JSON state file, 0600 (it holds the card's keys), by write-then-rename."""
        tmp = Path(f"{os.fspath(path)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.state(), indent=1))
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DesfireEmulator:
        try:
            state = json.loads(Path(path).read_text())
            if state.get("format") != STATE_FORMAT:
                raise ValueError("not a StallPay emulated DESFire state file")
            card = cls(state["product"], uid=bytes.fromhex(state["uid"]), random_uid=bool(state["random_uid"]))
            card._apply_state(state)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"cannot read card state file {os.fspath(path)}: {exc}") from exc
        return card

    def app(self, aid: bytes) -> Application:
        return self.apps[aid]

    @property
    def authenticated_key(self) -> int | None:
        return self._session.key_no if self._session is not None else None

    # ----------------------------------------------------------------- session
    def _reset_session(self) -> None:
        """A field reset: PICC level selected, nothing authenticated, no transaction, a new random ID."""
        self._selected: bytes = PICC_AID
        self._session: dc.Ev2Session | None = None
        self._auth_pending: tuple[str, int, bytes, bytes] | None = None  # kind, key no, key, RndB
        self._more: list[bytes] = []  # further GetVersion frames
        self._tx = Transaction()
        self._reader_uid = b"\x08" + os.urandom(3) if self.random_uid else self.uid

    def _drop_auth(self) -> None:
        self._session = None
        self._auth_pending = None

    # ----------------------------------------------------------------- APDU level
    def _tears_on(self, apdu: bytes) -> bool:
        return apdu[:1] != b"\xff"  # reader pseudo-APDUs are not card commands

    def _tear_effect(self, apdu: bytes) -> None:
        if self._tear_executed:  # the card ran the command, the answer never reached the reader
            self._dispatch(apdu)

    def _dispatch(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return b"\x67\x00"
        if apdu[0] == 0xFF:
            if apdu[1] == 0xCA and apdu[2:4] == b"\x00\x00":
                return self._reader_uid + SW_OK
            return b"\x6a\x81"
        if apdu[0] != 0x90:
            return b"\x6e\x00"
        ins = apdu[1]
        if len(apdu) == 5:
            data = b""
        elif len(apdu) >= 6 and len(apdu) in (5 + apdu[4], 6 + apdu[4]):
            data = apdu[5 : 5 + apdu[4]]
        else:
            return b"\x67\x00"
        try:
            code, body = self._native(ins, data)
        except CardStatus as status:
            self._drop_auth()
            return bytes([0x91, status.code])
        except dc.SecureMessagingError:
            self._drop_auth()
            return b"\x91\x1e"
        return body + bytes([0x91, code])
