"""What kb writes down about reading, and nothing more: searches with what they showed,
results opened from them, article views. No identity is stored anywhere here.

Distinct searchers are counted with ``searcher_hash``: a keyed hash of the session that
changes every day, so one day's searches cannot be linked to another day's, nor to a person.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from ..feedback.db import Database
from ..feedback.models import ArticleView, SearchClick, SearchLog
from ..feedback.rules import QUERY_MAX, clean_query, clean_text

SHOWN_MAX = 50  # results of page 1 kept per search
#: A click later than this after its search is someone reusing an old link, not an answer.
CLICK_WINDOW = timedelta(hours=24)


def searcher_hash(secret: str, session_key: str | None, day: date) -> str | None:
    """The day's pseudonym of a session (None without one): equal within a day, unlinkable across days."""
    if not session_key:
        return None
    msg = f"{day.isoformat()}|{session_key}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class SearchRecord:
    """A search as recorded: plain values, from a ``SearchPage``."""

    query: str
    lang: str
    department: str | None  # the filter chosen
    area: str | None  # the filter, else the top result's department
    results: int
    shown: Sequence[str]  # article ids of page 1, in order
    answered: bool | None


class Recorder:
    def __init__(self, db: Database, secret: Callable[[], str], now: Callable[[], datetime]) -> None:
        self.db = db
        self.secret = secret
        self.now = now

    def search(self, rec: SearchRecord, session_key: str | None = None) -> int:
        """Write one search; returns its id (for the ``?from=`` of its result links)."""
        now = self.now()
        row = SearchLog(
            at=now, query=clean_query(rec.query)[:QUERY_MAX], lang=rec.lang[:8],
            department=rec.department and clean_text(rec.department)[:100], results=rec.results,
            top_article=rec.shown[0] if rec.shown else None, area=rec.area and rec.area[:100],
            answered=rec.answered, shown=list(rec.shown[:SHOWN_MAX]),
            searcher=searcher_hash(self.secret(), session_key, now.date()),
        )
        with self.db.session() as s:
            s.add(row)
            s.flush()
            return row.id

    def click(self, search_id: int, position: int, article: str) -> bool:
        """A result opened from search ``search_id`` at ``position`` (from 1). Recorded once, and only
        when that search really showed ``article`` there, recently: links cannot invent clicks."""
        if not (0 < search_id < 2**31 and 0 < position <= SHOWN_MAX):
            return False
        now = self.now()
        with self.db.session() as s:
            search = s.get(SearchLog, search_id)
            shown = (search.shown or []) if search else []
            if search is None or position > len(shown) or shown[position - 1] != article:
                return False
            at = search.at if search.at.tzinfo else search.at.replace(tzinfo=now.tzinfo)  # SQLite drops the zone
            if not timedelta(0) <= now - at <= CLICK_WINDOW:
                return False
            if s.scalar(select(SearchClick.id).where(SearchClick.search_id == search_id, SearchClick.position == position)):
                return False
            s.add(SearchClick(search_id=search_id, at=now, article=article, position=position,
                              ms_to_click=int((now - at).total_seconds() * 1000)))
            search.clicks = (search.clicks or 0) + 1  # kept on the row: reports never join the clicks
            return True

    def view(self, article: str) -> None:
        with self.db.session() as s:
            s.add(ArticleView(at=self.now(), article=article))
