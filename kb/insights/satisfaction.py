"""Satisfaction: the reporter of a resolved flag rates its handling 1-5, in one click from the
resolution email (a signed link naming the flag; no sign-in needed) or from the flag's page.
Per department: sample size, mean and the spread of scores, by month."""

from __future__ import annotations

from collections import Counter
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
SCORES = range(1, 6)


def rating_token(secret: str, flag_id: int) -> str:
    return URLSafeSerializer(secret, salt=SALT).dumps(flag_id)


def flag_of_token(secret: str, token: str) -> int | None:
    try:
        value = URLSafeSerializer(secret, salt=SALT).loads(token[:200])
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def rate(db: Database, flag_id: int, score: int, now: datetime) -> Flag:
    """Record (or change) the rating of a resolved flag."""
    if score not in SCORES:
        raise InvalidInputError("bad_score", "a rating is a whole number from 1 to 5")
    with db.session() as s:
        flag = s.get(Flag, flag_id)
        if flag is None or flag.status != "resolved":
            raise NotFoundError("not_found", "no resolved flag to rate", id=flag_id)
        rating = s.scalar(select(FlagRating).where(FlagRating.flag_id == flag_id))
        if rating is None:
            rating = FlagRating(flag_id=flag_id, department=flag.department)
            s.add(rating)
        rating.score, rating.at = score, now
        return flag


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
        return {"ratings": n, "mean": round(sum(k * v for k, v in c.items()) / n, 2) if n else None,
                **{f"score_{k}": c[k] for k in SCORES}}

    return {"departments": {d: summary(c) for d, c in sorted(deps.items())},
            "by_month": [{"department": d, "month": m, **summary(c)} for (d, m), c in sorted(months.items())]}
