"""export log: who exported which flags, when

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:35:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'export_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=320), nullable=False),
        sa.Column('format', sa.String(length=10), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=False),
        sa.Column('flags', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('export_log') as batch:
        batch.create_index('ix_export_log_at', ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('export_log') as batch:
        batch.drop_index('ix_export_log_at')
    op.drop_table('export_log')
