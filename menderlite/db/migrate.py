"""Alembic, driven from code: `menderlite migrate`, `serve` and the tests call `upgrade()`.

Every start of `serve` upgrades the database. When it is already at the head, which is every start but the
first after an upgrade of menderlite, that is found out without importing Alembic (and Mako, and Pygments):
the head is read from the revision scripts' text and compared with the `alembic_version` table. This keeps
~0.3 s and ~10 MiB off every start (bench/ measures both).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import migrations

if TYPE_CHECKING:
    from alembic.config import Config

_REVISION = re.compile(r"^revision\b[^=\n]*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=\n]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def migrations_dir() -> Path:
    return Path(migrations.__file__).resolve().parent


def sync_url(database_path: Path) -> str:
    return f"sqlite:///{database_path}"


def alembic_config(database_path: Path) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", sync_url(database_path))
    config.attributes["configure_logger"] = False
    return config


def upgrade(database_path: Path) -> None:
    database_path.parent.mkdir(parents=True, exist_ok=True)
    if _already_at_head(database_path):
        return
    from alembic import command

    command.upgrade(alembic_config(database_path), "head")


def current_revision(database_path: Path) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(sync_url(database_path))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(Path("unused.db"))).get_current_head()


def is_up_to_date(database_path: Path) -> bool:
    return database_path.exists() and current_revision(database_path) == head_revision()


def script_heads() -> set[str]:
    """The head revision(s) as the scripts' text declares them (Alembic's own answer is `head_revision()`;
    tests/test_migrations.py checks that the two agree)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted((migrations_dir() / "versions").glob("*.py")):
        text = script.read_text()
        revision = _REVISION.search(text)
        if revision is None:
            continue
        revisions.add(revision.group(1))
        down = _DOWN_REVISION.search(text)
        if down is not None:
            parents.update(_QUOTED.findall(down.group(1)))
    return revisions - parents


def _stored_revisions(database_path: Path) -> set[str] | None:
    if not database_path.exists():
        return None
    try:
        connection = sqlite3.connect(f"file:{database_path}?mode=ro", uri=True)
        try:
            return {row[0] for row in connection.execute("SELECT version_num FROM alembic_version")}
        finally:
            connection.close()
    except sqlite3.Error:
        return None  # no version table yet, or anything unusual: let Alembic look


def _already_at_head(database_path: Path) -> bool:
    stored = _stored_revisions(database_path)
    return bool(stored) and stored == script_heads()
