"""The weekly digest per department: through the outbox, last week's figures, never twice a week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from kb import KB
from kb.config import PROJECT_ROOT, Config
from kb.feedback.models import OutboxMessage, SearchLog
from kb.insights.digest import last_week

from .conftest import migrate


def test_last_week():
    p = last_week(datetime(2026, 12, 2, 1, tzinfo=UTC))  # a Wednesday
    assert (p.start.isoformat(), p.end.isoformat()) == ("2026-11-23", "2026-11-29")


def test_digest_once_per_department_and_week(database_url, models):
    migrate(database_url)
    kb = KB(Config(articles_dir=PROJECT_ROOT / "articles", secret_key="t", database_url=database_url,
                   site_url="http://kb.example", insights_min_searchers=3), models=models)
    week = last_week(datetime.now(UTC))
    at = datetime.combine(week.start, datetime.min.time(), UTC) + timedelta(days=2, hours=10)
    with kb.db.session() as s:
        for i in range(3):
            s.add(SearchLog(at=at, query="dental implants coverage", lang="en", results=0, area="benefits", shown=[],
                            searcher=f"{i:032d}", answered=False, clicks=0))
    first = kb.queue_digests()
    assert first > 0
    with kb.db.session() as s:
        # Only departments where something happened get one: a page of zeros is no digest.
        keys = {m.dedupe_key.split("-")[1] for m in s.scalars(select(OutboxMessage))}
    assert keys == {"benefits"}
    assert kb.queue_digests() == 0  # never twice for one week
    with kb.db.session() as s:
        rows = [m for m in s.scalars(select(OutboxMessage)) if m.dedupe_key.startswith("digest-")]
    assert len(rows) == first
    benefits = [m for m in rows if m.dedupe_key.startswith("digest-benefits-")]
    body = str(benefits[0].payload)
    year, number, _ = week.start.isocalendar()
    assert f"{year}-W{number:02d}" in body and "Searches: 3" in body and "dental implants coverage" in body
    assert "http://kb.example/insights/search?department=benefits" in body
