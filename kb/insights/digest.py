"""The weekly digest per department, through the outbox: last ISO week's key figures, its top gap
groups, its worst-rated and stale articles, with links. One per department and week: the outbox's
dedupe key (``digest-<department>-<year>-W<week>``) makes a second run a no-op."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..content import Department
from ..content.urls import SiteUrls
from ..feedback.channels import Channels, Notice
from ..feedback.identity import Person
from ..feedback.models import OutboxMessage
from .period import Period

TOP = 3


def last_week(now: datetime) -> Period:
    """Monday to Sunday of the ISO week before ``now``'s."""
    monday = now.date() - timedelta(days=now.date().weekday() + 7)
    return Period(monday, monday + timedelta(days=6))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def digest_notice(dep: Department, period: Period, r: dict[str, Any], urls: SiteUrls) -> Notice:
    year, week, _ = period.start.isocalendar()
    t = r["search"]["totals"]
    svc = r["service"]["departments"].get(dep.id, {"received": 0, "open": 0, "overdue": 0, "resolve": {"median_hours": None}})
    lines = [f"{dep.name}, week {year}-W{week:02d} ({period.start} to {period.end}, UTC)", "",
             f"Searches: {t['searches']}; a result opened: {_pct(t['success_rate'])}; zero answers: {_pct(t['zero_answer_rate'])}; "
             f"\"didn't find\": {t['didnt_find']}",
             f"Flags received: {svc['received']}; open: {svc['open']}; overdue: {svc['overdue']}; "
             f"median hours to resolve: {svc['resolve']['median_hours'] if svc['resolve']['median_hours'] is not None else '-'}"]
    gaps = [g for g in r["gaps"]["groups"] if g["examples"]][:TOP]
    if gaps:
        lines += ["", "Top gaps (failed searches grouped by meaning):"]
        lines += [f"  {g['searches']} searches ({', '.join(g['languages'])}): {'; '.join(g['examples'][:2])}" for g in gaps]
    worst = [a for a in r["helpfulness"]["articles"] if a["no"]][:TOP]
    if worst:
        lines += ["", "Worst-rated articles:"]
        lines += [f"  {a['title']}: {a['yes']} yes, {a['no']} no  {urls.article(a['article'])}" for a in worst]
    stale = r["content"]["stale"][:TOP]
    if stale:
        lines += ["", "Due for review (most-read first):"]
        lines += [f"  {a['title']} (due {a['review_due']}, {a['views']} views)  {urls.article(a['article'])}" for a in stale]
    lines += ["", f"Everything: {urls.absolute('/insights/search')}?department={dep.id}&start={period.start}&end={period.end}"]
    return Notice(f"digest-{dep.id}-{year}-W{week:02d}", f"[kb] {dep.name}: the week {year}-W{week:02d} in numbers", "\n".join(lines))


def _quiet(dep: Department, r: dict[str, Any]) -> bool:
    """No search, no flag and no vote in the department that week."""
    received = r["service"]["departments"].get(dep.id, {}).get("received", 0)
    voted = any(a["yes"] or a["no"] for a in r["helpfulness"]["articles"])
    return not r["search"]["totals"]["searches"] and not received and not voted


def queue_digests(insights: Any, channels: Channels, departments: list[Department], urls: SiteUrls, now: datetime) -> int:
    """Queue last week's digest for every department with notification targets; returns rows added."""
    period = last_week(now)
    added = 0
    for dep in departments:
        if not dep.declared or not dep.notify:
            continue
        reader = Person(f"digest@{dep.id}", owns=frozenset({dep.id}))
        report = {name: insights.report(reader, name, period) for name in ("search", "gaps", "helpfulness", "service", "content")}
        if _quiet(dep, report):
            continue  # nothing happened that week: no email is better than a page of zeros
        messages = channels.for_department(digest_notice(dep, period, report, urls), dep)
        with insights.db.session() as s:
            for m in messages:
                if s.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == m.dedupe_key)) is None:
                    m.next_attempt_at = now
                    s.add(m)
                    added += 1
    return added
