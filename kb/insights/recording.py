"""What kb writes down about reading, and nothing more: searches with what they showed,
results opened from them, article views. No identity is stored anywhere here.

Distinct searchers are counted with ``searcher_hash``: a keyed hash of the session that
changes every day, so one day's searches cannot be linked to another day's, nor to a person.

Writing is off the request: rows go to a queue that one background thread commits in batches
(a commit on a busy PostgreSQL server costs milliseconds; a queue put, microseconds). A search
is named by a random ``ref`` made here, so its result links need no database round trip; its
clicks go through the same queue, after it. What is queued when the process dies is lost:
this is statistics, not records.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
import os
import queue
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..feedback.db import Database
from ..feedback.models import ArticleView, SearchClick, SearchLog
from ..feedback.rules import QUERY_MAX, clean_query, clean_text
from .period import as_utc
from .rollup import bump

SHOWN_MAX = 50  # results of page 1 kept per search
#: A click later than this after its search is someone reusing an old link, not an answer.
CLICK_WINDOW = timedelta(hours=24)
#: A "didn't find" this long after a search still belongs to it (the reader read the results first).
DIDNT_FIND_WINDOW = timedelta(hours=2)
BATCH = 500  # rows per transaction at most
QUEUE_MAX = 100_000  # beyond this (the database is down), new rows are dropped rather than kept in memory
REF_CHARS = 12
log = logging.getLogger(__name__)


def valid_ref(ref: str | None) -> bool:
    return bool(ref) and len(ref) == REF_CHARS and all(c.isalnum() or c in "-_" for c in ref)


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


#: A queued write: changes a raw row and returns the UTC day of the row it changed (None: nothing changed).
Write = Callable[[Session], "date | None"]


def _adds(row: SearchLog | ArticleView) -> Write:
    def write(s: Session) -> date:
        s.add(row)
        return as_utc(row.at).date()

    return write


class Writer:
    """One background thread that runs queued writes, many per transaction; each transaction ends
    by bumping the roll-up marks of the days it touched (``rollup``): a late row is never lost."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.queue: queue.Queue[Write] = queue.Queue(QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def submit(self, write: Write) -> None:
        if self._pid != os.getpid():
            # A forked server worker (gunicorn's preload): the parent's thread, queue and lock are not ours.
            self.queue, self._thread, self._lock, self._pid = queue.Queue(QUEUE_MAX), None, threading.Lock(), os.getpid()
        if self._thread is None:
            self._start()
        try:
            self.queue.put_nowait(write)
        except queue.Full:
            log.warning("insights: the write queue is full; a row was dropped")

    def flush(self) -> None:
        """Wait until everything queued so far is written (reports and tests read their writes)."""
        if self._thread is not None:
            self.queue.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kb-insights-writer", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    def _write(self, batch: list[Write]) -> None:
        try:
            with self.db.session() as s:
                # A click's query autoflushes the searches before it: it finds its search.
                days = [day for write in batch if (day := write(s)) is not None]
                bump(s, days)
        except Exception as exc:  # one bad row must not lose the batch: retry each alone
            if len(batch) == 1:
                log.warning("insights: could not write a row: %s", exc)
                return
            for write in batch:
                self._write([write])


class Recorder:
    def __init__(self, db: Database, secret: Callable[[], str], now: Callable[[], datetime]) -> None:
        self.db = db
        self.secret = secret
        self.now = now
        self.writer = Writer(db)

    def flush(self) -> None:
        self.writer.flush()

    def search(self, rec: SearchRecord, session_key: str | None = None) -> str:
        """Queue one search; returns its reference (for the ``?from=`` of its result links)."""
        now, ref = self.now(), secrets.token_urlsafe(9)
        row = SearchLog(ref=ref,
            at=now, query=clean_query(rec.query)[:QUERY_MAX], lang=rec.lang[:8],
            department=rec.department and clean_text(rec.department)[:100], results=rec.results,
            top_article=rec.shown[0] if rec.shown else None, area=rec.area and rec.area[:100],
            answered=rec.answered, shown=list(rec.shown[:SHOWN_MAX]),
            searcher=searcher_hash(self.secret(), session_key, now.date()),
        )
        self.writer.submit(_adds(row))
        return ref

    def click(self, ref: str, position: int, article: str) -> None:
        """A result opened from search ``ref`` at ``position`` (from 1), queued."""
        if valid_ref(ref) and 0 < position <= SHOWN_MAX:
            now = self.now()
            self.writer.submit(lambda s: self._click(s, ref, position, article, now))

    def _click(self, s: Session, ref: str, position: int, article: str, now: datetime) -> date | None:
        """Recorded once, and only when that search really showed ``article`` there, recently:
        links cannot invent clicks. Returns the search's day."""
        search = s.scalar(select(SearchLog).where(SearchLog.ref == ref))
        shown = (search.shown or []) if search else []
        if search is None or position > len(shown) or shown[position - 1] != article:
            return None
        at = as_utc(search.at)  # SQLite drops the zone
        if not timedelta(0) <= now - at <= CLICK_WINDOW:
            return None
        if s.scalar(select(SearchClick.id).where(SearchClick.search_id == search.id, SearchClick.position == position)):
            return None
        s.add(SearchClick(search_id=search.id, at=now, article=article, position=position,
                          ms_to_click=int((now - at).total_seconds() * 1000)))
        search.clicks = (search.clicks or 0) + 1  # kept on the row: reports never join the clicks
        return at.date()

    def didnt_find(self, ref: str) -> None:
        """A "didn't find" reported from the page of search ``ref``, queued: that search is no success."""
        if valid_ref(ref):
            now = self.now()
            self.writer.submit(lambda s: self._didnt_find(s, ref, now))

    def _didnt_find(self, s: Session, ref: str, now: datetime) -> date | None:
        search = s.scalar(select(SearchLog).where(SearchLog.ref == ref))
        if search is None or search.didnt_find or not timedelta(0) <= now - as_utc(search.at) <= DIDNT_FIND_WINDOW:
            return None
        search.didnt_find = True
        return as_utc(search.at).date()

    def view(self, article: str) -> None:
        self.writer.submit(_adds(ArticleView(at=self.now(), article=article)))
