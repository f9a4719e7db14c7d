"""inventory: indexes for device lists sorted by the system timestamps (created_ts, updated_ts)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inventory_devices", schema=None) as batch_op:
        batch_op.create_index("ix_inventory_devices_tenant_created", ["tenant_id", "created_ts"], unique=False)
        batch_op.create_index("ix_inventory_devices_tenant_updated", ["tenant_id", "updated_ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inventory_devices", schema=None) as batch_op:
        batch_op.drop_index("ix_inventory_devices_tenant_updated")
        batch_op.drop_index("ix_inventory_devices_tenant_created")
