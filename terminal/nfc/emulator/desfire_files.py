"""What a DESFire EV2/EV3 holds: applications, keys and files, with the card's transaction rules.

Pure data with the rules the data sheet gives each file type (MF3DHx2/x3 and
the public EV1 protocol description): value files keep their value between
a lower and an upper limit, limited credit is bounded by the debits of the
last committed transaction, a cyclic record file keeps its newest
`max_records - 1` records, and every change to a value or record file is
staged until CommitTransaction (AbortTransaction, a new selection or leaving
the field drops it). Standard data files are written at once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

FREE = 0xE
NEVER = 0xF

# DESFire status codes (the second status byte after 91).
OK = 0x00
NO_CHANGES = 0x0C
ILLEGAL_COMMAND = 0x1C
INTEGRITY_ERROR = 0x1E
NO_SUCH_KEY = 0x40
LENGTH_ERROR = 0x7E
PERMISSION_DENIED = 0x9D
PARAMETER_ERROR = 0x9E
APPLICATION_NOT_FOUND = 0xA0
AUTHENTICATION_ERROR = 0xAE
ADDITIONAL_FRAME = 0xAF
BOUNDARY_ERROR = 0xBE
COMMAND_ABORTED = 0xCA
DUPLICATE_ERROR = 0xDE
FILE_NOT_FOUND = 0xF0

# communication modes of a file (plain, CMAC'd, enciphered)
PLAIN, MAC, FULL = 0x00, 0x01, 0x03


def u24(raw: bytes) -> int:
    """DESFire's 3-byte little-endian sizes and offsets."""
    return int.from_bytes(raw, "little")


class CardStatus(Exception):
    """A DESFire error answer (status byte `code`)."""

    def __init__(self, code: int, why: str = "") -> None:
        super().__init__(f"{code:02X} {why}")
        self.code = code


@dataclass
class Access:
    """Access rights: key numbers (0-13), FREE (E) or NEVER (F) for read, write, read&write, change."""

    read: int
    write: int
    read_write: int
    change: int

    @classmethod
    def decode(cls, raw: bytes) -> Access:
        word = int.from_bytes(raw, "little")
        return cls((word >> 12) & 0xF, (word >> 8) & 0xF, (word >> 4) & 0xF, word & 0xF)

    def encode(self) -> bytes:
        word = self.read << 12 | self.write << 8 | self.read_write << 4 | self.change
        return word.to_bytes(2, "little")

    def allows(self, rights: tuple[str, ...], key_no: int | None) -> str | None:
        """Which of `rights` admits this session ('free' for FREE access), or None."""
        for name in rights:
            value = getattr(self, name)
            if value == FREE:
                return "free"
            if key_no is not None and value == key_no:
                return name
        return None


@dataclass
class StdFile:
    comm: int
    access: Access
    data: bytearray
    kind: str = "std"


@dataclass
class ValueFile:
    comm: int
    access: Access
    lower: int
    upper: int
    value: int
    limited_credit: bool
    limited_allowance: int = 0  # sum of the debits of the last committed transaction with debits
    kind: str = "value"


@dataclass
class RecordFile:
    comm: int
    access: Access
    record_size: int
    max_records: int
    records: list[bytes] = field(default_factory=list)  # oldest first
    kind: str = "cyclic"


AnyFile = StdFile | ValueFile | RecordFile


@dataclass
class Application:
    key_settings: int
    key_count: int
    keys: list[bytes]
    key_versions: list[int]
    files: dict[int, AnyFile] = field(default_factory=dict)

    @classmethod
    def new(cls, key_settings: int, key_count: int) -> Application:
        return cls(key_settings, key_count, [bytes(16)] * key_count, [0] * key_count)

    @property
    def change_key_access(self) -> int:
        return self.key_settings >> 4


class Transaction:
    """Staged changes to value and record files of the selected application."""

    def __init__(self) -> None:
        self.staged: dict[int, ValueFile | RecordFile] = {}
        self.debited: dict[int, int] = {}
        self.limited: set[int] = set()
        self.new_record: set[int] = set()  # record files that got their new record in this transaction

    def view(self, app: Application, file_no: int) -> AnyFile:
        return self.staged.get(file_no) or app.files[file_no]

    def stage(self, app: Application, file_no: int) -> Any:
        if file_no not in self.staged:
            original = app.files[file_no]
            assert not isinstance(original, StdFile)
            self.staged[file_no] = copy.deepcopy(original)
        return self.staged[file_no]

    def commit(self, app: Application) -> bool:
        if not self.staged:
            return False
        for file_no, staged in self.staged.items():
            if isinstance(staged, ValueFile):
                if file_no in self.debited:
                    staged.limited_allowance = self.debited[file_no]
                elif file_no in self.limited:
                    staged.limited_allowance = 0
            app.files[file_no] = staged
        self.__init__()  # type: ignore[misc]
        return True


def file_to_json(f: AnyFile) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": f.kind, "comm": f.comm, "access": f.access.encode().hex()}
    if isinstance(f, StdFile):
        out["data"] = bytes(f.data).hex()
    elif isinstance(f, ValueFile):
        out.update(lower=f.lower, upper=f.upper, value=f.value, limited_credit=f.limited_credit,
                   limited_allowance=f.limited_allowance)
    else:
        out.update(record_size=f.record_size, max_records=f.max_records, records=[r.hex() for r in f.records])
    return out


def file_from_json(raw: dict[str, Any]) -> AnyFile:
    access = Access.decode(bytes.fromhex(raw["access"]))
    comm = int(raw["comm"])
    if raw["kind"] == "std":
        return StdFile(comm, access, bytearray(bytes.fromhex(raw["data"])))
    if raw["kind"] == "value":
        return ValueFile(comm, access, int(raw["lower"]), int(raw["upper"]), int(raw["value"]),
                         bool(raw["limited_credit"]), int(raw["limited_allowance"]))
    if raw["kind"] == "cyclic":
        return RecordFile(comm, access, int(raw["record_size"]), int(raw["max_records"]),
                          [bytes.fromhex(r) for r in raw["records"]])
    raise ValueError(f"unknown file kind {raw['kind']!r}")


def app_to_json(app: Application) -> dict[str, Any]:
    return {"key_settings": app.key_settings, "key_count": app.key_count, "keys": [k.hex() for k in app.keys],
            "key_versions": app.key_versions,
            "files": {str(n): file_to_json(f) for n, f in sorted(app.files.items())}}


def app_from_json(raw: dict[str, Any]) -> Application:
    return Application(int(raw["key_settings"]), int(raw["key_count"]), [bytes.fromhex(k) for k in raw["keys"]],
                       [int(v) for v in raw["key_versions"]],
                       {int(n): file_from_json(f) for n, f in raw["files"].items()})
