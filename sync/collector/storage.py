"""Collector storage: one small interface over SQLite (a file, nothing to install) and PostgreSQL (a DSN).

SQL is written once with `?` placeholders and portable types; the PostgreSQL
backend rewrites placeholders. Schema changes are numbered migrations applied in
order and recorded in `schema_migrations`, the same for both databases.

Bulk loads into PostgreSQL can also arrive ready-made as COPY text
(`encode_copy_text`): ingest builds that text in its worker processes, so the
collector process only passes bytes through instead of converting every value.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from sync.collector.migrations import MIGRATIONS


class StoreError(Exception):
    pass


COPY_NULL = "\\N"
_COPY_UNESCAPE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPED = re.compile(r"\\(.)", re.S)


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_field(value: Any) -> str:
    if value is None:
        return COPY_NULL
    if type(value) is str:
        return _copy_escape(value)
    if isinstance(value, int):
        return int.__repr__(value)  # bool as 1/0, like the SQLite driver stores it
    raise StoreError(f"cannot bulk-load a value of type {type(value).__name__}")


def _copy_column(column: Sequence[Any]) -> Sequence[str]:
    """One column as COPY text fields; whole-column fast paths, since a column is nearly always one plain type."""
    try:
        joined = "".join(column)
    except TypeError:  # not all text
        first = column[0]  # one value throughout: a batch's terminal, a flag, all NULL (1.0 == 1: types too)
        if (first == column[-1] and column.count(first) == len(column)  # first == last: cheap, and rarely so
                and set(map(type, column)) == {type(first)}):
            return [_copy_field(first)] * len(column)
        try:
            return list(map(int.__repr__, column))
        except TypeError:  # NULLs, or mixed
            pass
        try:  # text and NULLs (a method, an operator)
            joined = "".join(filter(None, column))
        except TypeError:
            return [_copy_field(v) for v in column]
        if not _needs_escape(joined) and set(map(type, column)) == {str, type(None)}:
            return [COPY_NULL if v is None else v for v in column]
        return [_copy_field(v) for v in column]
    if _needs_escape(joined):
        return [_copy_escape(v) for v in column]
    return column


def _needs_escape(text: str) -> bool:
    return "\\" in text or "\t" in text or "\n" in text or "\r" in text


def encode_copy_text(columns: Sequence[Sequence[Any]]) -> bytes:
    """Rows, given column by column (int, str or None values), as PostgreSQL COPY text format in UTF-8: one line per
    row, tab-separated, NULL as \\N, backslash, tab, newline and carriage return escaped. PostgreSQL text cannot hold
    NUL characters; a value with one is refused by the server when loaded."""
    if not columns or not columns[0]:
        return b""
    fields = [_copy_column(c) for c in columns]
    return ("\n".join(map("\t".join, zip(*fields, strict=True))) + "\n").encode()


def _copy_unescape(field: str) -> str:
    return _COPY_ESCAPED.sub(lambda m: _COPY_UNESCAPE.get(m.group(1), m.group(1)), field)


def decode_copy_text(data: bytes, int_columns: Container[int] = ()) -> list[tuple]:
    """The rows of `encode_copy_text` output back (columns whose index is in `int_columns` as integers)."""
    rows = []
    for line in data.decode().split("\n")[:-1]:
        row: list[Any] = []
        for i, field in enumerate(line.split("\t")):
            if field == COPY_NULL:
                row.append(None)
            elif i in int_columns:
                row.append(int(field))
            else:
                row.append(_copy_unescape(field) if "\\" in field else field)
        rows.append(tuple(row))
    return rows


def _sums_sql(table: str, keys: Sequence[str], values: Sequence[str], source: str) -> str:
    update = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values)
    return (f"INSERT INTO {table} ({', '.join((*keys, *values))}) {source} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}")


def is_dsn(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://")) or bool(re.match(r"^\s*\w+=", target))


class Store:
    """A connection with `query`, `execute`, `executemany`, `transaction` and `copy_rows`."""

    dialect: str = ""
    copy_text: bool = False  # whether `load_copy_text` is available (bulk loads as `encode_copy_text` output)
    target: str | None = None  # what `open_store` opened (a path or DSN): event_registry puts events beside it
    # an erasure happened inside a transaction: scrub once it is over (sync.collector.face_gallery)
    scrub_pending: bool = False

    def in_transaction(self) -> bool:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def query_in(self, sql: str, values: Sequence[Any], size: int = 500) -> list[dict[str, Any]]:
        """`sql` with `{marks}` where an IN list's placeholders go, run once per `size` values (SQLite takes at most
        32766 parameters per statement): the rows of every run, in order."""
        rows: list[dict[str, Any]] = []
        for at in range(0, len(values), size):
            part = values[at:at + size]
            rows += self.query(sql.format(marks=", ".join("?" * len(part))), part)
        return rows

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return next(iter(rows[0].values())) if rows else None

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[None]:
        """One transaction (nested calls join the outer one). `durable` False: its commit need not wait for the
        disk (PostgreSQL `synchronous_commit = off`); a crash of the database server may then lose it (never part
        of it), and the next durable commit puts it on disk with its own. SQLite commits in WAL mode with
        synchronous=NORMAL, which is that already."""
        raise NotImplementedError
        yield

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """Statements whose results nobody reads (inserts, updates) sent together: PostgreSQL's pipeline mode, one
        round trip for all of them; errors are raised at the end of the block at the latest. SQLite: as they come."""
        yield

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Bulk insert; PostgreSQL uses COPY, SQLite a prepared executemany."""
        cols = ", ".join(columns)
        self.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})", rows)

    def load_copy_text(self, table: str, columns: Sequence[str], chunks: Iterable[bytes]) -> None:
        """Bulk insert rows already encoded by `encode_copy_text` (only where `copy_text` is true)."""
        raise StoreError(f"{self.dialect} has no COPY: bulk-load rows with copy_rows")

    def add_sums(self, table: str, keys: Sequence[str], values: Sequence[str], sums: dict[tuple, list[int]]) -> None:
        """Fold running sums (key tuple -> values, in `keys` and `values` column order) into `table`, whose primary
        key is `keys`: new keys are inserted, existing ones get the values added. SQLite: a prepared upsert per
        key (C-level `executemany`)."""
        if sums:
            self.executemany(_sums_sql(table, keys, values, f"VALUES ({', '.join('?' * (len(keys) + len(values)))})"),
                             [(*k, *v) for k, v in sums.items()])

    def lock_terminal(self, terminal_id: int) -> None:
        """Serialise ingest per terminal inside a transaction (SQLite already serialises writers)."""

    def lock_terminals(self, terminal_ids: Sequence[int]) -> None:
        """`lock_terminal` for each, in the order given (callers sort them, so that two ingests cannot deadlock)."""
        for tid in terminal_ids:
            self.lock_terminal(tid)

    def close(self) -> None:
        raise NotImplementedError

    def migrate(self) -> int:
        """Apply missing migrations; returns how many were applied."""
        self.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
        done = {r["version"] for r in self.query("SELECT version FROM schema_migrations")}
        applied = 0
        for version, statements in MIGRATIONS:
            if version in done:
                continue
            with self.transaction():
                for stmt in statements:
                    if callable(stmt):  # a step SQL cannot express portably (e.g. a backfill parsing JSON)
                        stmt(self)
                        continue
                    self.execute(stmt.replace("{blob}", "BYTEA" if self.dialect == "postgresql" else "BLOB"))
                self.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, CURRENT_TIMESTAMP)",
                             [version])
            applied += 1
        return applied


class SQLiteStore(Store):
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            from sync.format.private_files import private_sqlite

            private_sqlite(path)  # the books, pairing codes and terminal keys: the owner's alone
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise StoreError(f"{path} is not a collector database ({exc})") from None
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA secure_delete=ON")  # erased templates and phone digests leave no free-page copy
        self._lock = threading.RLock()
        self._depth = 0

    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.conn.execute(sql, list(params)).fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            return self.conn.execute(sql, list(params)).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._lock:
            self.conn.executemany(sql, rows)

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    def close(self) -> None:
        self.conn.close()


class PostgresStore(Store):
    dialect = "postgresql"
    copy_text = True

    def __init__(self, dsn: str) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:  # pragma: no cover - psycopg is a dependency
            raise StoreError("PostgreSQL support needs psycopg (pip install 'psycopg[binary]')") from None
        try:
            self.conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {str(exc).strip().splitlines()[0]}") from None
        # JIT compiling costs a quarter of a second per report query and saves nothing on these plans
        self.conn.execute("SET jit = off")
        self._lock = threading.RLock()
        self._depth = 0
        self._tx: Any = None

    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.conn.info.transaction_status != TransactionStatus.IDLE

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock, self.conn.cursor() as cur:
            cur.execute(self._sql(sql), list(params))
            return list(cur.fetchall()) if cur.description else []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock, self.conn.cursor() as cur:
            cur.execute(self._sql(sql), list(params))
            return cur.rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._lock, self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[None]:
        with self._lock, self.conn.transaction():
            if not durable and self._depth == 0:
                self.conn.execute("SET LOCAL synchronous_commit = off")
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        with self._lock, self.conn.pipeline():
            yield

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        with self._lock, self.conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)

    def load_copy_text(self, table: str, columns: Sequence[str], chunks: Iterable[bytes]) -> None:
        encoding = self.conn.info.encoding
        with self._lock, self.conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
            for chunk in chunks:  # the text is UTF-8; a connection in another encoding gets it transcoded
                cp.write(chunk if encoding == "utf-8" else chunk.decode().encode(encoding))

    def add_sums(self, table: str, keys: Sequence[str], values: Sequence[str], sums: dict[tuple, list[int]]) -> None:
        """One statement whatever the number of keys: the rows travel as one JSON text (written by orjson in C,
        taken apart by the server). A per-key `executemany` cost a round of client work per key (130 000 keys for
        200 000 synthetic entries); the same rows as array parameters, psycopg's Python work per element."""
        if not sums:
            return
        rows = [(*k, *v) for k, v in sums.items()]
        # integer columns as BIGINT, the rest as text (the totals tables hold nothing else)
        fields = ", ".join(f"(r->>{i})::bigint" if kinds <= {int} else f"r->>{i}"
                           for i, kinds in enumerate(set(map(type, c)) for c in zip(*rows, strict=True)))
        with self._lock, self.conn.cursor() as cur:
            cur.execute(_sums_sql(table, keys, values, f"SELECT {fields} FROM json_array_elements(%s::json) AS r"),
                        [orjson.dumps(rows).decode()])

    def lock_terminal(self, terminal_id: int) -> None:
        self.execute("SELECT pg_advisory_xact_lock(?)", [int(terminal_id)])

    def lock_terminals(self, terminal_ids: Sequence[int]) -> None:
        self.executemany("SELECT pg_advisory_xact_lock(?)", [[int(t)] for t in terminal_ids])  # one round trip

    def close(self) -> None:
        self.conn.close()


def open_store(target: str | Path, *, migrate: bool = True) -> Store:
    target = str(target)
    store: Store = PostgresStore(target) if is_dsn(target) else SQLiteStore(target)
    store.target = target
    if migrate:
        store.migrate()
    return store
