"""SQLite's query plans for statements on the migrated schema, for tests that prove a query uses an index."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Select
from sqlalchemy.dialects import sqlite

from menderlite.db import migrate


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """A migrated, empty database (one per test module)."""
    path = tmp_path_factory.mktemp("plans") / "plans.db"
    migrate.upgrade(Path(path))
    connection = sqlite3.connect(path)
    yield connection
    connection.close()


def plan(connection: sqlite3.Connection, statement: Select) -> str:  # type: ignore[type-arg]
    """The EXPLAIN QUERY PLAN lines of `statement`, its parameters inlined."""
    sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    return "\n".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}"))
