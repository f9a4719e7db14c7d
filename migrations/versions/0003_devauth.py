"""devauth: devices, auth sets, tokens and per-tenant limits.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import menderlite.db.base

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "devauth_devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id_data", sa.Text(), nullable=False),
        sa.Column("id_data_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decommissioning", sa.Boolean(), nullable=False),
        sa.Column("created_ts", menderlite.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_ts", menderlite.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devauth_devices")),
        sa.UniqueConstraint("tenant_id", "id_data_sha256", name="uq_devauth_devices_identity"),
    )
    op.create_index("ix_devauth_devices_age", "devauth_devices", ["tenant_id", "created_ts", "id"])
    op.create_index("ix_devauth_devices_status_age", "devauth_devices", ["tenant_id", "status", "created_ts", "id"])

    op.create_table(
        "devauth_auth_sets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("id_data", sa.Text(), nullable=False),
        sa.Column("id_data_sha256", sa.String(length=64), nullable=False),
        sa.Column("pubkey", sa.Text(), nullable=False),
        sa.Column("pubkey_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ts", menderlite.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devauth_devices.id"],
            name=op.f("fk_devauth_auth_sets_device_id_devauth_devices"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devauth_auth_sets")),
        sa.UniqueConstraint("tenant_id", "id_data_sha256", "pubkey_sha256", name="uq_devauth_auth_sets_identity_key"),
    )
    op.create_index("ix_devauth_auth_sets_device", "devauth_auth_sets", ["tenant_id", "device_id"])

    op.create_table(
        "devauth_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", menderlite.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["devauth_auth_sets.id"], name=op.f("fk_devauth_tokens_id_devauth_auth_sets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devauth_tokens")),
    )
    op.create_index("ix_devauth_tokens_device", "devauth_tokens", ["tenant_id", "device_id"])

    op.create_table(
        "devauth_limits",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_devauth_limits")),
    )


def downgrade() -> None:
    op.drop_table("devauth_limits")
    op.drop_index("ix_devauth_tokens_device", table_name="devauth_tokens")
    op.drop_table("devauth_tokens")
    op.drop_index("ix_devauth_auth_sets_device", table_name="devauth_auth_sets")
    op.drop_table("devauth_auth_sets")
    op.drop_index("ix_devauth_devices_status_age", table_name="devauth_devices")
    op.drop_index("ix_devauth_devices_age", table_name="devauth_devices")
    op.drop_table("devauth_devices")
