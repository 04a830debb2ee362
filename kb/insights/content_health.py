"""Content health: articles overdue (or soon due) for review, most-read first; articles nobody
opened in 90 days; translations older than their original (the original changed after the
translation's last commit)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..content import Library
from ..feedback.models import ArticleView, ViewDaily
from .period import Period, Scope
from .rollup import split_for

UNREAD_DAYS = 90
SOON_DAYS = 30


def views(s: Session, period: Period) -> Counter:
    """Views per article in ``period``: the roll-ups of its rolled-up days, the raw rows of the others."""
    split = split_for(s, period)
    out: Counter = Counter()
    raw = select(ArticleView.article, func.count()).where(split.raw(ArticleView.at))
    out.update(dict(s.execute(raw.group_by(ArticleView.article)).all()))
    old = select(ViewDaily.article, func.sum(ViewDaily.views)).where(split.daily(ViewDaily.day))
    for article, n in s.execute(old.group_by(ViewDaily.article)):
        out[article] += int(n or 0)
    return out


def content_report(s: Session, period: Period, scope: Scope, library: Library, today: date, review_days: int) -> dict[str, Any]:
    arts = [a for a in library.articles.values() if scope.allows(a.department)]
    read = views(s, period)
    recent = views(s, Period.last(UNREAD_DAYS, today))
    stale = []
    for a in arts:
        due = a.review_due(review_days)
        if due is not None and due <= today + timedelta(days=SOON_DAYS):
            stale.append({"article": a.path, "title": a.title, "department": a.department, "review_due": due.isoformat(),
                          "overdue": due < today, "views": read[a.path]})
    stale.sort(key=lambda r: (-r["views"], r["review_due"], r["article"]))
    unread = sorted(({"article": a.path, "title": a.title, "department": a.department} for a in arts if not recent[a.path]),
                    key=lambda r: r["article"])
    behind = []
    for a in arts:
        original = library.articles.get(a.translation_of) if a.translation_of else None
        if original is not None and original.git and a.git and original.git.date > a.git.date:
            behind.append({"article": a.path, "title": a.title, "lang": a.lang, "department": a.department,
                           "original": original.path, "original_changed": original.git.date.isoformat(),
                           "translation_changed": a.git.date.isoformat()})
    behind.sort(key=lambda r: r["article"])
    most_read = [{"article": p, "title": library.articles[p].title, "views": n}
                 for p, n in read.most_common() if p in library.articles and scope.allows(library.articles[p].department)][:20]
    return {"stale": stale, "never_viewed_90_days": unread, "translations_behind": behind, "most_read": most_read}
