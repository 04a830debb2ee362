"""flag reports: repeated anonymous reports on one open article flag are counted, not new flags

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 23:58:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('flags') as batch:
        batch.add_column(sa.Column('reports', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('flags') as batch:
        batch.drop_column('reports')
