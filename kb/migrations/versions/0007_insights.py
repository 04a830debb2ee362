"""insights: what a search showed and whether it was opened, article views, daily roll-ups

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('search_log') as batch:
        batch.add_column(sa.Column('area', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('answered', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('shown', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('searcher', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('clicks', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('ref', sa.String(length=16), nullable=True))
        batch.create_index('ix_search_log_area_at', ['area', 'at'], unique=False)
        batch.create_index('ix_search_log_ref', ['ref'], unique=True)
    op.create_table(
        'search_clicks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('search_id', sa.Integer(), sa.ForeignKey('search_log.id', ondelete='CASCADE'), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('article', sa.String(length=500), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('ms_to_click', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('search_id', 'position', name='uq_click_per_position'),
    )
    op.create_index('ix_search_clicks_at', 'search_clicks', ['at'])
    op.create_table(
        'article_views',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('article', sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_article_views_at', 'article_views', ['at'])
    op.create_table(
        'search_daily',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('area', sa.String(length=100), nullable=True),
        sa.Column('lang', sa.String(length=8), nullable=False),
        sa.Column('query', sa.String(length=500), nullable=False),
        sa.Column('searches', sa.Integer(), nullable=False),
        sa.Column('zero', sa.Integer(), nullable=False),
        sa.Column('unanswered', sa.Integer(), nullable=False),
        sa.Column('clicked', sa.Integer(), nullable=False),
        sa.Column('searchers', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_search_daily_day', 'search_daily', ['day'])
    op.create_table(
        'click_daily',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('area', sa.String(length=100), nullable=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('clicks', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_click_daily_day', 'click_daily', ['day'])
    op.create_table(
        'search_hours',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('area', sa.String(length=100), nullable=True),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('searches', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_search_hours_day', 'search_hours', ['day'])
    op.create_table(
        'flag_ratings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('flag_id', sa.Integer(), sa.ForeignKey('flags.id'), nullable=False),
        sa.Column('department', sa.String(length=100), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('flag_id', name='uq_rating_per_flag'),
    )
    op.create_table(
        'view_daily',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('article', sa.String(length=500), nullable=False),
        sa.Column('views', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_view_daily_day', 'view_daily', ['day'])


def downgrade() -> None:
    for table in ('view_daily', 'flag_ratings', 'search_hours', 'click_daily', 'search_daily', 'article_views', 'search_clicks'):
        op.drop_table(table)
    with op.batch_alter_table('search_log') as batch:
        batch.drop_index('ix_search_log_ref')
        batch.drop_index('ix_search_log_area_at')
        for column in ('ref', 'clicks', 'searcher', 'shown', 'answered', 'area'):
            batch.drop_column(column)
