"""Tables owned by the inventory service.

A device is a row in `inventory_devices` (its id, group and timestamps: the `system` scope) plus its
attribute values in `inventory_values`. Each value row holds ONE typed value: a scalar attribute has one row
(`element = SCALAR`), an array attribute one row per element (`element = 0..n-1`) and an empty array one
marker row (`element = EMPTY_ARRAY`). Strings and numbers live in separate columns, which makes filters
type-strict and array-aware (any element matches) and lets them use the indexes on
(tenant, attribute, value). Attribute names are interned per tenant in `inventory_attribute_keys`, so the
big table and its indexes carry a small integer instead of the scope and name.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from menderlite.db import Base, tenant_column

# `element` values of rows that are not array elements.
SCALAR = -1
EMPTY_ARRAY = -2

MAX_NAME_LENGTH = 1024

# `AttributeKey.kinds` bits: what the attribute has held on any device (only ever widened).
KIND_STRING = 1
KIND_NUMBER = 2
KIND_MULTI = 4  # an array of two or more elements: several value rows for one device


class InventoryDevice(Base):
    __tablename__ = "inventory_devices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "device_id"),
        # Group listings, group filters and `has_group`; rows within a group come in insertion (pk) order.
        Index("ix_inventory_devices_tenant_group", "tenant_id", "group_name"),
        # Device lists sorted by the system timestamps (the GUI's default): a page is read in index order.
        Index("ix_inventory_devices_tenant_created", "tenant_id", "created_ts"),
        Index("ix_inventory_devices_tenant_updated", "tenant_id", "updated_ts"),
    )

    # Insertion order: the default listing order, and a compact key for the value rows.
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = tenant_column()
    device_id: Mapped[str] = mapped_column(String(1024), nullable=False)
    group_name: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    created_ts: Mapped[datetime] = mapped_column(nullable=False)
    updated_ts: Mapped[datetime] = mapped_column(nullable=False)


class AttributeKey(Base):
    """One row per (tenant, scope, name) ever seen; value rows refer to it by `id`. `kinds` lets queries
    skip what cannot occur (e.g. sort through one join when no device holds an array)."""

    __tablename__ = "inventory_attribute_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "scope", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    scope: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), nullable=False)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), nullable=False)
    kinds: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class AttributeValue(Base):
    """One typed value of a device attribute (see the module docstring for `element`)."""

    __tablename__ = "inventory_values"
    __table_args__ = (
        # String predicates ($eq, $in, ranges, $regex) and $exists (number rows sort under NULL here).
        Index("ix_inventory_values_str", "tenant_id", "attribute_id", "str_value"),
        # Number predicates; only rows that hold a number. (The migration gives PostgreSQL the same partial
        # index; naming its option here would load SQLAlchemy's PostgreSQL dialect, 2 MiB, into every server.)
        Index(
            "ix_inventory_values_num",
            "tenant_id",
            "attribute_id",
            "num_value",
            sqlite_where=text("num_value IS NOT NULL"),
        ),
        # Clustered by device: rendering a device reads one contiguous range.
        {"sqlite_with_rowid": False},
    )

    device_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("inventory_devices.pk", ondelete="CASCADE"), primary_key=True
    )
    attribute_id: Mapped[int] = mapped_column(Integer, ForeignKey("inventory_attribute_keys.id"), primary_key=True)
    element: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    str_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    num_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class SavedFilter(Base):
    __tablename__ = "inventory_filters"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), nullable=False)
    terms: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of {scope, attribute, type, value}
    created_ts: Mapped[datetime] = mapped_column(nullable=False)
