"""Declarative base shared by every service's models, and the column types they have in common."""

from __future__ import annotations

import itertools
import secrets
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names keep Alembic autogenerate and batch migrations (SQLite) predictable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones: store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use menderlite.db.base.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


_object_id_counter = itertools.count(secrets.randbelow(1 << 24))


def new_object_id() -> str:
    """24 hex digits shaped like a MongoDB ObjectId (the ids of tenants and workflow jobs in Mender):
    seconds, 5 random bytes, a counter."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(5)}{next(_object_id_counter) & 0xFFFFFF:06x}"


def tenant_column() -> Mapped[str]:
    """Every table holding tenant data has one; the default tenant is the empty string."""
    return mapped_column(String(64), nullable=False, default="", index=True)
