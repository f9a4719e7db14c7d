"""useradm: users, tokens, roles, password resets, tenants

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from menderlite.db.base import UTCDateTime

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('useradm_roles',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('permissions', sa.JSON(), nullable=False),
    sa.Column('created_ts', UTCDateTime(), nullable=False),
    sa.Column('updated_ts', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'name', name=op.f('pk_useradm_roles'))
    )
    op.create_table('useradm_tenants',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('created_ts', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_useradm_tenants'))
    )
    op.create_table('useradm_users',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=128), nullable=False),
    sa.Column('created_ts', UTCDateTime(), nullable=False),
    sa.Column('updated_ts', UTCDateTime(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('tfa_status', sa.String(length=16), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('totp_verified', sa.Boolean(), nullable=False),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_useradm_users')),
    sa.UniqueConstraint('email', name=op.f('uq_useradm_users_email'))
    )
    with op.batch_alter_table('useradm_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_useradm_users_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('useradm_password_resets',
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['useradm_users.id'], name=op.f('fk_useradm_password_resets_user_id_useradm_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('secret_hash', name=op.f('pk_useradm_password_resets'))
    )
    with op.batch_alter_table('useradm_password_resets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_useradm_password_resets_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_useradm_password_resets_user_id'), ['user_id'], unique=False)

    op.create_table('useradm_tokens',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('created_ts', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['useradm_users.id'], name=op.f('fk_useradm_tokens_user_id_useradm_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_useradm_tokens'))
    )
    with op.batch_alter_table('useradm_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_useradm_tokens_tenant_user', ['tenant_id', 'user_id'], unique=False)

    op.create_table('useradm_user_roles',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('role_name', sa.String(length=255), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['useradm_users.id'], name=op.f('fk_useradm_user_roles_user_id_useradm_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role_name', name=op.f('pk_useradm_user_roles'))
    )
    with op.batch_alter_table('useradm_user_roles', schema=None) as batch_op:
        batch_op.create_index('ix_useradm_user_roles_tenant_role', ['tenant_id', 'role_name'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('useradm_user_roles', schema=None) as batch_op:
        batch_op.drop_index('ix_useradm_user_roles_tenant_role')

    op.drop_table('useradm_user_roles')
    with op.batch_alter_table('useradm_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_useradm_tokens_tenant_user')

    op.drop_table('useradm_tokens')
    with op.batch_alter_table('useradm_password_resets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_useradm_password_resets_user_id'))
        batch_op.drop_index(batch_op.f('ix_useradm_password_resets_tenant_id'))

    op.drop_table('useradm_password_resets')
    with op.batch_alter_table('useradm_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_useradm_users_tenant_id'))

    op.drop_table('useradm_users')
    op.drop_table('useradm_tenants')
    op.drop_table('useradm_roles')
