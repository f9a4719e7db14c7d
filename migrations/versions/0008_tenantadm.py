"""tenantadm: tenant accounts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from menderlite.db.base import UTCDateTime

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenantadm_tenants",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("plan", sa.String(length=16), nullable=False),
        sa.Column("api_limits", sa.JSON(), nullable=False),
        sa.Column("trial", sa.Boolean(), nullable=False),
        sa.Column("trial_expiration", UTCDateTime(), nullable=True),
        sa.Column("admin_user_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_token", sa.Text(), nullable=False),
        sa.Column("token_id", sa.String(length=36), nullable=False),
        sa.Column("checkout_secret", sa.String(length=64), nullable=False),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("cancelled_ts", UTCDateTime(), nullable=True),
        sa.Column("created_ts", UTCDateTime(), nullable=False),
        sa.Column("updated_ts", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenantadm_tenants")),
    )
    with op.batch_alter_table("tenantadm_tenants", schema=None) as batch_op:
        batch_op.create_index("ix_tenantadm_tenants_created", ["created_ts", "tenant_id"], unique=False)
        batch_op.create_index("ix_tenantadm_tenants_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tenantadm_tenants", schema=None) as batch_op:
        batch_op.drop_index("ix_tenantadm_tenants_status")
        batch_op.drop_index("ix_tenantadm_tenants_created")
    op.drop_table("tenantadm_tenants")
