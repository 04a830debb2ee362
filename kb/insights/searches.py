"""Search analytics: volumes, rates, top queries (k-anonymous), click positions, peak hours.

Every figure adds the roll-ups of the period's rolled-up days (``search_totals``, ``query_daily``,
``query_searchers``, ``click_daily``, ``search_hours``) to the raw rows of its other days (today, and a day changed
since its roll-up): each day is read from one of the two (``Split``), so a report reads the same
before and after a roll-up, and reads months of searches as a few rows per day.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Select, func, literal, select, union_all
from sqlalchemy.orm import Session

from ..feedback.models import (
    ClickDaily,
    Flag,
    QueryDaily,
    QuerySearchers,
    SearchClick,
    SearchHours,
    SearchLog,
    SearchTotals,
)
from .measures import areas_meet, counts
from .period import Period, Scope, Split, utc_day, utc_hour_and_weekday
from .rollup import split_for

TOP = 20  # queries listed per table
N = 5  # the counts of ``measures.counts``: searches, zero, unanswered, clicked, succeeded


def _raw(q: Select, split: Split, scope: Scope) -> Select:
    q = q.where(split.raw(SearchLog.at))
    return q if scope.departments is None else q.where(SearchLog.area.in_(sorted(scope.departments)))


def _daily(q: Select, split: Split, scope: Scope, table: type = SearchTotals) -> Select:
    q = q.where(split.daily(table.day))
    return q if scope.departments is None else q.where(table.area.in_(sorted(scope.departments)))


def _daily_counts() -> tuple:
    return (func.sum(SearchTotals.searches), func.sum(SearchTotals.zero), func.sum(SearchTotals.unanswered),
            func.sum(SearchTotals.clicked), func.sum(SearchTotals.succeeded))


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _raw_grid(s: Session, split: Split, scope: Scope) -> list[tuple]:
    """The raw rows of the period in one scan: (day, hour, weekday, lang, searches, zero, unanswered, clicked, succeeded)."""
    day, (hour, weekday) = utc_day(s, SearchLog.at), utc_hour_and_weekday(s, SearchLog.at)
    q = _raw(select(day, hour, weekday, SearchLog.lang, *counts()), split, scope).group_by(day, hour, weekday, SearchLog.lang)
    return [tuple(r) for r in s.execute(q)]


def _totals(s: Session, period: Period, split: Split, scope: Scope, grid: list[tuple]) -> dict[str, Any]:
    old = s.execute(_daily(select(*_daily_counts()), split, scope)).one()
    searches, zero, unanswered, clicked, succeeded = (
        sum(int(r[4 + i] or 0) for r in grid) + int(old[i] or 0) for i in range(N))
    gaps = s.scalar(select(func.count()).select_from(Flag).where(
        Flag.kind == "gap", Flag.created_at >= period.since, Flag.created_at < period.until,
        *(() if scope.departments is None else (Flag.department.in_(sorted(scope.departments)),))))
    no_click = searches - zero - clicked  # a search that showed results, none of them opened
    return {
        "searches": searches, "zero_answer": zero, "unanswered": unanswered, "clicked": clicked,
        "no_click": no_click, "didnt_find": int(gaps or 0),
        "success_rate": rate(succeeded, searches), "zero_answer_rate": rate(zero, searches),
        "unanswered_rate": rate(unanswered, searches), "no_click_rate": rate(no_click, searches),
        "didnt_find_rate": rate(int(gaps or 0), searches),
    }


def _by(s: Session, split: Split, scope: Scope, grid: list[tuple], index: int, daily_key: Any) -> Counter:
    out: Counter = Counter()
    for row in grid:
        out[str(row[index])] += row[4]
    for key, n in s.execute(_daily(select(daily_key, func.sum(SearchTotals.searches)), split, scope).group_by(daily_key)):
        out[str(key)] += int(n or 0)
    return out


def query_table(s: Session, split: Split, scope: Scope, min_searchers: int = 0) -> dict[str, dict[str, int]]:
    """Per query (case folded) typed by at least ``min_searchers`` distinct searchers over the period
    (daily pseudonyms, so the raw days' distinct count and the rolled-up days' add up):
    searches, searchers, zero-answer, opened. The threshold is applied in the database: only the
    shown queries come back."""
    text = func.lower(SearchLog.query).label("q")
    # Per (query, searcher) first, then per query: hash aggregations, where COUNT(DISTINCT) would sort.
    raw_counts = counts()[:4]
    inner = _raw(select(text, SearchLog.searcher.label("who"), *(c.label(f"c{i}") for i, c in enumerate(raw_counts))),
                 split, scope).group_by(text, SearchLog.searcher).subquery()
    raw = select(inner.c.q, func.sum(inner.c.c0).label("n"), func.sum(inner.c.c1).label("zero"),
                 func.sum(inner.c.c2).label("unanswered"), func.sum(inner.c.c3).label("clicked"),
                 func.count(inner.c.who).label("searchers")).group_by(inner.c.q)
    d = QueryDaily
    sums = _daily(select(d.query.label("q"), func.sum(d.searches), func.sum(d.zero), func.sum(d.unanswered),
                         func.sum(d.clicked), func.sum(d.searchers)), split, scope, d).group_by(d.query)
    zero = literal(0)
    people = (select(QuerySearchers.query.label("q"), zero, zero, zero, zero, func.sum(QuerySearchers.searchers))
              .where(split.daily(QuerySearchers.day), QuerySearchers.failed.is_(False),
                     areas_meet(QuerySearchers.areas, scope)).group_by(QuerySearchers.query))
    both = union_all(raw, sums, people).subquery()
    q = (select(both.c.q, func.sum(both.c.n), func.sum(both.c.zero), func.sum(both.c.unanswered), func.sum(both.c.clicked),
                func.sum(both.c.searchers)).group_by(both.c.q).having(func.sum(both.c.searchers) >= min_searchers))
    keys = ("searches", "zero", "unanswered", "clicked", "searchers")
    return {query: {k: int(v or 0) for k, v in zip(keys, values, strict=True)} for query, *values in s.execute(q)}


def shown_queries(s: Session, split: Split, scope: Scope, min_searchers: int, searches: int) -> tuple[list[dict], int]:
    """The queries whose text may be shown (typed by at least ``min_searchers`` distinct searchers),
    and how many searches the others stand for: they still count in every total."""
    table = query_table(s, split, scope, min_searchers)
    shown = [{"query": q, **row, "no_click": row["searches"] - row["zero"] - row["clicked"]} for q, row in table.items()]
    return shown, searches - sum(r["searches"] for r in shown)


def _top(rows: list[dict], key: str) -> list[dict]:
    return sorted((r for r in rows if r[key] > 0), key=lambda r: (-r[key], r["query"]))[:TOP]


def click_positions(s: Session, split: Split, scope: Scope) -> dict[int, int]:
    """Clicks per result position, on the searches of the period (a click counts on its search's day,
    as in the roll-up and as the success rate counts it)."""
    q = _raw(select(SearchClick.position, func.count()).join(SearchLog, SearchLog.id == SearchClick.search_id), split, scope)
    out: Counter = Counter({int(p): n for p, n in s.execute(q.group_by(SearchClick.position))})
    old = _daily(select(ClickDaily.position, func.sum(ClickDaily.clicks)), split, scope, ClickDaily)
    for p, n in s.execute(old.group_by(ClickDaily.position)):
        out[int(p)] += int(n or 0)
    return dict(sorted(out.items()))


def search_heatmap(s: Session, split: Split, scope: Scope, grid_rows: list[tuple]) -> list[list[int]]:
    """Searches per weekday (0 Sunday) × UTC hour."""
    grid = [[0] * 24 for _ in range(7)]
    for _day, h, d, _lang, n, *_rest in grid_rows:
        grid[int(d)][int(h)] += n
    old = _daily(select(SearchHours.day, SearchHours.hour, func.sum(SearchHours.searches)), split, scope, SearchHours)
    for day, h, n in s.execute(old.group_by(SearchHours.day, SearchHours.hour)):
        grid[(day.weekday() + 1) % 7][int(h)] += int(n or 0)  # date.weekday(): Monday 0; the grid: Sunday 0
    return grid


def search_report(s: Session, period: Period, scope: Scope, min_searchers: int) -> dict[str, Any]:
    split = split_for(s, period)
    grid = _raw_grid(s, split, scope)
    totals = _totals(s, period, split, scope, grid)
    rows, hidden = shown_queries(s, split, scope, min_searchers, totals["searches"])
    positions = click_positions(s, split, scope)
    clicks = sum(positions.values())
    per_day = _by(s, split, scope, grid, 0, SearchTotals.day)
    return {
        "totals": totals,
        "per_day": dict(sorted(per_day.items())),
        "per_language": dict(sorted(_by(s, split, scope, grid, 3, SearchTotals.lang).items())),
        "top_queries": _top(rows, "searches"),
        "top_zero_answer": _top(rows, "zero"),
        "top_no_click": _top(rows, "no_click"),
        "hidden_searches": hidden,
        "min_searchers": min_searchers,
        "click_positions": positions,
        "first_result_share": rate(positions.get(1, 0), clicks),
        "heatmap": search_heatmap(s, split, scope, grid),
    }
