"""flag entries: every report, reply and note on a flag kept as its own row; votes record changes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'flag_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('flag_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('author', sa.String(length=320), nullable=True),
        sa.Column('reason', sa.String(length=40), nullable=True),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('section', sa.String(length=300), nullable=True),
        sa.Column('vote_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['flag_id'], ['flags.id']),
        sa.ForeignKeyConstraint(['vote_id'], ['votes.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('flag_entries') as batch:
        batch.create_index('ix_flag_entries_flag_id', ['flag_id'], unique=False)
    with op.batch_alter_table('flags') as batch:
        batch.create_index('ix_flags_reporter', ['reporter'], unique=False)
    with op.batch_alter_table('votes') as batch:
        batch.add_column(sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True))
    # Reports made before this revision: the first one of each flag becomes its first entry.
    op.execute(
        "INSERT INTO flag_entries (flag_id, kind, author, reason, text, section, vote_id, created_at) "
        "SELECT id, 'report', reporter, reason, comment, section, vote_id, created_at FROM flags"
    )


def downgrade() -> None:
    with op.batch_alter_table('votes') as batch:
        batch.drop_column('changed_at')
    with op.batch_alter_table('flags') as batch:
        batch.drop_index('ix_flags_reporter')
    with op.batch_alter_table('flag_entries') as batch:
        batch.drop_index('ix_flag_entries_flag_id')
    op.drop_table('flag_entries')
