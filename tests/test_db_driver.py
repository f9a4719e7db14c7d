"""The SQLite driver (menderlite.db.driver): one round trip per statement, BEGIN sent with the first statement,
no round trip for empty transactions or for the pool's rollback after a commit; transactions still behave."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from menderlite.db import Database, driver


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database(tmp_path / "driver.db")
    async with database.write() as session:
        await session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
    async with database.read() as session:  # opens a read connection (its set-up is not counted below)
        await session.execute(text("SELECT 1"))
    yield database
    await database.close()


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = driver.aiosqlite.Connection._execute

    async def counting(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(driver.aiosqlite.Connection, "_execute", counting)
    return calls


async def test_a_write_costs_its_statements_and_the_commit(db: Database, round_trips: list[str]) -> None:
    async with db.write() as session:
        await session.execute(text("INSERT INTO items (name) VALUES ('a')"))
        await session.execute(text("INSERT INTO items (name) VALUES ('b')"))
    assert round_trips == ["_run", "_run", "commit"]  # BEGIN IMMEDIATE went with the first INSERT
    round_trips.clear()
    async with db.read() as session:
        names = (await session.execute(text("SELECT name FROM items ORDER BY id"))).scalars().all()
    assert names == ["a", "b"]
    assert round_trips == ["_run", "commit"]


async def test_an_empty_transaction_costs_nothing(db: Database, round_trips: list[str]) -> None:
    async with db.write():
        pass
    async with db.read():
        pass
    assert round_trips == []


async def test_a_failed_write_is_rolled_back(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.write() as session:
            await session.execute(text("INSERT INTO items (name) VALUES ('lost')"))
            raise RuntimeError("the handler failed")
    async with db.write() as session:  # the write lock and the connection are usable again
        await session.execute(text("INSERT INTO items (name) VALUES ('kept')"))
    async with db.read() as session:
        assert (await session.execute(text("SELECT name FROM items"))).scalars().all() == ["kept"]


async def test_rows_are_fetched_in_one_go_and_served_in_order(db: Database) -> None:
    async with db.write() as session:
        for number in range(25):
            await session.execute(text("INSERT INTO items (name) VALUES (:name)"), {"name": f"n{number:02d}"})
    async with db.read() as session:
        result = await session.execute(text("SELECT name FROM items ORDER BY name"))
        assert result.fetchone() == ("n00",)
        assert [row[0] for row in result.fetchmany(3)] == ["n01", "n02", "n03"]
        assert len(result.fetchall()) == 21
        assert (await session.execute(text("SELECT count(*) FROM items WHERE name > 'n20'"))).scalar() == 4
    async with db.write() as session:
        updated = await session.execute(text("UPDATE items SET name = name || '!' WHERE name < 'n05'"))
        assert updated.rowcount == 5
