"""workflows: workflow definitions (every registered version) and jobs

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import menderlite.db.base

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('workflow_definitions',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created', menderlite.db.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'name', 'version', name=op.f('pk_workflow_definitions'))
    )
    op.create_table('workflow_jobs',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('workflow_name', sa.String(length=256), nullable=False),
    sa.Column('workflow_version', sa.Integer(), nullable=False),
    sa.Column('input_parameters', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('insert_time', menderlite.db.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_jobs'))
    )
    with op.batch_alter_table('workflow_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_jobs_queue', ['status', 'insert_time', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('workflow_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_workflow_jobs_queue')

    op.drop_table('workflow_jobs')
    op.drop_table('workflow_definitions')
