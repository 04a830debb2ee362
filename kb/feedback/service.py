"""Votes, flags and their life cycle. Plain arguments in, results or typed errors out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..content.models import Article, Department
from .db import Database
from .due import due_date
from .identity import Person
from .models import COMMENT_MAX, REASONS, STATUSES, Flag, FlagEvent, OutboxMessage, SearchLog, Vote, utcnow
from .notify import flag_messages, resolution_messages


class FeedbackError(Exception):
    """Base of the errors a caller turns into a message (web) or exit code (CLI)."""


class InvalidInputError(FeedbackError):
    pass


class PermissionDeniedError(FeedbackError):
    pass


class NotFoundError(FeedbackError):
    pass


class InvalidTransitionError(FeedbackError):
    pass


#: action -> (statuses it may start from, status it leads to, note required)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "acknowledge": (("new",), "acknowledged", False),
    "resolve": (("new", "acknowledged"), "resolved", True),
    "decline": (("new", "acknowledged"), "declined", True),
    "reopen": (("resolved", "declined"), "acknowledged", False),
}


@dataclass(frozen=True)
class Receipt:
    """What the employee is told after giving feedback."""

    vote_id: int | None
    flag_id: int | None
    department: Department | None
    changed: bool = False  # an earlier vote today was replaced


def _clean_comment(comment: str | None) -> str | None:
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInputError(f"comments are at most {COMMENT_MAX} characters")
    return comment or None


class FeedbackService:
    def __init__(
        self,
        db: Database,
        departments: Callable[[], dict[str, Department]],
        site_url: str = "http://127.0.0.1:8000",
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.departments = departments
        self.site_url = site_url.rstrip("/")
        self.now = now

    # --- employees ------------------------------------------------------
    def vote(
        self,
        *,
        voter: str,
        reporter: str | None,
        article: Article,
        helpful: bool,
        reason: str | None = None,
        comment: str | None = None,
        section: str | None = None,
        notify: bool = False,
    ) -> Receipt:
        if not helpful and reason is not None and reason not in REASONS:
            raise InvalidInputError(f"reason must be one of {', '.join(REASONS)}")
        comment = _clean_comment(comment)
        now = self.now()
        dep = self.departments().get(article.department)
        with self.db.session() as s:
            vote = s.scalar(select(Vote).where(Vote.article == article.path, Vote.voter == voter, Vote.day == now.date()))
            changed = vote is not None
            if vote is None:
                vote = Vote(article=article.path, voter=voter, day=now.date(), created_at=now)
                s.add(vote)
            vote.helpful = helpful
            vote.reason = None if helpful else reason
            vote.comment = None if helpful else comment
            vote.section = (section or None) and section[:300]
            vote.content_hash = article.content_hash
            vote.git_commit = article.git.commit if article.git else None
            vote.updated_at = now
            s.flush()
            flag_id = None
            if not helpful and reason:
                flag = s.scalar(select(Flag).where(Flag.vote_id == vote.id))
                if flag is None:
                    flag = self._new_flag(
                        s, kind="article", department=article.department, article=article.path, section=vote.section,
                        reason=reason, comment=comment, reporter=reporter, notify=notify, vote_id=vote.id,
                        content_hash=article.content_hash, git_commit=vote.git_commit, title=article.title,
                    )
                else:  # the same person refining today's vote: update, do not flag twice
                    flag.reason, flag.comment = reason, comment
                    flag.notify_reporter = bool(notify and reporter)
                    self._event(s, flag, reporter, "updated", {"reason": reason})
                flag_id = flag.id
            return Receipt(vote.id, flag_id, dep, changed)

    def flag_gap(
        self, *, reporter: str | None, query: str, department: str, comment: str | None = None, notify: bool = False
    ) -> Receipt:
        deps = self.departments()
        if department not in deps:
            raise InvalidInputError("choose the department that should answer")
        query = " ".join((query or "").split())[:500]
        if not query and not (comment or "").strip():
            raise InvalidInputError("say what you were looking for")
        comment = _clean_comment(comment)
        with self.db.session() as s:
            flag = self._new_flag(
                s, kind="gap", department=department, query=query, reason="missing", comment=comment,
                reporter=reporter, notify=notify, title=query,
            )
            return Receipt(None, flag.id, deps[department])

    def record_search(self, query: str, lang: str, department: str | None, results: int, top: str | None) -> None:
        with self.db.session() as s:
            s.add(SearchLog(at=self.now(), query=query[:500], lang=lang, department=department, results=results, top_article=top))

    # --- department owners and admins ------------------------------------
    def get_flag(self, actor: Person, flag_id: int) -> Flag:
        with self.db.session() as s:
            flag = s.get(Flag, flag_id)
            if flag is None:
                raise NotFoundError(f"no flag {flag_id}")
            if not actor.can_triage(flag.department):
                raise PermissionDeniedError("only the owning department or an admin can see this flag")
            _ = list(flag.events)  # load the audit log inside the session
            return flag

    def transition(self, actor: Person, flag_id: int, action: str, note: str | None = None) -> Flag:
        if action not in TRANSITIONS:
            raise InvalidTransitionError(f"unknown action {action!r}")
        sources, target, needs_note = TRANSITIONS[action]
        note = (note or "").strip() or None
        if needs_note and not note:
            raise InvalidInputError(f"to {action} a flag, say why in a note")
        with self.db.session() as s:
            flag = self._triageable(s, actor, flag_id)
            if flag.status not in sources:
                raise InvalidTransitionError(f"a {flag.status} flag cannot be {action}d")
            before = flag.status
            flag.status = target
            flag.updated_at = self.now()
            if target in ("resolved", "declined"):
                flag.resolution_note = note
                flag.closed_at = self.now()
            elif action == "reopen":
                flag.closed_at = None
            self._event(s, flag, actor.email, action, {"from": before, "to": target, "note": note})
            if target == "resolved" and flag.notify_reporter and flag.reporter:
                self._enqueue(s, resolution_messages(flag, self.departments().get(flag.department), self.site_url))
            return flag

    def assign(self, actor: Person, flag_ids: Sequence[int], assignee: str | None) -> int:
        assignee = (assignee or "").strip().lower() or None
        with self.db.session() as s:
            for fid in flag_ids:
                flag = self._triageable(s, actor, fid)
                if flag.assignee != assignee:
                    self._event(s, flag, actor.email, "assigned", {"from": flag.assignee, "to": assignee})
                    flag.assignee = assignee
                    flag.updated_at = self.now()
        return len(flag_ids)

    def bulk_acknowledge(self, actor: Person, flag_ids: Sequence[int]) -> int:
        done = 0
        for fid in flag_ids:
            try:
                self.transition(actor, fid, "acknowledge")
                done += 1
            except InvalidTransitionError:
                continue  # already acknowledged or closed: nothing to do
        return done

    def resolve_from_commit(self, flag_id: int, commit: str, message: str, author: str | None) -> bool:
        """Docs-as-code closure: a commit saying ``Resolves-Feedback: <id>``."""
        note = f"Resolved by commit {commit[:12]}: {message.strip().splitlines()[0] if message.strip() else ''}".strip()
        with self.db.session() as s:
            flag = s.get(Flag, flag_id)
            if flag is None or flag.status not in TRANSITIONS["resolve"][0]:
                return False
            before = flag.status
            flag.status, flag.resolution_note, flag.closed_at, flag.updated_at = "resolved", note, self.now(), self.now()
            self._event(s, flag, author, "resolve", {"from": before, "to": "resolved", "note": note, "commit": commit})
            if flag.notify_reporter and flag.reporter:
                self._enqueue(s, resolution_messages(flag, self.departments().get(flag.department), self.site_url))
            return True

    def list_flags(
        self,
        actor: Person,
        *,
        department: str | None = None,
        status: str | None = None,
        reason: str | None = None,
        article: str | None = None,
        older_than_days: int | None = None,
        text: str | None = None,
        sort: str = "due",
        limit: int = 500,
    ) -> list[Flag]:
        if not actor.is_triager:
            raise PermissionDeniedError("the feedback queue is for department owners and admins")
        q = select(Flag)
        if not actor.is_admin:
            q = q.where(Flag.department.in_(sorted(actor.owns)))
        if department:
            q = q.where(Flag.department == department)
        if status in STATUSES:
            q = q.where(Flag.status == status)
        elif status == "open":
            q = q.where(Flag.status.in_(("new", "acknowledged")))
        if reason in REASONS:
            q = q.where(Flag.reason == reason)
        if article:
            q = q.where(Flag.article == article)
        if older_than_days:
            q = q.where(Flag.created_at <= self.now() - timedelta(days=older_than_days))
        if text:
            like = f"%{text.lower()}%"
            q = q.where(func.lower(func.coalesce(Flag.comment, "") + " " + func.coalesce(Flag.query, "")).like(like))
        order = {
            "due": (Flag.due_at.is_(None), Flag.due_at, Flag.id),
            "newest": (Flag.created_at.desc(), Flag.id.desc()),
            "oldest": (Flag.created_at, Flag.id),
        }.get(sort, (Flag.due_at, Flag.id))
        with self.db.session() as s:
            return list(s.scalars(q.order_by(*order).limit(limit)))

    # --- internals --------------------------------------------------------
    def _triageable(self, s: Session, actor: Person, flag_id: int) -> Flag:
        flag = s.get(Flag, flag_id)
        if flag is None:
            raise NotFoundError(f"no flag {flag_id}")
        if not actor.can_triage(flag.department):
            raise PermissionDeniedError("only the owning department or an admin can change this flag")
        return flag

    def _event(self, s: Session, flag: Flag, actor: str | None, action: str, detail: dict) -> None:
        s.add(FlagEvent(flag=flag, at=self.now(), actor=actor, action=action, detail=detail))

    def _new_flag(self, s: Session, *, title: str, notify: bool, reporter: str | None, **fields) -> Flag:  # noqa: ANN003
        now = self.now()
        dep = self.departments().get(fields["department"])
        flag = Flag(
            **fields, reporter=reporter, notify_reporter=bool(notify and reporter), status="new",
            created_at=now, updated_at=now, due_at=due_date(now, dep.response_target if dep else None),
        )
        s.add(flag)
        s.flush()
        self._event(s, flag, reporter, "created", {"kind": flag.kind, "reason": flag.reason})
        self._enqueue(s, flag_messages(flag, dep, title, self.site_url))
        return flag

    def _enqueue(self, s: Session, messages: list[OutboxMessage]) -> None:
        for m in messages:
            m.next_attempt_at = self.now()
            s.add(m)
