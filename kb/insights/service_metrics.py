"""Service metrics of the feedback loop: flags received, time to acknowledge and to resolve
(median and 90th percentile), share handled within the department's target, open and overdue,
by ISO week, and the peak hours of flags.

Acknowledged means the first triage step: an acknowledge, or a resolve or decline straight from new.
Resolved means closed (resolved or declined): both are the department's answer.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..feedback.models import Flag, FlagEvent
from ..feedback.rules import OPEN_STATUSES
from .period import Period, Scope, as_utc, utc_hour_and_weekday

ACK_ACTIONS = ("acknowledge", "resolve", "decline")
CLOSE_ACTIONS = ("resolve", "decline")


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (``q`` in (0, 1]): a value that occurred, no interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered, mid = sorted(values), len(values) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _hours(values: list[float]) -> dict[str, float | None]:
    med, p90 = median(values), percentile(values, 0.9)
    return {"count": len(values), "median_hours": None if med is None else round(med, 2),
            "p90_hours": None if p90 is None else round(p90, 2)}


def _first_events(s: Session, received: Any, actions: tuple[str, ...]) -> dict[int, datetime]:
    """The first of ``actions`` per flag of ``received`` (the period's flags): one grouped join."""
    q = (select(FlagEvent.flag_id, func.min(FlagEvent.at)).join(Flag, Flag.id == FlagEvent.flag_id)
         .where(received, FlagEvent.action.in_(actions)).group_by(FlagEvent.flag_id))
    return {fid: as_utc(at) for fid, at in s.execute(q)}


def _scoped(q, scope: Scope):  # noqa: ANN001, ANN202 (a Select)
    return q if scope.departments is None else q.where(Flag.department.in_(sorted(scope.departments)))


def service_report(s: Session, period: Period, scope: Scope, now: datetime) -> dict[str, Any]:
    received = and_(Flag.created_at >= period.since, Flag.created_at < period.until,
                    *(() if scope.departments is None else (Flag.department.in_(sorted(scope.departments)),)))
    flags = list(s.execute(select(Flag.id, Flag.department, Flag.created_at, Flag.due_at).where(received)))
    acked, closed = _first_events(s, received, ACK_ACTIONS), _first_events(s, received, CLOSE_ACTIONS)
    deps: dict[str, dict[str, list]] = {}
    weeks: dict[str, Counter] = {}
    for f in flags:
        created = as_utc(f.created_at)
        d = deps.setdefault(f.department, {"ack": [], "close": [], "within": []})
        year, number, _ = created.isocalendar()
        week = f"{year}-W{number:02d}"
        weeks.setdefault(week, Counter())["received"] += 1
        if f.id in acked:
            d["ack"].append((acked[f.id] - created).total_seconds() / 3600)
        if f.id in closed:
            d["close"].append((closed[f.id] - created).total_seconds() / 3600)
            d["within"].append(f.due_at is None or closed[f.id] <= as_utc(f.due_at))
            weeks[week]["resolved"] += 1
    open_q = _scoped(select(Flag.department, Flag.due_at).where(Flag.status.in_(OPEN_STATUSES)), scope)
    open_now: Counter = Counter()
    overdue: Counter = Counter()
    for dep, due in s.execute(open_q):
        open_now[dep] += 1
        overdue[dep] += bool(due is not None and as_utc(due) < now)
    out = {}
    count = Counter(f.department for f in flags)
    for dep in sorted(set(deps) | set(open_now)):
        d = deps.get(dep, {"ack": [], "close": [], "within": []})
        within = d["within"]
        out[dep] = {"received": count[dep], "acknowledge": _hours(d["ack"]), "resolve": _hours(d["close"]),
                    "within_target": sum(within), "within_target_share": round(sum(within) / len(within), 4) if within else None,
                    "open": open_now[dep], "overdue": overdue[dep]}
    return {"departments": out, "by_week": {w: dict(c) for w, c in sorted(weeks.items())},
            "heatmap": flag_heatmap(s, period, scope)}


def flag_heatmap(s: Session, period: Period, scope: Scope) -> list[list[int]]:
    hour, weekday = utc_hour_and_weekday(s, Flag.created_at)
    grid = [[0] * 24 for _ in range(7)]
    q = _scoped(select(hour, weekday, func.count()).where(
        Flag.created_at >= period.since, Flag.created_at < period.until), scope).group_by(hour, weekday)
    for h, d, n in s.execute(q):
        grid[int(d)][int(h)] = n
    return grid
