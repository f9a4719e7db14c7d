"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from menderlite.db import migrate
from menderlite.db.models import metadata


def test_migration_head_matches_the_models(tmp_path: Path) -> None:
    database = tmp_path / "fresh.db"
    migrate.upgrade(database)
    engine = create_engine(migrate.sync_url(database))
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []


def test_upgrade_is_idempotent_and_reaches_head(tmp_path: Path) -> None:
    database = tmp_path / "twice.db"
    migrate.upgrade(database)
    migrate.upgrade(database)
    assert migrate.is_up_to_date(database)


def test_every_table_has_a_tenant_column(tmp_path: Path) -> None:
    database = tmp_path / "tenants.db"
    migrate.upgrade(database)
    engine = create_engine(migrate.sync_url(database))
    inspector = inspect(engine)
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        columns = {column["name"] for column in inspector.get_columns(table)}
        assert "tenant_id" in columns, f"table {table} has no tenant_id"
    engine.dispose()


def test_the_start_up_shortcut_reads_the_same_head_as_alembic(tmp_path: Path) -> None:
    assert migrate.script_heads() == {migrate.head_revision()}


def test_a_database_behind_the_head_is_upgraded(tmp_path: Path) -> None:
    from alembic import command

    database = tmp_path / "behind.db"
    command.upgrade(migrate.alembic_config(database), "0001")
    assert not migrate.is_up_to_date(database)
    migrate.upgrade(database)
    assert migrate.is_up_to_date(database)
