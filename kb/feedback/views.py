"""FlagView: a flag as the triage queue, the flag page and the exports show it.

Computed in one place (overdue, "article changed since", the allowed actions,
the diff link) so the three never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..content.models import Article
from ..content.urls import SiteUrls
from .delivery import Delivery
from .models import Flag, FlagEntry, FlagEvent
from .rules import OPEN_STATUSES, Action, allowed_actions

#: The columns of the CSV and JSON exports, in order.
EXPORT_FIELDS = (
    "id", "kind", "department", "status", "reason", "article", "article_title", "section", "query",
    "comment", "assignee", "reporter", "created_at", "due_at", "overdue", "resolution_note", "article_changed",
    "reports", "merged_into",
)


@dataclass(frozen=True)
class FlagView:
    id: int
    kind: str
    department: str
    status: str
    reason: str | None
    article: str | None  # the article's path
    article_title: str | None  # None when the article is gone
    article_slug: str | None
    section: str | None
    query: str | None
    comment: str | None
    assignee: str | None
    reporter: str | None
    notify_reporter: bool
    created_at: datetime
    due_at: datetime | None
    overdue: bool  # still open after the department's response target
    resolution_note: str | None
    article_changed: bool  # the article's content differs from the version flagged
    diff_url: str | None  # the repository's compare view for that change (KB_DIFF_URL)
    actions: tuple[Action, ...]
    events: tuple[FlagEvent, ...] = ()  # the audit log, on the flag's own page only
    reports: int = 1  # the reports on this flag (each one is an entry)
    entries: tuple[FlagEntry, ...] = ()  # reports, replies and notes, on the flag's own page only
    department_name: str = ""  # what people read; ``department`` is the stored id
    merged_into: int | None = None  # a duplicate: the flag it was merged into
    deliveries: tuple[Delivery, ...] = ()  # its notifications and their state, on the flag's own page only

    def as_dict(self) -> dict[str, Any]:
        """The export row: plain values, times in ISO 8601."""
        row = {name: getattr(self, name) for name in EXPORT_FIELDS}
        row["created_at"] = self.created_at.isoformat()
        row["due_at"] = self.due_at.isoformat() if self.due_at else None
        return row


def _aware(dt: datetime | None) -> datetime | None:
    # SQLite gives back naive datetimes; they were stored in UTC.
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def flag_view(
    flag: Flag, article: Article | None, urls: SiteUrls, now: datetime, events: tuple[FlagEvent, ...] = (),
    department_name: str | None = None,
) -> FlagView:
    """``flag`` as of ``now``, with ``article`` the current version of the article it is about."""
    due = _aware(flag.due_at)
    changed = bool(article and flag.content_hash and article.content_hash != flag.content_hash)
    diff_url = None
    if changed and flag.git_commit and article.git:
        diff_url = urls.diff(flag.git_commit, article.git.commit, flag.article)
    return FlagView(
        id=flag.id, kind=flag.kind, department=flag.department, status=flag.status, reason=flag.reason,
        article=flag.article, article_title=article.title if article else None,
        article_slug=article.slug if article else None, section=flag.section, query=flag.query,
        comment=flag.comment, assignee=flag.assignee, reporter=flag.reporter,
        notify_reporter=bool(flag.notify_reporter), created_at=_aware(flag.created_at), due_at=due,
        overdue=bool(due and due < now and flag.status in OPEN_STATUSES),
        resolution_note=flag.resolution_note, article_changed=changed, diff_url=diff_url,
        actions=allowed_actions(flag.status), events=events, reports=flag.reports or 1,
        department_name=department_name or flag.department, merged_into=flag.merged_into,
    )
