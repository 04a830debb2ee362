"""Due dates from a department's promise ("3 business days")."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..content.models import ResponseTarget


def add_business_days(start: datetime, days: int) -> datetime:
    """``days`` working days (Mon-Fri) after ``start``; a weekend start counts from Monday."""
    current = start
    while current.weekday() >= 5:
        current = (current + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def due_date(created: datetime, target: ResponseTarget | None) -> datetime | None:
    if target is None:
        return None
    if target.unit == "business_days":
        return add_business_days(created, target.amount)
    if target.unit == "hours":
        return created + timedelta(hours=target.amount)
    return created + timedelta(days=target.amount)
