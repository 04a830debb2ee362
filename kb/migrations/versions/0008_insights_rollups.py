"""insights at scale: every finished day rolled up (marks per day), exact distinct searchers per
query in the roll-ups, "didn't find" on the search it came from, indexes for the report ranges

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('search_log') as batch:
        batch.add_column(sa.Column('didnt_find', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('search_daily') as batch:
        batch.add_column(sa.Column('succeeded', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('failed', sa.Integer(), nullable=False, server_default='0'))
    op.create_table(
        'query_daily',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('query', sa.String(length=500), nullable=False),
        sa.Column('area', sa.String(length=100), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (
            'searches', 'zero', 'unanswered', 'clicked', 'failed', 'searchers', 'failed_searchers')),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_query_daily_day', 'query_daily', ['day'])
    op.create_table(
        'search_totals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('area', sa.String(length=100), nullable=True),
        sa.Column('lang', sa.String(length=8), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in ('searches', 'zero', 'unanswered', 'clicked', 'succeeded')),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_search_totals_day', 'search_totals', ['day'])
    op.create_table(
        'query_searchers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('query', sa.String(length=500), nullable=False),
        sa.Column('areas', sa.String(length=1000), nullable=False),
        sa.Column('failed', sa.Boolean(), nullable=False),
        sa.Column('searchers', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_query_searchers_day', 'query_searchers', ['day'])
    op.create_table(
        'insights_rollups',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('rolled', sa.Integer(), nullable=True),
        sa.Column('rolled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('final', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint('day'),
    )
    op.create_index('ix_votes_day', 'votes', ['day'])
    op.create_index('ix_flags_created_at', 'flags', ['created_at'])
    # Days the 0007 retention already rolled up and deleted: their roll-ups are final. Their
    # success and failure counts are the best the old roll-up knew (a result opened; not opened),
    # and their distinct searchers per query were kept per department and language only.
    op.execute("UPDATE search_daily SET succeeded = clicked, failed = searches - clicked")
    op.execute("""INSERT INTO query_daily (day, query, area, searches, zero, unanswered, clicked, failed, searchers,
                                           failed_searchers)
                  SELECT day, lower(query), area, sum(searches), sum(zero), sum(unanswered), sum(clicked), sum(failed),
                         sum(searchers), 0 FROM search_daily GROUP BY day, lower(query), area""")
    op.execute("""INSERT INTO search_totals (day, area, lang, searches, zero, unanswered, clicked, succeeded)
                  SELECT day, area, lang, sum(searches), sum(zero), sum(unanswered), sum(clicked), sum(succeeded)
                  FROM search_daily GROUP BY day, area, lang""")
    op.execute("""INSERT INTO insights_rollups (day, version, rolled, final)
                  SELECT day, 0, 0, true FROM (SELECT day FROM search_daily UNION SELECT day FROM view_daily
                  UNION SELECT day FROM click_daily UNION SELECT day FROM search_hours) AS days""")


def downgrade() -> None:
    # 0007 reads roll-ups and raw rows side by side: the roll-ups of days whose raw rows are kept would count twice.
    for table in ('search_daily', 'click_daily', 'search_hours', 'view_daily'):  # the new tables go whole
        op.execute(f"DELETE FROM {table} WHERE day IN (SELECT day FROM insights_rollups WHERE NOT final)")
    op.drop_index('ix_flags_created_at', 'flags')
    op.drop_index('ix_votes_day', 'votes')
    for table in ('insights_rollups', 'query_searchers', 'search_totals', 'query_daily'):
        op.drop_table(table)
    with op.batch_alter_table('search_daily') as batch:
        batch.drop_column('failed')
        batch.drop_column('succeeded')
    with op.batch_alter_table('search_log') as batch:
        batch.drop_column('didnt_find')
