"""DESFire file access commands of the emulator: data, value and record files, and the transaction.

A mixin of `CommandSet`: each command checks the file, the session's access
right on it (key number, or FREE), unwraps the command in the file's
communication mode (plain when the right used is FREE) and stages value and
record changes in the transaction until CommitTransaction.
"""

from __future__ import annotations

from terminal.nfc import desfire_crypto as dc
from terminal.nfc.emulator.desfire_files import (
    AUTHENTICATION_ERROR,
    BOUNDARY_ERROR,
    FILE_NOT_FOUND,
    LENGTH_ERROR,
    PARAMETER_ERROR,
    PERMISSION_DENIED,
    PLAIN,
    AnyFile,
    Application,
    CardStatus,
    RecordFile,
    StdFile,
    Transaction,
    ValueFile,
    u24,
)


class FileCommands:
    """Provided by `CommandSet`: the selected application, the session, the transaction, secure messaging."""

    _session: dc.Ev2Session | None
    _tx: Transaction

    def _app(self) -> Application:
        raise NotImplementedError

    def _unwrap(self, ins: int, data: bytes, header_len: int, mode: int) -> bytes:
        raise NotImplementedError

    def _wrap(self, body: bytes, mode: int) -> tuple[int, bytes]:
        raise NotImplementedError

    def _session_mode(self) -> int:
        raise NotImplementedError

    def _file_command(self, ins: int, data: bytes, header_len: int, rights: tuple[str, ...],
                      kind: type) -> tuple[bytes, AnyFile, int]:
        """Check the file and the session's right on it; returns (plain command data, file, mode)."""
        app = self._app()
        if not data:
            raise CardStatus(LENGTH_ERROR)
        f = app.files.get(data[0])
        if f is None:
            raise CardStatus(FILE_NOT_FOUND)
        if not isinstance(f, kind):
            raise CardStatus(PARAMETER_ERROR, "wrong file type")
        key_no = self._session.key_no if self._session is not None else None
        right = f.access.allows(rights, key_no)
        if right is None:
            raise CardStatus(AUTHENTICATION_ERROR if key_no is None else PERMISSION_DENIED, "access rights")
        mode = PLAIN if right == "free" else f.comm
        plain = self._unwrap(ins, data, header_len, mode)
        if len(plain) < header_len:
            raise CardStatus(LENGTH_ERROR)
        return plain, f, mode

    def _read_data(self, data: bytes) -> tuple[int, bytes]:
        plain, f, mode = self._file_command(0xBD, data, 7, ("read", "read_write"), StdFile)
        assert isinstance(f, StdFile)
        offset, length = u24(plain[1:4]), u24(plain[4:7]) or len(f.data) - u24(plain[1:4])
        if offset + length > len(f.data) or length <= 0:
            raise CardStatus(BOUNDARY_ERROR)
        return self._wrap(bytes(f.data[offset:offset + length]), mode)

    def _write_data(self, data: bytes) -> tuple[int, bytes]:
        plain, f, mode = self._file_command(0x3D, data, 7, ("write", "read_write"), StdFile)
        assert isinstance(f, StdFile)
        offset, length, body = u24(plain[1:4]), u24(plain[4:7]), plain[7:]
        if len(body) != length or offset + length > len(f.data):
            raise CardStatus(BOUNDARY_ERROR)
        f.data[offset:offset + length] = body
        return self._wrap(b"", mode)

    def _get_value(self, data: bytes) -> tuple[int, bytes]:
        _plain, f, mode = self._file_command(0x6C, data, 1, ("read", "write", "read_write"), ValueFile)
        assert isinstance(f, ValueFile)
        return self._wrap(f.value.to_bytes(4, "little", signed=True), mode)

    def _value_change(self, ins: int, data: bytes, rights: tuple[str, ...]) -> tuple[ValueFile, int, int]:
        plain, _f, mode = self._file_command(ins, data, 1, rights, ValueFile)
        if len(plain) != 5:
            raise CardStatus(LENGTH_ERROR)
        amount = int.from_bytes(plain[1:5], "little", signed=True)
        if amount < 0:
            raise CardStatus(PARAMETER_ERROR, "negative amount")
        staged = self._tx.stage(self._app(), plain[0])
        return staged, amount, mode

    def _credit(self, data: bytes) -> tuple[int, bytes]:
        f, amount, mode = self._value_change(0x0C, data, ("read_write",))
        if f.value + amount > f.upper:
            raise CardStatus(BOUNDARY_ERROR, "above the upper limit")
        f.value += amount
        return self._wrap(b"", mode)

    def _debit(self, data: bytes) -> tuple[int, bytes]:
        f, amount, mode = self._value_change(0xDC, data, ("read", "write", "read_write"))
        if f.value - amount < f.lower:
            raise CardStatus(BOUNDARY_ERROR, "below the lower limit")
        f.value -= amount
        self._tx.debited[data[0]] = self._tx.debited.get(data[0], 0) + amount
        return self._wrap(b"", mode)

    def _limited_credit(self, data: bytes) -> tuple[int, bytes]:
        committed = self._app().files.get(data[0] if data else -1)
        f, amount, mode = self._value_change(0x1C, data, ("write", "read_write"))
        assert isinstance(committed, ValueFile)
        if not f.limited_credit:
            raise CardStatus(PERMISSION_DENIED, "limited credit disabled")
        if amount > committed.limited_allowance or data[0] in self._tx.limited or data[0] in self._tx.debited:
            raise CardStatus(BOUNDARY_ERROR, "more than the last debit")
        if f.value + amount > f.upper:
            raise CardStatus(BOUNDARY_ERROR, "above the upper limit")
        f.value += amount
        self._tx.limited.add(data[0])
        return self._wrap(b"", mode)

    def _read_records(self, data: bytes) -> tuple[int, bytes]:
        plain, f, mode = self._file_command(0xBB, data, 7, ("read", "read_write"), RecordFile)
        assert isinstance(f, RecordFile)
        newest_first, count, n = u24(plain[1:4]), u24(plain[4:7]), len(f.records)
        count = count or n - newest_first
        if n == 0 or count <= 0 or newest_first + count > n:
            raise CardStatus(BOUNDARY_ERROR, "no such records")
        chosen = f.records[n - newest_first - count : n - newest_first]  # oldest first
        return self._wrap(b"".join(chosen), mode)

    def _write_record(self, data: bytes) -> tuple[int, bytes]:
        plain, _f, mode = self._file_command(0x3B, data, 7, ("write", "read_write"), RecordFile)
        file_no, offset, length, body = plain[0], u24(plain[1:4]), u24(plain[4:7]), plain[7:]
        staged = self._tx.stage(self._app(), file_no)
        assert isinstance(staged, RecordFile)
        if len(body) != length or length == 0 or offset + length > staged.record_size:
            raise CardStatus(BOUNDARY_ERROR)
        if file_no not in self._tx.new_record:
            self._tx.new_record.add(file_no)
            staged.records.append(bytes(staged.record_size))
            del staged.records[: max(0, len(staged.records) - (staged.max_records - 1))]
        record = bytearray(staged.records[-1])
        record[offset:offset + length] = body
        staged.records[-1] = bytes(record)
        return self._wrap(b"", mode)

    def _commit(self, data: bytes) -> tuple[int, bytes]:
        app = self._app()
        mode = self._session_mode()
        self._unwrap(0xC7, data, 0, mode)
        self._tx.commit(app)
        return self._wrap(b"", mode)

    def _abort(self, data: bytes) -> tuple[int, bytes]:
        self._app()
        mode = self._session_mode()
        self._unwrap(0xA7, data, 0, mode)
        self._tx = Transaction()
        return self._wrap(b"", mode)
