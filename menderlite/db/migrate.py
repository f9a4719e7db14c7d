"""Alembic, driven from code: `menderlite migrate`, `serve` and the tests call `upgrade()`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import migrations


def migrations_dir() -> Path:
    return Path(migrations.__file__).resolve().parent


def sync_url(database_path: Path) -> str:
    return f"sqlite:///{database_path}"


def alembic_config(database_path: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", sync_url(database_path))
    config.attributes["configure_logger"] = False
    return config


def upgrade(database_path: Path) -> None:
    database_path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_path), "head")


def current_revision(database_path: Path) -> str | None:
    engine = create_engine(sync_url(database_path))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config(Path("unused.db"))).get_current_head()


def is_up_to_date(database_path: Path) -> bool:
    return database_path.exists() and current_revision(database_path) == head_revision()
