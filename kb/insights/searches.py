"""Search analytics: volumes, rates, top queries (k-anonymous), click positions, peak hours.

Every figure adds the raw rows still kept (``search_log``) to the daily roll-ups of older
ones (``search_daily``, ``click_daily``), so a report reads the same before and after pruning.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Select, case, func, select, union_all
from sqlalchemy.orm import Session

from ..feedback.models import ClickDaily, Flag, SearchClick, SearchDaily, SearchHours, SearchLog
from .period import Period, Scope, utc_day, utc_hour_and_weekday

TOP = 20  # queries listed per table


def _raw(q: Select, period: Period, scope: Scope) -> Select:
    q = q.where(SearchLog.at >= period.since, SearchLog.at < period.until)
    return q if scope.departments is None else q.where(SearchLog.area.in_(sorted(scope.departments)))


def _daily(q: Select, period: Period, scope: Scope, table: type = SearchDaily) -> Select:
    q = q.where(table.day >= period.start, table.day <= period.end)
    return q if scope.departments is None else q.where(table.area.in_(sorted(scope.departments)))


def _raw_counts() -> tuple:
    return (func.count(), func.sum(case((SearchLog.results == 0, 1), else_=0)),
            func.sum(case((SearchLog.answered.is_(False), 1), else_=0)),
            func.sum(case((SearchLog.clicks > 0, 1), else_=0)))


def _daily_counts() -> tuple:
    return (func.sum(SearchDaily.searches), func.sum(SearchDaily.zero), func.sum(SearchDaily.unanswered),
            func.sum(SearchDaily.clicked))


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _raw_grid(s: Session, period: Period, scope: Scope) -> list[tuple]:
    """The raw rows of the period in one scan: (day, hour, weekday, lang, searches, zero, unanswered, clicked)."""
    day, (hour, weekday) = utc_day(s, SearchLog.at), utc_hour_and_weekday(s, SearchLog.at)
    q = _raw(select(day, hour, weekday, SearchLog.lang, *_raw_counts()), period, scope).group_by(day, hour, weekday, SearchLog.lang)
    return [tuple(r) for r in s.execute(q)]


def _totals(s: Session, period: Period, scope: Scope, grid: list[tuple]) -> dict[str, Any]:
    old = s.execute(_daily(select(*_daily_counts()), period, scope)).one()
    searches, zero, unanswered, clicked = (sum(int(r[i] or 0) for r in grid) + int(old[i - 4] or 0) for i in range(4, 8))
    gaps = s.scalar(select(func.count()).select_from(Flag).where(
        Flag.kind == "gap", Flag.created_at >= period.since, Flag.created_at < period.until,
        *(() if scope.departments is None else (Flag.department.in_(sorted(scope.departments)),))))
    no_click = searches - zero - clicked  # a search that showed results, none of them opened
    return {
        "searches": searches, "zero_answer": zero, "unanswered": unanswered, "clicked": clicked,
        "no_click": no_click, "didnt_find": int(gaps or 0),
        "success_rate": rate(clicked, searches), "zero_answer_rate": rate(zero, searches),
        "unanswered_rate": rate(unanswered, searches), "no_click_rate": rate(no_click, searches),
        "didnt_find_rate": rate(int(gaps or 0), searches),
    }


def _by(s: Session, period: Period, scope: Scope, grid: list[tuple], index: int, daily_key: Any) -> Counter:
    out: Counter = Counter()
    for row in grid:
        out[str(row[index])] += row[4]
    for key, n in s.execute(_daily(select(daily_key, func.sum(SearchDaily.searches)), period, scope).group_by(daily_key)):
        out[str(key)] += int(n or 0)
    return out


def query_table(s: Session, period: Period, scope: Scope, min_searchers: int = 0) -> dict[str, dict[str, int]]:
    """Per query (case folded) typed by at least ``min_searchers`` distinct searchers (daily
    pseudonyms, so raw days and rolled-up days add up): searches, searchers, zero-answer, opened.
    The threshold is applied in the database: only the shown queries come back."""
    text = func.lower(SearchLog.query).label("q")
    # Per (query, searcher) first, then per query: hash aggregations, where COUNT(DISTINCT) would sort.
    inner = _raw(select(text, SearchLog.searcher.label("who"), *(c.label(f"c{i}") for i, c in enumerate(_raw_counts()))),
                 period, scope).group_by(text, SearchLog.searcher).subquery()
    raw = select(inner.c.q, func.sum(inner.c.c0).label("n"), func.sum(inner.c.c1).label("zero"),
                 func.sum(inner.c.c2).label("unanswered"), func.sum(inner.c.c3).label("clicked"),
                 func.count(inner.c.who).label("searchers")).group_by(inner.c.q)
    old_text = func.lower(SearchDaily.query)
    old = _daily(select(old_text.label("q"), *(c.label(k) for c, k in zip(_daily_counts(), ("n", "zero", "unanswered", "clicked"), strict=True)),
                        func.sum(SearchDaily.searchers).label("searchers")), period, scope).group_by(old_text)
    both = union_all(raw, old).subquery()
    q = (select(both.c.q, func.sum(both.c.n), func.sum(both.c.zero), func.sum(both.c.unanswered), func.sum(both.c.clicked),
                func.sum(both.c.searchers)).group_by(both.c.q).having(func.sum(both.c.searchers) >= min_searchers))
    keys = ("searches", "zero", "unanswered", "clicked", "searchers")
    return {query: {k: int(v or 0) for k, v in zip(keys, values, strict=True)} for query, *values in s.execute(q)}


def shown_queries(s: Session, period: Period, scope: Scope, min_searchers: int, searches: int) -> tuple[list[dict], int]:
    """The queries whose text may be shown (typed by at least ``min_searchers`` distinct searchers),
    and how many searches the others stand for: they still count in every total."""
    table = query_table(s, period, scope, min_searchers)
    shown = [{"query": q, **row, "no_click": row["searches"] - row["zero"] - row["clicked"]} for q, row in table.items()]
    return shown, searches - sum(r["searches"] for r in shown)


def _top(rows: list[dict], key: str) -> list[dict]:
    return sorted((r for r in rows if r[key] > 0), key=lambda r: (-r[key], r["query"]))[:TOP]


def click_positions(s: Session, period: Period, scope: Scope) -> dict[int, int]:
    """Clicks per result position, by the time of the click (an index on it; no join for admins)."""
    q = select(SearchClick.position, func.count()).where(SearchClick.at >= period.since, SearchClick.at < period.until)
    if scope.departments is not None:
        q = q.join(SearchLog, SearchLog.id == SearchClick.search_id).where(SearchLog.area.in_(sorted(scope.departments)))
    out: Counter = Counter({int(p): n for p, n in s.execute(q.group_by(SearchClick.position))})
    old = _daily(select(ClickDaily.position, func.sum(ClickDaily.clicks)), period, scope, ClickDaily)
    for p, n in s.execute(old.group_by(ClickDaily.position)):
        out[int(p)] += int(n or 0)
    return dict(sorted(out.items()))


def search_heatmap(s: Session, period: Period, scope: Scope, grid_rows: list[tuple]) -> list[list[int]]:
    """Searches per weekday (0 Sunday) × UTC hour."""
    grid = [[0] * 24 for _ in range(7)]
    for _day, h, d, _lang, n, *_rest in grid_rows:
        grid[int(d)][int(h)] += n
    old = _daily(select(SearchHours.day, SearchHours.hour, func.sum(SearchHours.searches)), period, scope, SearchHours)
    for day, h, n in s.execute(old.group_by(SearchHours.day, SearchHours.hour)):
        grid[(day.weekday() + 1) % 7][int(h)] += int(n or 0)  # date.weekday(): Monday 0; the grid: Sunday 0
    return grid


def search_report(s: Session, period: Period, scope: Scope, min_searchers: int) -> dict[str, Any]:
    grid = _raw_grid(s, period, scope)
    totals = _totals(s, period, scope, grid)
    rows, hidden = shown_queries(s, period, scope, min_searchers, totals["searches"])
    positions = click_positions(s, period, scope)
    clicks = sum(positions.values())
    per_day = _by(s, period, scope, grid, 0, SearchDaily.day)
    return {
        "totals": totals,
        "per_day": dict(sorted(per_day.items())),
        "per_language": dict(sorted(_by(s, period, scope, grid, 3, SearchDaily.lang).items())),
        "top_queries": _top(rows, "searches"),
        "top_zero_answer": _top(rows, "zero"),
        "top_no_click": _top(rows, "no_click"),
        "hidden_searches": hidden,
        "min_searchers": min_searchers,
        "click_positions": positions,
        "first_result_share": rate(positions.get(1, 0), clicks),
        "heatmap": search_heatmap(s, period, scope, grid),
    }
