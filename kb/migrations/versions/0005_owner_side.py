"""owner side: merged flags, notifications linked to their flag, one digest per department and day

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('flags') as batch:
        batch.add_column(sa.Column('merged_into', sa.Integer(), nullable=True))
        batch.create_index('ix_flags_merged_into', ['merged_into'], unique=False)
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('flag_id', sa.Integer(), nullable=True))
        batch.create_index('ix_outbox_flag_id', ['flag_id'], unique=False)
    op.create_table(
        'digest_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('department', sa.String(length=100), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('overdue', sa.Integer(), nullable=False),
        sa.Column('new', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('department', 'day', name='uq_digest_per_day'),
    )


def downgrade() -> None:
    op.drop_table('digest_log')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_flag_id')
        batch.drop_column('flag_id')
    with op.batch_alter_table('flags') as batch:
        batch.drop_index('ix_flags_merged_into')
        batch.drop_column('merged_into')
