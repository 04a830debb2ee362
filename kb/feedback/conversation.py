"""The reporter's side of a flag and the owner's words to them.

My requests (what a person sent, what became of it, their follow-ups and
withdrawing), an owner's replies (emailed through the outbox) and internal
notes (never shown to the reporter), and a reader's current vote on an article.
Mixed into ``FeedbackService``: the same database, clock, channels and rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..content import Library
from ..content.models import Department
from .errors import InvalidInputError, NotFoundError, PermissionDeniedError
from .identity import Person
from .models import Flag, FlagEntry, FlagRating, Vote
from .notify import comment_notice, reply_notice
from .rules import OPEN_STATUSES, REPORTER_VISIBLE, WITHDRAW, clean_comment, valid_id
from .views import _aware


@dataclass(frozen=True)
class VoteState:
    """A reader's latest answer to "Was this helpful?" on one article."""

    helpful: bool
    day: date
    changed_at: datetime | None


@dataclass(frozen=True)
class EntryView:
    kind: str
    author: str | None
    reason: str | None
    text: str | None
    created_at: datetime


@dataclass(frozen=True)
class RequestView:
    """One flag as its reporter sees it on My requests: no internal notes."""

    id: int
    kind: str
    title: str | None  # the article's title (None when it is gone) or the search typed
    article_slug: str | None
    department: Department | None
    department_id: str
    status: str
    created_at: datetime
    due_at: datetime | None
    overdue: bool
    resolution_note: str | None
    entries: tuple[EntryView, ...]
    rating: int | None = None  # the reporter's current 1-5 rating of the handling

    @property
    def can_withdraw(self) -> bool:
        return self.status in WITHDRAW.sources

    @property
    def can_rate(self) -> bool:
        """Only a resolved request is rated (kb.insights.satisfaction.rate holds the rule)."""
        return self.status == "resolved"


class Conversations:
    """FeedbackService's methods for reporters and for talking to them (see the module docstring)."""

    def current_vote(self, voter: str, article_path: str) -> VoteState | None:
        """The reader's latest vote on the article (any day), or None."""
        with self.db.session() as s:
            vote = s.scalar(select(Vote).where(Vote.article == article_path, Vote.voter == voter)
                            .order_by(Vote.day.desc(), Vote.id.desc()).limit(1))
            return VoteState(vote.helpful, vote.day, _aware(vote.changed_at)) if vote else None

    def my_requests(self, person: Person) -> list[RequestView]:
        """Every report and gap ``person`` sent, newest first, as they may see it."""
        email = self._reporter_email(person)
        lib, now = self.library(), self.now()
        with self.db.session() as s:
            flags = list(s.scalars(select(Flag).where(Flag.reporter == email).options(selectinload(Flag.entries))
                                   .order_by(Flag.id.desc()).limit(500)))
            ratings = dict(s.execute(select(FlagRating.flag_id, FlagRating.score)
                                     .where(FlagRating.flag_id.in_([f.id for f in flags]))).all()) if flags else {}
            return [self._request_view(f, lib, now, ratings.get(f.id)) for f in flags]

    def comment_on_request(self, person: Person, flag_id: int, text: str | None) -> None:
        """The reporter adds to their request: a new entry (its department is told), never an edit."""
        text = self._required(text)
        with self.db.session() as s:
            flag = self._own_flag(s, person, flag_id)
            entry = self._converse(s, flag, "comment", person.email, text, "commented")
            dep = self._department(flag.department)
            self._enqueue(s, self.channels.for_department(comment_notice(flag, entry, self.urls), dep), flag)

    def withdraw_request(self, person: Person, flag_id: int) -> None:
        """The reporter no longer needs an answer: the flag closes as withdrawn (an owner may reopen it)."""
        with self.db.session() as s:
            flag = self._own_flag(s, person, flag_id)
            if flag.status not in WITHDRAW.sources:
                raise InvalidInputError("not_open", "only an open request can be withdrawn", id=flag_id)
            self._entry(s, flag, "withdrawn", person.email, None)
            self._apply(s, flag, WITHDRAW, person.email, None)

    def reply(self, actor: Person, flag_id: int, text: str | None) -> None:
        """An owner answers the reporter without resolving: an entry they see, and an email to them."""
        text = self._required(text)
        with self.db.session() as s:
            flag = self._triageable(s, actor, flag_id)
            entry = self._converse(s, flag, "reply", actor.email, text, "replied")
            if flag.reporter:
                notice = reply_notice(flag, entry, self._department(flag.department), self.urls)
                self._enqueue(s, self.channels.for_person(notice, flag.reporter), flag)

    def add_note(self, actor: Person, flag_id: int, text: str | None) -> None:
        """An internal note for the department: the reporter never sees it and is not told."""
        text = self._required(text)
        with self.db.session() as s:
            flag = self._triageable(s, actor, flag_id)
            self._converse(s, flag, "note", actor.email, text, "noted", touch=False)

    # --- internals --------------------------------------------------------
    def _converse(self, s: Session, flag: Flag, kind: str, author: str | None, text: str, event: str,
                  touch: bool = True) -> FlagEntry:
        """Add one entry to the flag's conversation, with its history event (``touch``: the flag moved)."""
        entry = self._entry(s, flag, kind, author, text)
        s.flush()
        self._event(s, flag, author, event, {"entry": entry.id})
        if touch:
            flag.updated_at = self.now()
        return entry

    @staticmethod
    def _reporter_email(person: Person) -> str:
        if not person.email:
            raise PermissionDeniedError("sign_in", "My requests needs a signed-in person")
        return person.email

    @staticmethod
    def _required(text: str | None) -> str:
        text = clean_comment(text)
        if not text:
            raise InvalidInputError("empty_text", "write something first")
        return text

    def _own_flag(self, s: Session, person: Person, flag_id: int) -> Flag:
        """The flag ``person`` reported; anyone else's answers like a missing one (ids are no oracle)."""
        email = self._reporter_email(person)
        flag = s.get(Flag, flag_id) if valid_id(flag_id) else None
        if flag is None or flag.reporter != email:
            raise NotFoundError("not_found", f"no request {flag_id}", id=flag_id)
        return flag

    def _request_view(self, flag: Flag, lib: Library, now: datetime, rating: int | None = None) -> RequestView:
        article = lib.articles.get(flag.article) if flag.article else None
        due = _aware(flag.due_at)
        entries = tuple(
            EntryView(e.kind, e.author, e.reason, e.text, _aware(e.created_at))
            for e in flag.entries if e.kind in REPORTER_VISIBLE
        )
        return RequestView(
            id=flag.id, kind=flag.kind, title=(article.title if article else None) if flag.kind == "article" else flag.query,
            article_slug=article.slug if article else None, department=lib.departments.get(flag.department),
            department_id=flag.department, status=flag.status, created_at=_aware(flag.created_at), due_at=due,
            overdue=bool(due and due < now and flag.status in OPEN_STATUSES),
            resolution_note=flag.resolution_note, entries=entries, rating=rating,
        )
