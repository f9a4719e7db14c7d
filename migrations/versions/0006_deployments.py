"""deployments: deployments (phases and counters on the row), static device lists, frozen artifacts,
device deployments and their logs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import menderlite.db.base

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('deployments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=4096), nullable=False),
    sa.Column('artifact_name', sa.String(length=4096), nullable=False),
    sa.Column('created', menderlite.db.base.UTCDateTime(), nullable=False),
    sa.Column('finished', menderlite.db.base.UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('starts_at', menderlite.db.base.UTCDateTime(), nullable=True),
    sa.Column('device_count', sa.Integer(), nullable=False),
    sa.Column('max_devices', sa.Integer(), nullable=False),
    sa.Column('retries', sa.Integer(), nullable=False),
    sa.Column('dynamic', sa.Boolean(), nullable=False),
    sa.Column('filter', sa.JSON(), nullable=True),
    sa.Column('initial_device_count', sa.Integer(), nullable=True),
    sa.Column('artifact_ids', sa.JSON(), nullable=False),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.Column('phases', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments')),
    sa.UniqueConstraint('seq', name=op.f('uq_deployments_seq'))
    )
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.create_index('ix_deployments_tenant_id_seq', ['tenant_id', 'seq'], unique=False)
        batch_op.create_index('ix_deployments_tenant_id_status_seq', ['tenant_id', 'status', 'seq'], unique=False)

    op.create_table('deployment_artifacts',
    sa.Column('deployment_id', sa.String(length=36), nullable=False),
    sa.Column('artifact_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_deployment_artifacts_deployment_id_deployments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('deployment_id', 'artifact_id', name=op.f('pk_deployment_artifacts'))
    )
    with op.batch_alter_table('deployment_artifacts', schema=None) as batch_op:
        batch_op.create_index('ix_deployment_artifacts_tenant_id_artifact_id', ['tenant_id', 'artifact_id'], unique=False)

    op.create_table('deployment_devices',
    sa.Column('deployment_id', sa.String(length=36), nullable=False),
    sa.Column('device_id', sa.String(length=255), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('deployment_seq', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_deployment_devices_deployment_id_deployments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('deployment_id', 'device_id', name=op.f('pk_deployment_devices'))
    )
    with op.batch_alter_table('deployment_devices', schema=None) as batch_op:
        batch_op.create_index('ix_deployment_devices_check_in', ['tenant_id', 'device_id', 'deployment_seq'], unique=False)
        batch_op.create_index('ix_deployment_devices_position', ['deployment_id', 'position'], unique=False)

    op.create_table('device_deployments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('deployment_id', sa.String(length=36), nullable=False),
    sa.Column('device_id', sa.String(length=255), nullable=False),
    sa.Column('deployment_seq', sa.BigInteger(), nullable=False),
    sa.Column('created', menderlite.db.base.UTCDateTime(), nullable=False),
    sa.Column('started', menderlite.db.base.UTCDateTime(), nullable=False),
    sa.Column('finished', menderlite.db.base.UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('substate', sa.String(length=200), nullable=True),
    sa.Column('device_type', sa.String(length=255), nullable=True),
    sa.Column('artifact_id', sa.String(length=36), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('phase', sa.Integer(), nullable=True),
    sa.Column('has_log', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_device_deployments_deployment_id_deployments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_deployments')),
    sa.UniqueConstraint('deployment_id', 'device_id', name=op.f('uq_device_deployments_deployment_id_device_id'))
    )
    with op.batch_alter_table('device_deployments', schema=None) as batch_op:
        batch_op.create_index('ix_device_deployments_check_in', ['tenant_id', 'device_id', 'active', 'deployment_seq'], unique=False)
        batch_op.create_index('ix_device_deployments_listing', ['deployment_id', 'started'], unique=False)

    op.create_table('device_deployment_logs',
    sa.Column('device_deployment_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['device_deployment_id'], ['device_deployments.id'], name=op.f('fk_device_deployment_logs_device_deployment_id_device_deployments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_deployment_id', name=op.f('pk_device_deployment_logs'))
    )


def downgrade() -> None:
    op.drop_table('device_deployment_logs')
    with op.batch_alter_table('device_deployments', schema=None) as batch_op:
        batch_op.drop_index('ix_device_deployments_listing')
        batch_op.drop_index('ix_device_deployments_check_in')

    op.drop_table('device_deployments')
    with op.batch_alter_table('deployment_devices', schema=None) as batch_op:
        batch_op.drop_index('ix_deployment_devices_position')
        batch_op.drop_index('ix_deployment_devices_check_in')

    op.drop_table('deployment_devices')
    with op.batch_alter_table('deployment_artifacts', schema=None) as batch_op:
        batch_op.drop_index('ix_deployment_artifacts_tenant_id_artifact_id')

    op.drop_table('deployment_artifacts')
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_index('ix_deployments_tenant_id_status_seq')
        batch_op.drop_index('ix_deployments_tenant_id_seq')

    op.drop_table('deployments')
