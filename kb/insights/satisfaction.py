"""Satisfaction: the reporter of a resolved flag rates its handling 1-5, from the resolution
email (a signed link naming the flag; no sign-in needed) or from My requests. Both go through
``rate``, the one rule. Per department: sample size, mean and the spread of scores, by month;
no mean under ``MIN_RATINGS`` ratings ("3 ratings, too few to say"), like helpfulness."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..feedback.db import Database
from ..feedback.errors import InvalidInputError, NotFoundError
from ..feedback.models import Flag, FlagRating
from .period import Period, Scope, as_utc

SALT = "kb-rate-flag"
FORM_SALT = b"kb-rate-form"
SCORES = range(1, 6)
MIN_RATINGS = 5


def rating_token(secret: str, flag_id: int) -> str:
    return URLSafeSerializer(secret, salt=SALT).dumps(flag_id)


def flag_of_token(secret: str, token: str) -> int | None:
    try:
        value = URLSafeSerializer(secret, salt=SALT).loads(token[:200])
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def form_key(secret: str, token: str) -> str:
    """What the rating page's form carries instead of the session's CSRF token: bound to the link's
    token, so only a page rendered for that link posts it (see ``kb/web/insights.py``)."""
    return hmac.new(secret.encode(), FORM_SALT + b":" + token.encode(), hashlib.sha256).hexdigest()[:40]


def valid_form_key(secret: str, token: str, key: str) -> bool:
    return hmac.compare_digest(form_key(secret, token), key[:100])


def score_of(raw: str) -> int | None:
    """A submitted score as a number, or None when it is not one of 1-5."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) == 1 and int(raw) in SCORES else None


def rate(db: Database, flag_id: int, score: int, now: datetime, reporter: str | None = None) -> Flag:
    """Record (or change: the latest counts) the rating of a resolved flag.

    ``reporter``: the signed-in person rating from My requests, who must have reported the flag;
    None for the email's link, whose signed token already names the flag and so its reporter."""
    if score not in SCORES:
        raise InvalidInputError("bad_score", "a rating is a whole number from 1 to 5")

    def record(s: Session) -> Flag:
        flag = s.get(Flag, flag_id)
        if flag is None or flag.status != "resolved" or (reporter is not None and flag.reporter != reporter):
            raise NotFoundError("not_found", "no resolved flag to rate", id=flag_id)
        rating = s.scalar(select(FlagRating).where(FlagRating.flag_id == flag_id))
        if rating is None:
            rating = FlagRating(flag_id=flag_id, department=flag.department)
            s.add(rating)
        rating.score, rating.at = score, now
        return flag

    # The email's link and My requests can rate at once: the second insert runs again as an update.
    return db.upsert(record)


@dataclass(frozen=True)
class RatingState:
    """What the rating page shows: the flag, whether it can be rated now, its current score."""

    flag_id: int
    resolved: bool
    score: int | None
    at: datetime | None


def rating_state(db: Database, flag_id: int) -> RatingState | None:
    with db.session() as s:
        flag = s.get(Flag, flag_id)
        if flag is None:
            return None
        rating = s.scalar(select(FlagRating).where(FlagRating.flag_id == flag_id))
        return RatingState(flag_id, flag.status == "resolved", rating.score if rating else None,
                           as_utc(rating.at) if rating else None)


def satisfaction_report(s: Session, period: Period, scope: Scope) -> dict[str, Any]:
    q = select(FlagRating.department, FlagRating.score, FlagRating.at).where(
        FlagRating.at >= period.since, FlagRating.at < period.until)
    if scope.departments is not None:
        q = q.where(FlagRating.department.in_(sorted(scope.departments)))
    deps: dict[str, Counter] = {}
    months: dict[tuple[str, str], Counter] = {}
    for dep, score, at in s.execute(q):
        deps.setdefault(dep, Counter())[score] += 1
        months.setdefault((dep, as_utc(at).strftime("%Y-%m")), Counter())[score] += 1

    def summary(c: Counter) -> dict[str, Any]:
        n = sum(c.values())
        return {"ratings": n, "mean": round(sum(k * v for k, v in c.items()) / n, 2) if n >= MIN_RATINGS else None,
                **{f"score_{k}": c[k] for k in SCORES}}

    return {"departments": {d: summary(c) for d, c in sorted(deps.items())},
            "by_month": [{"department": d, "month": m, **summary(c)} for (d, m), c in sorted(months.items())]}
