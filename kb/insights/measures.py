"""What a raw search row counts as, in SQL, in one place: the reports read raw rows of the days
not rolled up yet and the roll-up reads those of finished days, so both must count alike.

A success is a search with a result opened and no "didn't find" reported from its page. A failed
search (the gap radar's) is one with zero results, not answered, nothing opened, or a "didn't find".
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, case, func, or_, true

from ..feedback.models import SearchLog
from .period import Scope


def succeeded() -> ColumnElement:
    return and_(SearchLog.clicks > 0, SearchLog.didnt_find.is_(False))


def failed() -> ColumnElement:
    return or_(SearchLog.results == 0, SearchLog.answered.is_(False), SearchLog.clicks == 0, SearchLog.didnt_find.is_(True))


def _n(condition: ColumnElement) -> ColumnElement:
    return func.sum(case((condition, 1), else_=0))


def counts() -> tuple[ColumnElement, ...]:
    """searches, zero answers, not answered, a result opened, succeeded: the order of ``SearchDaily``'s sums."""
    return (func.count(), _n(SearchLog.results == 0), _n(SearchLog.answered.is_(False)), _n(SearchLog.clicks > 0),
            _n(succeeded()))


def failed_count() -> ColumnElement:
    return _n(failed())


def areas_key(areas: Iterable[str | None]) -> str:
    """The set of departments one searcher searched a query in, as ``QuerySearchers.areas`` keeps it."""
    return "," + ",".join(sorted({a or "" for a in areas})) + ","


def areas_meet(column: ColumnElement, scope: Scope, with_none: bool = False) -> ColumnElement:
    """Rows of ``QuerySearchers`` whose set of departments meets the scope (``with_none``: or holds
    a search about no department, as the gap radar counts them for owners)."""
    if scope.departments is None:
        return true()
    names = sorted(scope.departments) + ([""] if with_none else [])
    return or_(*(column.contains(f",{name},", autoescape=True) for name in names))
