"""Retention: every finished day is rolled up, raw rows older than the retention period are
deleted, and every report reads the same before and after (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from kb.feedback.models import ArticleView, ClickDaily, SearchClick, SearchDaily, SearchLog, ViewDaily
from kb.insights import Period
from kb.insights.retention import cutoff_for

from .test_insights_service import ADMIN, NOW, OWNER, Clock, page, seed_searches, service

OLD_DAY = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)  # 203 days before NOW: past the 180-day retention
ALL = Period(date(2026, 1, 1), date(2026, 11, 20))


def count(db, table) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_prune_rolls_up_and_reports_do_not_change(db):
    clock = Clock(NOW)
    svc = service(db, clock)
    seed_searches(svc, clock, day=OLD_DAY)  # 7 old searches, 2 clicks
    seed_searches(svc, clock)  # the same again, recent
    clock.t = OLD_DAY
    for _ in range(4):
        svc.record_view("it/vpn.md")
    clock.t = NOW
    svc.record_view("it/vpn.md")
    before = {who.email: (svc.report(who, "search", ALL), svc.report(who, "content", ALL)) for who in (ADMIN, OWNER)}
    assert before[ADMIN.email][0]["totals"]["searches"] == 14
    report = svc.prune()
    assert (report.searches, report.clicks, report.views) == (7, 2, 4)
    assert report.days == (NOW.date() - OLD_DAY.date()).days  # every finished day from the oldest row on
    assert report.cutoff == datetime(2026, 5, 24, tzinfo=UTC) == cutoff_for(NOW, 180)
    assert (count(db, SearchLog), count(db, SearchClick), count(db, ArticleView)) == (7, 2, 1)
    # 3 queries × 1 area each on two days (the old one and the recent finished one); one position
    # on each; one article-day (today's view is not rolled up: the day is not over).
    assert (count(db, SearchDaily), count(db, ClickDaily), count(db, ViewDaily)) == (6, 2, 1)
    after = {who.email: (svc.report(who, "search", ALL), svc.report(who, "content", ALL)) for who in (ADMIN, OWNER)}
    assert after == before
    # A second run finds nothing more to roll up: no day counted twice.
    again = svc.prune()
    assert (again.searches, again.days) == (0, 0) and count(db, SearchDaily) == 6


def test_k_anonymity_holds_across_raw_and_rolled_up_days(db):
    clock = Clock(NOW)
    svc = service(db, clock)
    for day, sessions in ((OLD_DAY, ("a", "b")), (NOW - timedelta(days=1), ("a",))):
        clock.t = day
        for key in sessions:
            svc.record_search(page("Secret Project Falcon", ["payroll/pay.md"]), key)
    clock.t = NOW
    svc.prune()
    # Three daily pseudonyms in all (two rolled up, one raw): at the threshold of 3, shown.
    rows = svc.report(ADMIN, "search", ALL)["top_queries"]
    assert [(r["query"], r["searchers"]) for r in rows] == [("secret project falcon", 3)]
    # Over the last 30 days only one searcher typed it: hidden, but counted.
    recent = svc.report(ADMIN, "search", Period.last(30, NOW.date()))
    assert recent["top_queries"] == [] and recent["hidden_searches"] == 1 and recent["totals"]["searches"] == 1

