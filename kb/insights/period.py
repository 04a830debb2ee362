"""What a report covers: the days (``Period``, UTC) and the departments (``Scope``),
and the few SQL expressions that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Integer, and_, cast, false, func, or_
from sqlalchemy.orm import Session

MAX_DAYS = 3660  # a custom range longer than ten years is a typo


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @classmethod
    def last(cls, days: int, today: date) -> Period:
        return cls(today - timedelta(days=days - 1), today)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def since(self) -> datetime:
        return midnight(self.start)

    @property
    def until(self) -> datetime:
        """The first instant after the period."""
        return midnight(self.end + timedelta(days=1))

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


@dataclass(frozen=True)
class Split:
    """A period's days as the reports read them: the ``rolled`` ones from the daily roll-ups,
    every other one from its raw rows. Each day is read from exactly one of the two."""

    period: Period
    rolled: frozenset[date]

    def runs(self, rolled: bool) -> list[tuple[date, date]]:
        """Consecutive days (first, last) that are (``rolled``) or are not rolled up: a few ranges, not a day list."""
        out: list[tuple[date, date]] = []
        day = self.period.start
        while day <= self.period.end:
            if (day in self.rolled) == rolled:
                if out and out[-1][1] == day - timedelta(days=1):
                    out[-1] = (out[-1][0], day)
                else:
                    out.append((day, day))
            day += timedelta(days=1)
        return out

    def raw(self, column: ColumnElement) -> ColumnElement:
        """``column`` (a raw row's timestamp) falls on a day read raw."""
        return or_(false(), *(and_(column >= midnight(a), column < midnight(b + timedelta(days=1)))
                              for a, b in self.runs(False)))

    def daily(self, column: ColumnElement) -> ColumnElement:
        """``column`` (a roll-up's day) is a day read from the roll-ups."""
        return or_(false(), *(and_(column >= a, column <= b) for a, b in self.runs(True)))


@dataclass(frozen=True)
class Scope:
    """The departments a report covers; ``None``: all of them (an admin's view)."""

    departments: frozenset[str] | None

    def allows(self, department: str | None) -> bool:
        return self.departments is None or department in self.departments


def utc_day(s: Session, column: ColumnElement) -> ColumnElement:
    """The UTC calendar day of a timestamp column, as text YYYY-MM-DD on both databases."""
    if s.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)  # SQLite keeps the UTC wall time kb wrote


def month_of(s: Session, column: ColumnElement) -> ColumnElement:
    """The month of a date column, as text YYYY-MM on both databases."""
    if s.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def utc_hour_and_weekday(s: Session, column: ColumnElement) -> tuple[ColumnElement, ColumnElement]:
    """Hour 0-23 and weekday 0-6 (Sunday 0) in UTC."""
    if s.get_bind().dialect.name == "postgresql":
        local = func.timezone("UTC", column)
        return cast(func.extract("hour", local), Integer), cast(func.extract("dow", local), Integer)
    return cast(func.strftime("%H", column), Integer), cast(func.strftime("%w", column), Integer)


def as_utc(value: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite returns it without its zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


PRESET_DAYS = (7, 30, 90)


def period_from(days: str | None, start: str | None, end: str | None, today: date) -> Period:
    """The period a request asks for: ``days`` one of 7/30/90 (default 30), or a custom
    ``start``..``end`` (ISO dates). Raises ValueError for anything else."""
    if start or end:
        first, last = date.fromisoformat(start or ""), date.fromisoformat(end or today.isoformat())
        if first > last or (last - first).days >= MAX_DAYS:
            raise ValueError("the period must start before it ends and last at most ten years")
        return Period(first, last)
    n = int(days) if days and days.isascii() and days.isdigit() else (30 if not days else 0)
    if n not in PRESET_DAYS:
        raise ValueError("days must be 7, 30 or 90")
    return Period.last(n, today)
