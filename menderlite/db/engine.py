"""The async engine, SQLite's settings, and the single write path.

SQLite allows one writer at a time. Inside this process every write goes through `Database.write()`, which
holds an asyncio lock and a dedicated connection and opens its transaction with BEGIN IMMEDIATE, so a
concurrent request waits its turn instead of failing with "database is locked". Another process writing the
same file (the `menderlite user` CLI while the server runs) is covered by SQLite's busy timeout. Reads use a
separate pool and never block on writes (WAL).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool

from menderlite.db import driver
from menderlite.regex import try_compile

log = logging.getLogger(__name__)

AFTER_COMMIT = "menderlite.after_commit"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Leave transaction control to SQLAlchemy's "begin" event below, not to the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-16000")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    return on_connect


def _begin_with(statement: str) -> Callable[[Connection], None]:
    def on_begin(connection: Connection) -> None:
        # Sent with the transaction's first statement, in the same round trip to the connection's thread.
        connection.connection.driver_connection.defer_begin(statement)  # type: ignore[union-attr]

    return on_begin


def register_sqlite_functions(dbapi_connection: Any, _record: Any) -> None:
    """Custom SQL functions (e.g. REGEXP) are registered here, in one place; services add theirs via hooks."""
    for hook in SQLITE_FUNCTION_HOOKS:
        hook(dbapi_connection)


def sql_regexp(pattern: str | None, value: object) -> bool | None:
    """`value REGEXP pattern` (search semantics, like PostgreSQL's `~`; RE2, so linear time); a bad pattern
    matches nothing."""
    if pattern is None or value is None:
        return None
    if not isinstance(value, str):
        return False
    compiled = try_compile(pattern)
    return compiled is not None and compiled.search(value) is not None


def register_regexp(dbapi_connection: Any) -> None:
    """REGEXP for `ColumnOperators.regexp_match` (inventory `$regex`), with compiled patterns cached."""
    dbapi_connection.create_function("regexp", 2, sql_regexp, deterministic=True)


SQLITE_FUNCTION_HOOKS: list[Callable[[Any], None]] = [register_regexp]


def create_sqlite_engine(path: Path, *, pool_size: int, busy_timeout_ms: int, begin: str) -> AsyncEngine:
    engine = create_async_engine(
        sqlite_url(path),
        # aiosqlite's connection with cursors that cost one thread round trip per statement (see driver.py)
        async_creator=driver.connector(str(path), check_same_thread=False),
        poolclass=AsyncAdaptedQueuePool,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=300,
        pool_pre_ping=False,
    )
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas(busy_timeout_ms))
    event.listen(engine.sync_engine, "connect", register_sqlite_functions)
    event.listen(engine.sync_engine, "begin", _begin_with(begin))
    return engine


class Database:
    """Read pool plus one serialized writer over the same SQLite file."""

    def __init__(self, path: Path, *, read_connections: int = 4, busy_timeout_ms: int = 10000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.read_engine = create_sqlite_engine(
            path, pool_size=read_connections, busy_timeout_ms=busy_timeout_ms, begin="BEGIN"
        )
        self.write_engine = create_sqlite_engine(
            path, pool_size=1, busy_timeout_ms=busy_timeout_ms, begin="BEGIN IMMEDIATE"
        )
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False, autoflush=False)
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False, autoflush=False)
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries; its snapshot is consistent for the duration of the block."""
        async with self._read_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """The one write path: a serialized transaction, committed when the block ends without error.

        Callbacks registered with `after_commit(session, fn)` run once the commit succeeded (cache
        invalidation, notifications); they are dropped on rollback.
        """
        async with self._write_lock, self._write_sessions() as session:
            async with session.begin():
                yield session
            callbacks = session.info.pop(AFTER_COMMIT, [])
        for callback in callbacks:
            try:
                result = callback()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # a failed side effect must not undo or hide a committed write
                log.exception("after-commit callback failed")

    async def ping(self) -> None:
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.read_engine.dispose()
        async with self._write_lock:
            await self.write_engine.dispose()


def after_commit(session: AsyncSession, callback: Callable[[], Any]) -> None:
    """Run `callback` (sync or async) after the write transaction of `session` commits."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)
