"""deployments: artifacts, their depends combinations, pending generations, per-tenant storage limits

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import menderlite.db.base

revision: str = '0005'
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('artifact_generations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=4096), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('device_types', sa.JSON(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('raw_key', sa.String(length=255), nullable=False),
    sa.Column('raw_size', sa.BigInteger(), nullable=False),
    sa.Column('created', menderlite.db.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifact_generations'))
    )
    with op.batch_alter_table('artifact_generations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_generations_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_artifact_generations_tenant_id_name', ['tenant_id', 'name'], unique=False)

    op.create_table('artifacts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=4096), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('device_types', sa.JSON(), nullable=False),
    sa.Column('info_format', sa.String(length=32), nullable=False),
    sa.Column('info_version', sa.Integer(), nullable=False),
    sa.Column('signed', sa.Boolean(), nullable=False),
    sa.Column('updates', sa.JSON(), nullable=False),
    sa.Column('provides', sa.JSON(), nullable=False),
    sa.Column('depends', sa.JSON(), nullable=False),
    sa.Column('clears_provides', sa.JSON(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=255), nullable=False),
    sa.Column('created', menderlite.db.base.UTCDateTime(), nullable=False),
    sa.Column('modified', menderlite.db.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts'))
    )
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifacts_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_artifacts_tenant_id_created', ['tenant_id', 'created'], unique=False)
        batch_op.create_index('ix_artifacts_tenant_id_name', ['tenant_id', 'name'], unique=False)

    op.create_table('deployments_tenants',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('storage_limit', sa.BigInteger(), nullable=True),
    sa.Column('created', menderlite.db.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_deployments_tenants'))
    )
    op.create_table('artifact_depends_keys',
    sa.Column('artifact_id', sa.String(length=36), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('combination', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_artifact_depends_keys_artifact_id_artifacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('artifact_id', 'key_hash', name=op.f('pk_artifact_depends_keys')),
    sa.UniqueConstraint('tenant_id', 'key_hash', name=op.f('uq_artifact_depends_keys_tenant_id_key_hash'))
    )
    with op.batch_alter_table('artifact_depends_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_depends_keys_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('artifact_depends_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_depends_keys_tenant_id'))

    op.drop_table('artifact_depends_keys')
    op.drop_table('deployments_tenants')
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_index('ix_artifacts_tenant_id_name')
        batch_op.drop_index('ix_artifacts_tenant_id_created')
        batch_op.drop_index(batch_op.f('ix_artifacts_tenant_id'))

    op.drop_table('artifacts')
    with op.batch_alter_table('artifact_generations', schema=None) as batch_op:
        batch_op.drop_index('ix_artifact_generations_tenant_id_name')
        batch_op.drop_index(batch_op.f('ix_artifact_generations_tenant_id'))

    op.drop_table('artifact_generations')
