"""feedback tables

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:08:41.189490
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _create_outbox() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target', sa.String(length=1000), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)

def _create_search_log() -> None:
    op.create_table('search_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('query', sa.String(length=500), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=True),
    sa.Column('results', sa.Integer(), nullable=False),
    sa.Column('top_article', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_log_at'), ['at'], unique=False)

def _create_votes() -> None:
    op.create_table('votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article', sa.String(length=500), nullable=False),
    sa.Column('voter', sa.String(length=320), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('section', sa.String(length=300), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('git_commit', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('article', 'voter', 'day', name='uq_vote_per_day')
    )
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_votes_article'), ['article'], unique=False)

def _create_flags() -> None:
    op.create_table('flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=False),
    sa.Column('article', sa.String(length=500), nullable=True),
    sa.Column('section', sa.String(length=300), nullable=True),
    sa.Column('query', sa.String(length=500), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('reporter', sa.String(length=320), nullable=True),
    sa.Column('notify_reporter', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('assignee', sa.String(length=320), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('git_commit', sa.String(length=64), nullable=True),
    sa.Column('vote_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['vote_id'], ['votes.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_article'), ['article'], unique=False)
        batch_op.create_index('ix_flags_department_status', ['department', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_status'), ['status'], unique=False)

def _create_flag_events() -> None:
    op.create_table('flag_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('flag_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_events_flag_id'), ['flag_id'], unique=False)

def upgrade() -> None:
    # One function per table (generated by Alembic, split for reading).
    _create_outbox()
    _create_search_log()
    _create_votes()
    _create_flags()
    _create_flag_events()


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('flag_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_events_flag_id'))

    op.drop_table('flag_events')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_status'))
        batch_op.drop_index('ix_flags_department_status')
        batch_op.drop_index(batch_op.f('ix_flags_article'))

    op.drop_table('flags')
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_votes_article'))

    op.drop_table('votes')
    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_log_at'))

    op.drop_table('search_log')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
    # ### end Alembic commands ###
