"""SQLite connections for the async engine that cost one thread round trip per statement.

aiosqlite runs each SQLite connection in a thread of its own and makes every call a round trip to it: a
hand-off through a queue and a wake-up of the event loop. SQLAlchemy's aiosqlite adapter opens a cursor,
executes, fetches the rows and closes the cursor, each a round trip: four per query, three per write. On
the machines this runs on a round trip costs ~50 µs of CPU, more than most of our statements themselves
(bench/: an inventory upload made ~30 of them).

`Connection` is aiosqlite's connection with these changes:
- its cursors execute the statement, fetch every row and close in ONE round trip, and then answer
  `fetchall()`, `fetchone()`, `description`, `rowcount` and `lastrowid` from what they brought back
  (fetching every row at once is what SQLAlchemy's adapter does anyway for ordinary cursors);
- `defer_begin(sql)` keeps a transaction's BEGIN until its first statement and sends both in one round
  trip; a transaction that ran no statement costs no round trip at all (nothing to commit);
- `rollback()` with no transaction open (as the pool does when a connection comes back after a commit)
  costs no round trip.
Everything else (the thread, commit, functions, closing) is aiosqlite's, which SQLAlchemy's dialect drives
as usual (`create_async_engine(..., async_creator=...)`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aiosqlite

_Description = tuple[tuple[Any, ...], ...] | None
_Outcome = tuple[_Description, int, int | None, list[Any]]


def _run(connection: sqlite3.Connection, begin: str | None, sql: str, parameters: Any, many: bool = False) -> _Outcome:
    """In the connection's thread: the transaction's BEGIN if still due, then the whole life of a cursor."""
    if begin is not None:
        connection.execute(begin)
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description is not None else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class PrefetchingCursor:
    """The part of aiosqlite's cursor interface SQLAlchemy uses; `execute` brings back everything."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: _Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []
        self._next = 0

    async def __aenter__(self) -> PrefetchingCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = ()) -> PrefetchingCursor:
        connection = self._connection
        self._take(await connection._execute(_run, connection._conn, connection.take_begin(), sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> PrefetchingCursor:
        connection = self._connection
        self._take(await connection._execute(_run, connection._conn, connection.take_begin(), sql, parameters, True))
        return self

    def _take(self, outcome: _Outcome) -> None:
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        self._next = 0

    async def fetchall(self) -> list[Any]:
        rows = self._rows[self._next :] if self._next else self._rows
        self._rows, self._next = [], 0
        return rows

    async def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        row = self._rows[self._next]
        self._next += 1
        return row

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = self.arraysize if size is None else size
        rows = self._rows[self._next : self._next + count]
        self._next += len(rows)
        return rows

    async def close(self) -> None:
        self._rows, self._next = [], 0

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None


class _CursorContext:
    """What `Connection.cursor()` returns: SQLAlchemy enters it (`__aenter__`) to get the cursor."""

    def __init__(self, connection: Connection) -> None:
        self._cursor = PrefetchingCursor(connection)

    def __await__(self):  # type: ignore[no-untyped-def]
        return self.__aenter__().__await__()

    async def __aenter__(self) -> PrefetchingCursor:
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        await self._cursor.close()


class Connection(aiosqlite.Connection):
    _begin: str | None = None

    def cursor(self) -> _CursorContext:  # type: ignore[override]
        """A cursor made without a round trip (the sqlite3 cursor lives only inside each execute)."""
        return _CursorContext(self)

    def defer_begin(self, sql: str) -> None:
        """Open a transaction with `sql` (e.g. `BEGIN IMMEDIATE`) together with its first statement."""
        self._begin = sql

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        return begin

    async def commit(self) -> None:
        if self.take_begin() is not None:
            return  # the transaction never started: nothing to commit
        await super().commit()

    async def rollback(self) -> None:
        self._begin = None
        if self._connection is not None and not self._connection.in_transaction:
            return  # nothing to roll back (the pool's reset after a commit)
        await super().rollback()


def connector(path: str, **options: Any) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine`: opens `path` in a new connection thread."""

    async def connect() -> Connection:
        connection = Connection(lambda: sqlite3.connect(path, **options), iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy's dialect does for aiosqlite's own connections
        return await connection

    return connect
