"""Retention: raw search, click and view rows older than ``KB_LOG_RETENTION_DAYS`` are deleted once
their days are rolled up (``rollup``); those days' roll-ups become final. Reports read the
roll-ups of every finished day already, so their totals do not change.

The cut is at a UTC midnight, so each day goes whole, and the number of distinct searchers of a
day (daily pseudonyms) stays exact after the roll-up.
"""

from __future__ import annotations

import threading
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import delete, select

from ..feedback.db import Database
from ..feedback.models import ArticleView, InsightsRollup, SearchClick, SearchLog
from .rollup import roll_up, roll_up_day


@dataclass(frozen=True)
class PruneReport:
    cutoff: datetime
    searches: int  # raw rows deleted (their days rolled up first)
    clicks: int
    views: int
    days: int = 0  # days rolled up on the way (every finished day not rolled up yet)

    def as_dict(self) -> dict:
        return {"cutoff": self.cutoff.isoformat(), "searches": self.searches, "clicks": self.clicks, "views": self.views,
                "days": self.days}


def cutoff_for(now: datetime, retention_days: int) -> datetime:
    return datetime.combine(now.astimezone(UTC).date() - timedelta(days=retention_days), time(), UTC)


def prune(db: Database, now: datetime, retention_days: int) -> PruneReport:
    """Roll up every finished day, then delete the raw rows from before the cutoff, in one transaction
    that holds those days' marks: a late row for one of them is rolled up here, not lost."""
    rolled = roll_up(db, now)
    cutoff = cutoff_for(now, retention_days)
    with db.session() as s:
        going = list(s.scalars(select(InsightsRollup).where(InsightsRollup.day < cutoff.date(), InsightsRollup.final.is_(False))
                               .with_for_update()))
        for mark in going:
            if mark.rolled != mark.version:
                roll_up_day(s, mark.day, now)
        old = SearchLog.at < cutoff
        n_clicks = s.execute(delete(SearchClick).where(SearchClick.search_id.in_(select(SearchLog.id).where(old)))).rowcount
        n_searches = s.execute(delete(SearchLog).where(old)).rowcount
        n_views = s.execute(delete(ArticleView).where(ArticleView.at < cutoff)).rowcount
        for mark in going:
            mark.final = True
    return PruneReport(cutoff, n_searches, n_clicks, n_views, rolled.days)


def start_pruner(run: Callable[[], PruneReport], log: Callable[[str], None], every: float = 3600) -> threading.Thread:
    """Roll up and prune once now and then every ``every`` seconds, in a daemon thread of the server
    (hourly: a finished day is rolled up within the hour; a run with nothing to do costs a few queries)."""

    def loop() -> None:
        while True:
            try:
                report = run()
                if report.days or report.searches or report.views:
                    log(f"insights: rolled up {report.days} days; deleted {report.searches} searches and "
                        f"{report.views} views before {report.cutoff:%Y-%m-%d}")
            except Exception as exc:  # a failed prune must not stop the next one, nor the server
                log(f"insights: pruning failed: {exc}")
            clock.sleep(every)

    thread = threading.Thread(target=loop, name="kb-insights-prune", daemon=True)
    thread.start()
    return thread
