"""Due dates from a department's promise ("3 business days"), on its working calendar.

A business day is Monday to Friday and not a public holiday of the department's
calendar (``holidays: JP`` in departments.yml, from the ``holidays`` package)
nor one of its company closure days (``closed: [2026-12-29, ...]``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays as holiday_data

from ..content.models import Department, ResponseTarget


@lru_cache(maxsize=64)
def _public_holidays(code: str, year: int) -> frozenset[date]:
    return frozenset(holiday_data.country_holidays(code, years=year))


@lru_cache(maxsize=256)
def known_calendar(code: str) -> bool:
    """Whether ``code`` names a country calendar the ``holidays`` package has (``JP``, ``US``, ``DE``...)."""
    return code.upper() in holiday_data.list_supported_countries()


@dataclass(frozen=True)
class Calendar:
    """Which days a department works: Mon-Fri minus its public holidays and closure days."""

    country: str | None = None
    closed: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day.weekday() >= 5 or day in self.closed:
            return False
        return not (self.country and known_calendar(self.country) and day in _public_holidays(self.country.upper(), day.year))

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end`` is not later)."""
        days, current = 0, start
        while current < end:
            current += timedelta(days=1)
            days += self.is_working_day(current)
        return days


WEEKDAYS = Calendar()


def calendar_for(department: Department | None) -> Calendar:
    """The department's calendar (weekdays only when it names none)."""
    if department is None:
        return WEEKDAYS
    return Calendar(department.holidays, frozenset(department.closed))


def add_business_days(start: datetime, days: int, calendar: Calendar = WEEKDAYS) -> datetime:
    """``days`` working days after ``start``; a start on a day off counts from the next working morning."""
    current = start
    while not calendar.is_working_day(current.date()):
        current = (current + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    added = 0
    while added < days:
        current += timedelta(days=1)
        if calendar.is_working_day(current.date()):
            added += 1
    return current


def due_date(created: datetime, target: ResponseTarget | None, calendar: Calendar = WEEKDAYS) -> datetime | None:
    if target is None:
        return None
    if target.unit == "business_days":
        return add_business_days(created, target.amount, calendar)
    if target.unit == "hours":
        return created + timedelta(hours=target.amount)
    return created + timedelta(days=target.amount)



def calendar_problems(departments: Iterable[Department]) -> list[tuple[Department, str]]:
    """What ``kb check`` says about ``holidays:``: codes the holidays package does not know."""
    return [(d, f"'{d.id}': holidays names '{d.holidays}', which is not a calendar of the holidays package "
                "(country codes such as JP, US, DE, KR, CN)")
            for d in departments if d.holidays and not known_calendar(d.holidays)]
