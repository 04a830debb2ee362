"""Roll-ups: each finished UTC day's raw search, click and view rows become daily aggregates, so a
report over months reads a few rows per day and query instead of every search.

Exactly once, however late a row comes. Every write of a raw row bumps its day's mark
(``InsightsRollup.version``, an upsert in the writer's own transaction). Rolling a day up locks its
mark, replaces the day's aggregates with what its raw rows say now and records the version it read
(``rolled``). A day counts as rolled up only while ``rolled == version``: a search flushed after
midnight, or a click or "didn't find" on yesterday's search, makes its day unrolled again, reports
read that day's raw rows (raw rows stay until retention deletes them), and the next roll-up
replaces the day's aggregates. Replacing, never adding, makes a second roll-up a no-op.

The lock orders the two: a writer's bump waits for a roll-up in progress (and then marks the day
again), and a roll-up waits for a writer whose bump is not committed (and then reads its rows).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..feedback.db import Database
from ..feedback.models import (
    ArticleView,
    ClickDaily,
    InsightsRollup,
    QueryDaily,
    QuerySearchers,
    SearchClick,
    SearchDaily,
    SearchHours,
    SearchLog,
    SearchTotals,
    ViewDaily,
)
from .measures import areas_key, counts, failed, failed_count
from .period import Period, Split, as_utc, midnight, utc_hour_and_weekday

AGGREGATES = (SearchDaily, SearchTotals, QueryDaily, QuerySearchers, ClickDaily, SearchHours, ViewDaily)


def _insert(s: Session):  # noqa: ANN202 (the dialect's INSERT with ON CONFLICT)
    return (postgresql if s.get_bind().dialect.name == "postgresql" else sqlite).insert


def bump(s: Session, days: Iterable[date]) -> None:
    """Mark ``days`` as changed (the writer calls this last in each batch, in its transaction)."""
    rows = [{"day": d, "version": 1} for d in sorted(set(days))]  # sorted: two writers lock in one order
    if rows:
        stmt = _insert(s)(InsightsRollup).values(rows)
        s.execute(stmt.on_conflict_do_update(index_elements=["day"], set_={"version": InsightsRollup.version + 1}))


def clean() -> object:
    return or_(InsightsRollup.final.is_(True), InsightsRollup.rolled == InsightsRollup.version)


def split_for(s: Session, period: Period) -> Split:
    """Which days of ``period`` a report reads from the roll-ups."""
    days = s.scalars(select(InsightsRollup.day).where(InsightsRollup.day >= period.start, InsightsRollup.day <= period.end,
                                                      clean()))
    return Split(period, frozenset(days))


def _rows(s: Session, q) -> list:  # noqa: ANN001
    return [tuple(r) for r in s.execute(q)]


def _put(s: Session, table: type, rows: list[dict]) -> None:
    """Insert ``rows`` (Core executemany: the driver sends them in multi-row statements)."""
    if rows:
        s.execute(insert(table.__table__), rows)


def _people(s: Session, in_day: object) -> tuple[dict, list[dict]]:
    """Distinct searchers per (query, department) of those who searched a query in one department
    that day, and the sets of departments of the others (``QuerySearchers``); each for all searches
    (key ``False``) and for failed ones (``True``)."""
    text = func.lower(SearchLog.query)
    sets: dict[tuple[str, bool, str], set[str | None]] = defaultdict(set)
    who = select(text, SearchLog.searcher, SearchLog.area, failed()).where(in_day, SearchLog.searcher.is_not(None)).distinct()
    for query, searcher, area, bad in s.execute(who):
        sets[(query, False, searcher)].add(area)
        if bad:
            sets[(query, True, searcher)].add(area)
    single: dict[tuple[str, str | None, bool], int] = defaultdict(int)
    multi: dict[tuple[str, bool, str], int] = defaultdict(int)
    for (query, bad, _searcher), areas in sets.items():
        if len(areas) == 1:
            single[(query, next(iter(areas)), bad)] += 1
        else:
            multi[(query, bad, areas_key(areas))] += 1
    return single, [{"query": q[:500], "failed": bad, "areas": a, "searchers": n} for (q, bad, a), n in multi.items()]


def _searches(s: Session, day: date, in_day: object) -> int:
    text = func.lower(SearchLog.query)
    names = ("searches", "zero", "unanswered", "clicked", "succeeded")
    rows = _rows(s, select(SearchLog.area, SearchLog.lang, text, *counts(), failed_count(),
                           func.count(SearchLog.searcher.distinct()))
                 .where(in_day).group_by(SearchLog.area, SearchLog.lang, text))
    keys = ("area", "lang", "query", *names, "failed", "searchers")
    _put(s, SearchDaily, [{"day": day, **dict(zip(keys, r, strict=True)), "query": r[2][:500]} for r in rows])
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0] * 5)
    per_query: dict[tuple, list[int]] = defaultdict(lambda: [0] * 5)
    for area, lang, query, *n in rows:
        for i in range(5):
            totals[(area, lang)][i] += n[i]
        for i, value in enumerate(n[:4] + [n[5]]):  # searches, zero, unanswered, clicked, failed
            per_query[(query, area)][i] += value
    _put(s, SearchTotals, [{"day": day, "area": a, "lang": lang, **dict(zip(names, n, strict=True))}
                           for (a, lang), n in totals.items()])
    single, multi = _people(s, in_day)
    _put(s, QueryDaily, [{"day": day, "query": q[:500], "area": a, "searches": n[0], "zero": n[1], "unanswered": n[2],
                          "clicked": n[3], "failed": n[4], "searchers": single.get((q, a, False), 0),
                          "failed_searchers": single.get((q, a, True), 0)} for (q, a), n in per_query.items()])
    _put(s, QuerySearchers, [{"day": day, **m} for m in multi])
    return sum(r[3] for r in rows)


def roll_up_day(s: Session, day: date, now: datetime) -> int:
    """Replace ``day``'s aggregates with what its raw rows say now; returns its searches."""
    # Make the mark exist (waiting for a writer whose bump is not committed), then lock it.
    s.execute(_insert(s)(InsightsRollup).values(day=day, version=0).on_conflict_do_nothing(index_elements=["day"]))
    mark = s.scalar(select(InsightsRollup).where(InsightsRollup.day == day).with_for_update())
    version = mark.version
    for table in AGGREGATES:
        s.execute(delete(table).where(table.day == day))
    since, until = midnight(day), midnight(day + timedelta(days=1))
    in_day = and_(SearchLog.at >= since, SearchLog.at < until)
    searches = _searches(s, day, in_day)
    clicks = _rows(s, select(SearchLog.area, SearchClick.position, func.count())
                   .join(SearchLog, SearchLog.id == SearchClick.search_id).where(in_day)
                   .group_by(SearchLog.area, SearchClick.position))
    _put(s, ClickDaily, [{"day": day, "area": a, "position": p, "clicks": n} for a, p, n in clicks])
    hour = utc_hour_and_weekday(s, SearchLog.at)[0]
    hours = _rows(s, select(SearchLog.area, hour, func.count()).where(in_day).group_by(SearchLog.area, hour))
    _put(s, SearchHours, [{"day": day, "area": a, "hour": h, "searches": n} for a, h, n in hours])
    views = _rows(s, select(ArticleView.article, func.count()).where(ArticleView.at >= since, ArticleView.at < until)
                  .group_by(ArticleView.article))
    _put(s, ViewDaily, [{"day": day, "article": a, "views": n} for a, n in views])
    mark.rolled, mark.rolled_at = version, now
    return searches


def pending_days(s: Session, today: date) -> list[date]:
    """Finished days with raw rows (from the oldest kept) that are not rolled up, or changed since."""
    firsts = [s.scalar(select(func.min(SearchLog.at))), s.scalar(select(func.min(ArticleView.at)))]
    firsts = [as_utc(f).date() for f in firsts if f is not None]
    done = set(s.scalars(select(InsightsRollup.day).where(clean())))
    days = set()
    if firsts:
        day = min(firsts)
        while day < today:
            days.add(day)
            day += timedelta(days=1)
    days |= set(s.scalars(select(InsightsRollup.day).where(InsightsRollup.day < today)))
    return sorted(days - done)


@dataclass(frozen=True)
class RollupReport:
    days: int  # days rolled up (first time or again)
    searches: int  # the searches of those days


def roll_up(db: Database, now: datetime) -> RollupReport:
    """Roll up every finished UTC day not rolled up yet or changed since: one transaction per day."""
    with db.session() as s:
        days = pending_days(s, as_utc(now).date())
    searches = 0
    for day in days:
        with db.session() as s:
            searches += roll_up_day(s, day, now)
    return RollupReport(len(days), searches)
