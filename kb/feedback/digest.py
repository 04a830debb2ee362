"""The daily overdue digest: one email per department owner listing overdue and new flags.

``kb outbox digest`` runs it from cron. A ``digest_log`` row per department and
day (a unique key) is written in the same transaction as the outbox rows, so a
second run the same day, or two at once, queue nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..content.models import Department
from .models import DigestLog, Flag
from .notify import digest_notice
from .rules import OPEN_STATUSES
from .views import _aware


@dataclass
class DigestReport:
    sent: list[str] = field(default_factory=list)  # department ids whose owners were written to
    already: list[str] = field(default_factory=list)  # a digest for that day was queued before
    quiet: list[str] = field(default_factory=list)  # nothing overdue and nothing new


class DigestMixin:
    """Mixed into FeedbackService."""

    def queue_digests(self, day: date | None = None) -> DigestReport:
        """Queue today's digest for every department with owners and something to report."""
        now = self.now()
        day = day or now.date()
        report = DigestReport()
        for dep in sorted(self.library().departments.values(), key=lambda d: d.id):
            if dep.declared and dep.owners:
                getattr(report, self._digest(dep, day)).append(dep.id)
        return report

    def _digest(self, dep: Department, day: date) -> str:
        now = self.now()
        try:
            with self.db.session() as s:
                if s.scalar(select(DigestLog.id).where(DigestLog.department == dep.id, DigestLog.day == day)):
                    return "already"
                open_flags = list(s.scalars(select(Flag).where(
                    Flag.department == dep.id, Flag.status.in_(OPEN_STATUSES)).order_by(Flag.due_at, Flag.id)))
                overdue = [f for f in open_flags if f.due_at is not None and _aware(f.due_at) < now]
                new = [f for f in open_flags if f.status == "new" and _aware(f.created_at) >= now - timedelta(days=1)
                       and f not in overdue]
                if not overdue and not new:
                    return "quiet"
                s.add(DigestLog(department=dep.id, day=day, at=now, overdue=len(overdue), new=len(new)))
                notice = digest_notice(dep, day.isoformat(), overdue, new, self.urls)
                for owner in dict.fromkeys(o.lower() for o in dep.owners):
                    self._enqueue(s, self.channels.for_person(notice, owner))
                s.flush()  # the unique key (department, day) answers here when another run won
                return "sent"
        except IntegrityError:
            return "already"

