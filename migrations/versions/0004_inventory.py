"""Inventory: devices (id, group, timestamps), interned attribute names, typed attribute values, saved filters.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import menderlite.db.base

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inventory_attribute_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("kinds", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_attribute_keys")),
        sa.UniqueConstraint(
            "tenant_id", "scope", "name", name=op.f("uq_inventory_attribute_keys_tenant_id_scope_name")
        ),
    )
    op.create_table(
        "inventory_devices",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=1024), nullable=False),
        sa.Column("group_name", sa.String(length=1024), nullable=True),
        sa.Column("created_ts", menderlite.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_ts", menderlite.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_inventory_devices")),
        sa.UniqueConstraint("tenant_id", "device_id", name=op.f("uq_inventory_devices_tenant_id_device_id")),
    )
    with op.batch_alter_table("inventory_devices", schema=None) as batch_op:
        batch_op.create_index("ix_inventory_devices_tenant_group", ["tenant_id", "group_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_inventory_devices_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "inventory_filters",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("created_ts", menderlite.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_filters")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_inventory_filters_tenant_id_name")),
    )
    with op.batch_alter_table("inventory_filters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inventory_filters_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "inventory_values",
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("attribute_id", sa.Integer(), nullable=False),
        sa.Column("element", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("str_value", sa.Text(), nullable=True),
        sa.Column("num_value", sa.Float(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attribute_id"],
            ["inventory_attribute_keys.id"],
            name=op.f("fk_inventory_values_attribute_id_inventory_attribute_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["device_pk"],
            ["inventory_devices.pk"],
            name=op.f("fk_inventory_values_device_pk_inventory_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_pk", "attribute_id", "element", name=op.f("pk_inventory_values")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("inventory_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inventory_values_num",
            ["tenant_id", "attribute_id", "num_value"],
            unique=False,
            sqlite_where=sa.text("num_value IS NOT NULL"),
            postgresql_where=sa.text("num_value IS NOT NULL"),
        )
        batch_op.create_index("ix_inventory_values_str", ["tenant_id", "attribute_id", "str_value"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inventory_values", schema=None) as batch_op:
        batch_op.drop_index("ix_inventory_values_str")
        batch_op.drop_index(
            "ix_inventory_values_num",
            sqlite_where=sa.text("num_value IS NOT NULL"),
            postgresql_where=sa.text("num_value IS NOT NULL"),
        )

    op.drop_table("inventory_values")
    with op.batch_alter_table("inventory_filters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_filters_tenant_id"))

    op.drop_table("inventory_filters")
    with op.batch_alter_table("inventory_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_devices_tenant_id"))
        batch_op.drop_index("ix_inventory_devices_tenant_group")

    op.drop_table("inventory_devices")
    op.drop_table("inventory_attribute_keys")
