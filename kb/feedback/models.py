"""The feedback tables (SQLAlchemy 2). Changes go through Alembic migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .rules import QUERY_MAX, SECTION_MAX

KEY_MAX = 200  # characters of an outbox dedupe key


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Vote(Base):
    """'Was this helpful?' One per person per article per day; changing it updates the row."""

    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("article", "voter", "day", name="uq_vote_per_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article: Mapped[str] = mapped_column(String(500), index=True)
    voter: Mapped[str] = mapped_column(String(320))  # email, or an anonymous session key
    day: Mapped[date] = mapped_column(Date, index=True)  # the helpfulness report's range
    helpful: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)
    section: Mapped[str | None] = mapped_column(String(SECTION_MAX))
    content_hash: Mapped[str] = mapped_column(String(64))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    #: When the reader last changed their answer (No to Yes, Yes to No); the reports stay on the flag.
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Flag(Base):
    """Something for a department to act on: a 'not helpful' vote with a reason, or a content gap."""

    __tablename__ = "flags"
    __table_args__ = (Index("ix_flags_department_status", "department", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "article" | "gap"
    department: Mapped[str] = mapped_column(String(100))
    article: Mapped[str | None] = mapped_column(String(500), index=True)
    section: Mapped[str | None] = mapped_column(String(SECTION_MAX))
    query: Mapped[str | None] = mapped_column(String(QUERY_MAX))
    reason: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)
    reporter: Mapped[str | None] = mapped_column(String(320), index=True)  # None when anonymous
    notify_reporter: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    assignee: Mapped[str | None] = mapped_column(String(320))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))  # the article version flagged
    git_commit: Mapped[str | None] = mapped_column(String(64))
    vote_id: Mapped[int | None] = mapped_column(ForeignKey("votes.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)  # service metrics
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: How many reports this flag stands for: anonymous "No"s on one open article flag are counted here.
    reports: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: A duplicate merged into another flag: closed, and its reporters are told when that one is resolved.
    merged_into: Mapped[int | None] = mapped_column(Integer, index=True)

    events: Mapped[list[FlagEvent]] = relationship(back_populates="flag", order_by="FlagEvent.id")
    entries: Mapped[list[FlagEntry]] = relationship(back_populates="flag", order_by="FlagEntry.id")


class FlagEntry(Base):
    """One thing a person wrote on a flag: a report, the reporter's follow-up, an owner's reply or note.

    Rows are only ever added: a later submission never rewrites what someone wrote.
    ``kind`` is one of ``rules.ENTRY_KINDS``; notes are internal, the reporter never sees them.
    """

    __tablename__ = "flag_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    author: Mapped[str | None] = mapped_column(String(320))  # None: anonymous
    reason: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str | None] = mapped_column(Text)
    section: Mapped[str | None] = mapped_column(String(SECTION_MAX))
    vote_id: Mapped[int | None] = mapped_column(ForeignKey("votes.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    flag: Mapped[Flag] = relationship(back_populates="entries")


class FlagEvent(Base):
    """The audit log: every change to a flag, by whom, when."""

    __tablename__ = "flag_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    flag: Mapped[Flag] = relationship(back_populates="events")


class SearchLog(Base):
    """Every search, without who searched: for zero-result and success rates."""

    __tablename__ = "search_log"
    __table_args__ = (Index("ix_search_log_area_at", "area", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    query: Mapped[str] = mapped_column(String(QUERY_MAX))
    lang: Mapped[str] = mapped_column(String(8))
    department: Mapped[str | None] = mapped_column(String(100))
    results: Mapped[int] = mapped_column(Integer)
    top_article: Mapped[str | None] = mapped_column(String(500))
    #: The department the search is about: its filter, else the top result's (what owners see).
    area: Mapped[str | None] = mapped_column(String(100))
    answered: Mapped[bool | None] = mapped_column(Boolean)  # the search's own verdict, where it gives one
    shown: Mapped[list | None] = mapped_column(JSON)  # article ids of page 1, in order (position = index + 1)
    #: A keyed hash of the session that changes every day: counts distinct searchers, links no one.
    searcher: Mapped[str | None] = mapped_column(String(32))
    clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # results opened from it
    #: A random reference for the result links' ``?from=``: written in the background, so no id yet.
    ref: Mapped[str | None] = mapped_column(String(16), index=True, unique=True)
    #: A "didn't find" was reported from this search's page: it is no success, even with a result opened.
    didnt_find: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SearchClick(Base):
    """A result opened from a search (``?from=<search>&pos=N`` on the result link)."""

    __tablename__ = "search_clicks"
    __table_args__ = (UniqueConstraint("search_id", "position", name="uq_click_per_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("search_log.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    article: Mapped[str] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer)
    ms_to_click: Mapped[int] = mapped_column(Integer)


class ArticleView(Base):
    """One article page shown, without who read it."""

    __tablename__ = "article_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    article: Mapped[str] = mapped_column(String(500))


class SearchDaily(Base):
    """Searches of a finished day (``InsightsRollup``), rolled up per day, department, language and query."""

    __tablename__ = "search_daily"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    area: Mapped[str | None] = mapped_column(String(100))
    lang: Mapped[str] = mapped_column(String(8))
    query: Mapped[str] = mapped_column(String(QUERY_MAX))
    searches: Mapped[int] = mapped_column(Integer)
    zero: Mapped[int] = mapped_column(Integer)
    unanswered: Mapped[int] = mapped_column(Integer)
    clicked: Mapped[int] = mapped_column(Integer)
    searchers: Mapped[int] = mapped_column(Integer)  # distinct daily hashes of this row (k-anonymity: QuerySearchers)
    succeeded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # opened, no "didn't find"
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # what the gap radar counts


class QueryDaily(Base):
    """Searches of a finished day per query (case folded) and department: what the top-query tables
    and the gap radar add up. ``searchers``: distinct searchers who searched it that day in this
    department only (the others are in ``QuerySearchers``), so sums stay exact in any scope."""

    __tablename__ = "query_daily"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    query: Mapped[str] = mapped_column(String(QUERY_MAX))
    area: Mapped[str | None] = mapped_column(String(100))
    searches: Mapped[int] = mapped_column(Integer)
    zero: Mapped[int] = mapped_column(Integer)
    unanswered: Mapped[int] = mapped_column(Integer)
    clicked: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    searchers: Mapped[int] = mapped_column(Integer)
    failed_searchers: Mapped[int] = mapped_column(Integer)  # the same, counting failed searches only


class QuerySearchers(Base):
    """Searchers who searched one query on one finished day in more than one department, by that set
    of departments (``areas``: ``,payroll,it,``; a search about no department is the empty name,
    ``,,``). A scope counts the rows whose set meets it: each daily pseudonym is counted once.
    ``failed``: the set of their failed searches' departments. Rare, so this table stays small."""

    __tablename__ = "query_searchers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    query: Mapped[str] = mapped_column(String(QUERY_MAX))
    areas: Mapped[str] = mapped_column(String(1000))
    failed: Mapped[bool] = mapped_column(Boolean)
    searchers: Mapped[int] = mapped_column(Integer)


class SearchTotals(Base):
    """Searches of a finished day per department and language: totals, per day, per language."""

    __tablename__ = "search_totals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    area: Mapped[str | None] = mapped_column(String(100))
    lang: Mapped[str] = mapped_column(String(8))
    searches: Mapped[int] = mapped_column(Integer)
    zero: Mapped[int] = mapped_column(Integer)
    unanswered: Mapped[int] = mapped_column(Integer)
    clicked: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[int] = mapped_column(Integer)


class InsightsRollup(Base):
    """A day whose raw rows are rolled up. Every write of a raw row bumps its day's ``version``;
    the roll-up records the version it read (``rolled``), so a late row makes the day unrolled
    again until the next roll-up, and reports read its raw rows meanwhile. ``final``: retention
    deleted the raw rows, the roll-up is all there is."""

    __tablename__ = "insights_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rolled: Mapped[int | None] = mapped_column(Integer)
    rolled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    final: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ClickDaily(Base):
    """Clicks on the searches of a finished day, per day (the search's), department and result position."""

    __tablename__ = "click_daily"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    area: Mapped[str | None] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    clicks: Mapped[int] = mapped_column(Integer)


class SearchHours(Base):
    """Searches of a finished day per day, department and UTC hour: the peak-hours heatmap."""

    __tablename__ = "search_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    area: Mapped[str | None] = mapped_column(String(100))
    hour: Mapped[int] = mapped_column(Integer)
    searches: Mapped[int] = mapped_column(Integer)


class FlagRating(Base):
    """How the reporter rated the handling of their resolved flag (1-5); the latest rating counts."""

    __tablename__ = "flag_ratings"
    __table_args__ = (UniqueConstraint("flag_id", name="uq_rating_per_flag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"))
    department: Mapped[str] = mapped_column(String(100))
    score: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ViewDaily(Base):
    """Article views of a finished day, per day and article."""

    __tablename__ = "view_daily"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    article: Mapped[str] = mapped_column(String(500))
    views: Mapped[int] = mapped_column(Integer)


class ExportLog(Base):
    """Who exported which flags, when: exports carry reporters' comments out of the application."""

    __tablename__ = "export_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    format: Mapped[str] = mapped_column(String(10))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    flags: Mapped[int] = mapped_column(Integer)


class OutboxMessage(Base):
    """A side effect leaving the process (a channel's payload), written with the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # the name of a channel in kb.feedback.channels
    target: Mapped[str] = mapped_column(String(1000))
    payload: Mapped[dict] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(KEY_MAX), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The worker holding the lease (``host:pid:random``): only it renews the lease or marks the row done.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The flag this message is about, so its page shows what was delivered (None: digests).
    flag_id: Mapped[int | None] = mapped_column(Integer, index=True)


class DigestLog(Base):
    """One overdue digest per department and day: the unique key is what stops a second run sending."""

    __tablename__ = "digest_log"
    __table_args__ = (UniqueConstraint("department", "day", name="uq_digest_per_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department: Mapped[str] = mapped_column(String(100))
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    overdue: Mapped[int] = mapped_column(Integer)
    new: Mapped[int] = mapped_column(Integer)
