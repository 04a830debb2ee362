"""Helpfulness: yes/no votes per article and department with the 95% Wilson interval.

No share is shown under ``MIN_VOTES`` votes ("3 votes, too few to say"); the worst articles
come first ranked by the interval's upper bound, so one angry vote does not top the list.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..content import Library
from ..feedback.models import Vote
from .period import Period, Scope, month_of

Z95 = 1.959963984540054
MIN_VOTES = 5
WORST = 20


def wilson(yes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``yes / n`` (``(0, 1)`` with no votes)."""
    if n <= 0:
        return 0.0, 1.0
    p = yes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def score(yes: int, no: int) -> dict[str, Any]:
    """What a row shows: counts always; the share and interval only from MIN_VOTES votes."""
    n = yes + no
    low, high = wilson(yes, n)
    enough = n >= MIN_VOTES
    return {"yes": yes, "no": no, "votes": n, "enough": enough, "share": round(yes / n, 4) if enough else None,
            "low": round(low, 4) if enough else None, "high": round(high, 4) if enough else None,
            "rank_high": round(high, 6)}


def helpfulness_report(s: Session, period: Period, scope: Scope, library: Library) -> dict[str, Any]:
    # One grouped read (the votes' day is indexed): per article, month, verdict and reason.
    month = month_of(s, Vote.day)
    q = (select(Vote.article, month, Vote.helpful, Vote.reason, func.count())
         .where(Vote.day >= period.start, Vote.day <= period.end)
         .group_by(Vote.article, month, Vote.helpful, Vote.reason))
    arts: dict[str, Counter] = {}
    reasons: Counter = Counter()
    months: dict[str, Counter] = {}
    for path, when, helpful, reason, n in s.execute(q):
        art = library.articles.get(path)
        if art is None or not scope.allows(art.department):
            continue
        verdict = "yes" if helpful else "no"
        arts.setdefault(path, Counter())[verdict] += n
        months.setdefault(str(when), Counter())[verdict] += n
        if not helpful and reason:
            reasons[reason] += n
    rows = []
    by_dep: dict[str, Counter] = {}
    for path, c in arts.items():
        art = library.articles[path]
        rows.append({"article": path, "title": art.title, "department": art.department, **score(c["yes"], c["no"])})
        by_dep.setdefault(art.department, Counter()).update(c)
    rows.sort(key=lambda r: (r["rank_high"], -r["no"], r["article"]))
    return {
        "articles": rows[:WORST],
        "departments": {d: score(c["yes"], c["no"]) for d, c in sorted(by_dep.items())},
        "reasons": dict(reasons.most_common()),
        "by_month": {m: score(c["yes"], c["no"]) for m, c in sorted(months.items())},
        "min_votes": MIN_VOTES,
    }
