"""Retention: raw search, click and view rows older than ``KB_LOG_RETENTION_DAYS`` become daily
aggregates and are deleted. Reports add both, so their totals do not change.

The cut is at a UTC midnight, so each day is rolled up once and whole, and the number of
distinct searchers of a day (daily pseudonyms) stays exact after the roll-up.
"""

from __future__ import annotations

import threading
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, delete, func, insert, select

from ..feedback.db import Database
from ..feedback.models import ArticleView, ClickDaily, SearchClick, SearchDaily, SearchHours, SearchLog, ViewDaily
from .period import utc_day, utc_hour_and_weekday


@dataclass(frozen=True)
class PruneReport:
    cutoff: datetime
    searches: int  # raw rows rolled up and deleted
    clicks: int
    views: int

    def as_dict(self) -> dict:
        return {"cutoff": self.cutoff.isoformat(), "searches": self.searches, "clicks": self.clicks, "views": self.views}


def cutoff_for(now: datetime, retention_days: int) -> datetime:
    return datetime.combine(now.astimezone(UTC).date() - timedelta(days=retention_days), time(), UTC)


def _day(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def prune(db: Database, now: datetime, retention_days: int) -> PruneReport:
    """Roll up and delete the raw rows from before the cutoff, in one transaction."""
    cutoff = cutoff_for(now, retention_days)
    with db.session() as s:
        day, text = utc_day(s, SearchLog.at), func.lower(SearchLog.query)
        old = SearchLog.at < cutoff
        searches = s.execute(select(day, SearchLog.area, SearchLog.lang, text, func.count(),
                                    func.sum(case((SearchLog.results == 0, 1), else_=0)),
                                    func.sum(case((SearchLog.answered.is_(False), 1), else_=0)),
                                    func.sum(case((SearchLog.clicks > 0, 1), else_=0)),
                                    func.count(SearchLog.searcher.distinct()))
                             .where(old).group_by(day, SearchLog.area, SearchLog.lang, text)).all()
        rows = [{"day": _day(d), "area": area, "lang": lang, "query": q[:500], "searches": n, "zero": int(z or 0),
                 "unanswered": int(u or 0), "clicked": int(c or 0), "searchers": k}
                for d, area, lang, q, n, z, u, c, k in searches]
        if rows:
            s.execute(insert(SearchDaily), rows)
        clicks = s.execute(select(day, SearchLog.area, SearchClick.position, func.count())
                           .join(SearchLog, SearchLog.id == SearchClick.search_id).where(old)
                           .group_by(day, SearchLog.area, SearchClick.position)).all()
        if clicks:
            s.execute(insert(ClickDaily), [{"day": _day(d), "area": a, "position": p, "clicks": n} for d, a, p, n in clicks])
        hour = utc_hour_and_weekday(s, SearchLog.at)[0]
        hours = s.execute(select(day, SearchLog.area, hour, func.count()).where(old).group_by(day, SearchLog.area, hour)).all()
        if hours:
            s.execute(insert(SearchHours), [{"day": _day(d), "area": a, "hour": h, "searches": n} for d, a, h, n in hours])
        old_ids = select(SearchLog.id).where(old).scalar_subquery()
        n_clicks = s.execute(delete(SearchClick).where(SearchClick.search_id.in_(old_ids))).rowcount
        n_searches = s.execute(delete(SearchLog).where(old)).rowcount
        vday = utc_day(s, ArticleView.at)
        views = s.execute(select(vday, ArticleView.article, func.count()).where(ArticleView.at < cutoff)
                          .group_by(vday, ArticleView.article)).all()
        if views:
            s.execute(insert(ViewDaily), [{"day": _day(d), "article": a, "views": n} for d, a, n in views])
        n_views = s.execute(delete(ArticleView).where(ArticleView.at < cutoff)).rowcount
    return PruneReport(cutoff, n_searches, n_clicks, n_views)


def start_pruner(run: Callable[[], PruneReport], log: Callable[[str], None], every: float = 24 * 3600) -> threading.Thread:
    """Prune once now and then every ``every`` seconds, in a daemon thread of the server."""

    def loop() -> None:
        while True:
            try:
                report = run()
                if report.searches or report.views:
                    log(f"insights: rolled up {report.searches} searches and {report.views} views before {report.cutoff:%Y-%m-%d}")
            except Exception as exc:  # a failed prune must not stop the next one, nor the server
                log(f"insights: pruning failed: {exc}")
            clock.sleep(every)

    thread = threading.Thread(target=loop, name="kb-insights-prune", daemon=True)
    thread.start()
    return thread
