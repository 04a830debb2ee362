"""Votes, flags and their life cycle. Plain arguments in, results or typed errors out.

Every rule lives here or in ``rules``; the web layer and the CLI ask, they do
not decide. Notifications are outbox rows written in the same transaction as
the change that causes them; ``outbox.deliver_due`` sends them later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..content import Article, Department, Library
from ..content.gitmeta import ResolvingCommit
from ..content.urls import SiteUrls
from .channels import Channels
from .conversation import Conversations
from .db import Database
from .delivery import DeliveryMixin
from .digest import DigestMixin
from .due import calendar_for, due_date
from .errors import InvalidInputError, NotFoundError, PermissionDeniedError
from .identity import Person
from .models import ExportLog, Flag, FlagEntry, FlagEvent, OutboxMessage, SearchLog, Vote, utcnow
from .notify import flag_notice, merged_resolution_notice, resolution_notice
from .rules import (
    ACTIONS,
    CLOSED_STATUSES,
    OPEN_STATUSES,
    QUERY_MAX,
    REASONS,
    STATUSES,
    Action,
    allowed_actions,
    check_action,
    check_vote,
    clean_age,
    clean_comment,
    clean_note,
    clean_query,
    clean_section,
    clean_text,
    valid_id,
)
from .triage import TriageMixin
from .views import FlagView, flag_view


@dataclass(frozen=True)
class Receipt:
    """What the employee is told after giving feedback."""

    vote_id: int | None
    flag_id: int | None
    department: Department | None
    changed: bool = False  # the reader had already answered today (every report is kept)


class FeedbackService(Conversations, TriageMixin, DeliveryMixin, DigestMixin):
    def __init__(
        self,
        db: Database,
        library: Callable[[], Library],
        urls: SiteUrls,
        channels: Channels,
        now: Callable[[], datetime] = utcnow,
        admins: Iterable[str] = (),
        rate_link: Callable[[int], str] | None = None,
    ) -> None:
        """``rate_link(flag id)``: the reporter's signed link to rate a resolution (insights)."""
        self.db = db
        self.admins = frozenset(a.lower() for a in admins)  # KB_ADMINS: who may be assigned any flag
        self.rate_link = rate_link
        self.library = library  # called per use: the content reloads while the site runs
        self.urls = urls
        self.channels = channels
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
        """'Was this helpful?'. A No (with its required reason) becomes a flag for the department."""
        check_vote(helpful, reason)
        comment = clean_comment(comment)
        # The section the reader came to, if it is a heading of this article; else none.
        section = clean_section(section, {h.anchor for h in article.headings})
        now = self.now()
        # Two requests of one reader can race to insert the day's vote (a double click,
        # two tabs): the loser runs again and updates the winner's row.
        return self.db.upsert(lambda s: self._vote(s, now, voter, reporter, article, helpful, reason, comment,
                                                   section, notify))

    def _vote(self, s: Session, now: datetime, voter: str, reporter: str | None, article: Article, helpful: bool,
              reason: str | None, comment: str | None, section: str | None, notify: bool) -> Receipt:
        vote = s.scalar(select(Vote).where(Vote.article == article.path, Vote.voter == voter, Vote.day == now.date()))
        repeat = vote is not None
        if vote is None:
            vote = Vote(article=article.path, voter=voter, day=now.date(), created_at=now)
            s.add(vote)
        elif vote.helpful != helpful:
            vote.changed_at = now
        was_no = repeat and vote.helpful is False
        vote.helpful = helpful
        if not helpful:  # the latest report; every report is also its own entry on the flag
            vote.reason, vote.comment, vote.section = reason, comment, section
        vote.content_hash = article.content_hash
        vote.git_commit = article.git.commit if article.git else None
        vote.updated_at = now
        s.flush()
        if helpful:
            if was_no:
                self._found_helpful(s, vote, reporter)
            return Receipt(vote.id, None, self._department(article.department), repeat)
        flag = self._flag_vote(s, vote, article, reporter, notify, comment, section)
        return Receipt(vote.id, flag.id, self._department(article.department), repeat)

    def flag_gap(
        self, *, reporter: str | None, query: str, department: str, comment: str | None = None, notify: bool = False
    ) -> Receipt:
        """'Didn't find it?' on a search: a content gap for the department chosen."""
        dep = self._department(department)
        if dep is None:
            raise InvalidInputError("choose_department", "choose the department that should answer")
        query = clean_query(query)
        comment = clean_comment(comment)
        if not query and not comment:
            raise InvalidInputError("empty_gap", "say what you were looking for")
        with self.db.session() as s:
            flag = self._new_flag(
                s, kind="gap", department=department, query=query, reason="missing", comment=comment,
                reporter=reporter, notify=notify, title=query,
            )
            return Receipt(None, flag.id, dep)

    def record_search(self, query: str, lang: str, department: str | None, results: int, top: str | None) -> None:
        with self.db.session() as s:
            s.add(SearchLog(at=self.now(), query=clean_query(query)[:QUERY_MAX], lang=lang,
                            department=department and clean_text(department), results=results, top_article=top))

    # --- department owners and admins ------------------------------------
    def record_export(self, actor: Person, fmt: str, filters: dict[str, str], flags: int) -> None:
        """Exports carry employees' comments out of kb: each one is recorded, with its filters."""
        with self.db.session() as s:
            s.add(ExportLog(at=self.now(), actor=actor.email or "", format=fmt[:10], flags=flags,
                            filters={k: clean_text(v)[:200] for k, v in filters.items() if v}))

    def get_flag(self, actor: Person, flag_id: int) -> Flag:
        """The flag with its audit log (``events``), if ``actor`` may triage it."""
        with self.db.session() as s:
            flag = self._triageable(s, actor, flag_id)
            _ = list(flag.events), list(flag.entries)  # load the audit log and the entries inside the session
            return flag

    def view_flag(self, actor: Person, flag_id: int) -> FlagView:
        """The flag's page: its FlagView with the audit log."""
        flag = self.get_flag(actor, flag_id)
        with self.db.session() as s:
            deliveries = self._deliveries(s, flag_id)
        return replace(self.describe(flag), events=tuple(flag.events), entries=tuple(flag.entries),
                       deliveries=deliveries)

    def describe(self, flag: Flag, library: Library | None = None) -> FlagView:
        """``flag`` as the queue, its page and the exports show it, against the current articles."""
        lib = library or self.library()
        article = lib.articles.get(flag.article) if flag.article else None
        dep = lib.departments.get(flag.department)
        return flag_view(flag, article, self.urls, self.now(), department_name=dep.name if dep else flag.department)

    def allowed_actions(self, flag: Flag | FlagView) -> tuple[Action, ...]:
        return allowed_actions(flag.status)

    def transition(self, actor: Person, flag_id: int, action: str, note: str | None = None) -> Flag:
        """Move a flag along its life cycle (rules.ACTIONS); resolve and decline need a note."""
        note = clean_note(note)
        with self.db.session() as s:
            flag = self._triageable(s, actor, flag_id)
            self._apply(s, flag, check_action(action, flag.status, note), actor.email, note)
            return flag

    def resolve_from_commit(self, flag_id: int, commit: ResolvingCommit) -> str:
        """Docs-as-code closure: a commit saying ``Resolves-Feedback: <id>``.

        Honoured only when the commit touches the flag's article or an article of
        its department: a commit to a People page cannot close a Payroll flag.
        The commit is the evidence; its author is only a name written in git.
        Returns ``resolved``, ``not-open`` (no such open flag) or ``unrelated``.
        """
        resolve = ACTIONS["resolve"]
        with self.db.session() as s:
            flag = s.get(Flag, flag_id) if valid_id(flag_id) else None
            if flag is None or flag.status not in resolve.sources:
                return "not-open"
            if not self._touches(commit.files, flag):
                return "unrelated"
            subject = commit.message.strip().splitlines()[0] if commit.message.strip() else ""
            note = f"Resolved by commit {commit.commit[:12]} (author as written in git: {commit.author}): {subject}"
            self._apply(s, flag, resolve, f"commit {commit.commit[:12]}", note.strip(), commit=commit.commit,
                        author_in_git=commit.author)
            return "resolved"

    def _touches(self, files: frozenset[str], flag: Flag) -> bool:
        if flag.article and flag.article in files:
            return True
        articles = self.library().articles
        return any(articles[f].department == flag.department for f in files if f in articles)

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
        """The queue: flags ``actor`` may triage matching the filters (status "open": new or acknowledged)."""
        if not actor.is_triager:
            raise PermissionDeniedError("forbidden", "the feedback queue is for department owners and admins")
        q = select(Flag)
        if not actor.is_admin:
            q = q.where(Flag.department.in_(sorted(actor.owns)))
        if department := clean_text(department):
            q = q.where(Flag.department == department)
        if status in STATUSES:
            q = q.where(Flag.status == status)
        elif status == "open":
            q = q.where(Flag.status.in_(OPEN_STATUSES))
        if reason in REASONS:
            q = q.where(Flag.reason == reason)
        if article := clean_text(article):
            q = q.where(Flag.article == article)
        if older_than_days := clean_age(older_than_days):
            q = q.where(Flag.created_at <= self.now() - timedelta(days=older_than_days))
        if text := clean_text(text):
            like = f"%{text.lower()}%"
            written = select(FlagEntry.flag_id).where(func.lower(FlagEntry.text).like(like))
            q = q.where(func.lower(func.coalesce(Flag.comment, "") + " " + func.coalesce(Flag.query, "")).like(like)
                        | Flag.id.in_(written))
        order = {
            "due": (Flag.due_at.is_(None), Flag.due_at, Flag.id),
            "newest": (Flag.created_at.desc(), Flag.id.desc()),
            "oldest": (Flag.created_at, Flag.id),
        }.get(sort, (Flag.due_at, Flag.id))
        with self.db.session() as s:
            return list(s.scalars(q.order_by(*order).limit(limit)))

    def flag_views(self, actor: Person, **filters: object) -> list[FlagView]:
        """``list_flags`` as FlagViews (the queue page and the exports)."""
        lib = self.library()
        return [self.describe(f, lib) for f in self.list_flags(actor, **filters)]

    def triage_departments(self, actor: Person) -> list[Department]:
        """The departments ``actor`` may triage, by name: the queue's department filter."""
        deps = (d for d in self.library().departments.values() if actor.can_triage(d.id))
        return sorted(deps, key=lambda d: d.name.lower())

    # --- internals --------------------------------------------------------
    def _department(self, dep_id: str) -> Department | None:
        return self.library().departments.get(dep_id)

    def _triageable(self, s: Session, actor: Person, flag_id: int) -> Flag:
        flag = s.get(Flag, flag_id) if valid_id(flag_id) else None
        if flag is None:
            raise NotFoundError("not_found", f"no flag {flag_id}", id=flag_id)
        if not actor.can_triage(flag.department):
            raise PermissionDeniedError("forbidden", "only the owning department or an admin can see or change this flag")
        return flag

    def _all_triageable(self, s: Session, actor: Person, flag_ids: Sequence[int]) -> list[Flag]:
        """Every flag of ``flag_ids`` (once each), checked before any is changed."""
        return [self._triageable(s, actor, fid) for fid in dict.fromkeys(flag_ids)]

    def _open_anonymous_flag(self, s: Session, article: Article) -> Flag | None:
        """The open flag anonymous readers raised on ``article``, if there is one."""
        return s.scalar(select(Flag).where(
            Flag.kind == "article", Flag.article == article.path, Flag.reporter.is_(None),
            Flag.status.in_(OPEN_STATUSES),
        ).order_by(Flag.id).limit(1))

    def _add_report(
        self, s: Session, flag: Flag, vote: Vote, reporter: str | None, comment: str | None, section: str | None
    ) -> Flag:
        """One more report on an open flag: its own entry beside the earlier ones, counted, logged."""
        flag.reports = (flag.reports or 1) + 1
        flag.updated_at = self.now()
        self._entry(s, flag, "report", reporter, comment, reason=vote.reason, section=section, vote_id=vote.id)
        self._event(s, flag, reporter, "reported", {"reason": vote.reason, "comment": comment, "vote": vote.id})
        return flag

    def _flag_vote(
        self, s: Session, vote: Vote, article: Article, reporter: str | None, notify: bool,
        comment: str | None, section: str | None,
    ) -> Flag:
        flag = s.scalar(select(Flag).where(Flag.vote_id == vote.id, Flag.status.in_(OPEN_STATUSES))
                        .order_by(Flag.id.desc()).limit(1))
        if flag is None and reporter is None:
            # Anonymous readers cannot be told apart (a new cookie is a new reader): their repeated
            # "No"s on one article are one flag with a count, so a flood is one email, not forty.
            same = self._open_anonymous_flag(s, article)
            if same is not None:
                return self._add_report(s, same, vote, reporter, comment, section)
        if flag is None:
            return self._new_flag(
                s, kind="article", department=article.department, article=article.path, section=section,
                reason=vote.reason, comment=comment, reporter=reporter, notify=notify, vote_id=vote.id,
                content_hash=article.content_hash, git_commit=vote.git_commit, title=article.title,
            )
        # The same person reporting again today: a second entry on their flag; the first stays as written.
        flag.notify_reporter = bool(flag.notify_reporter or (notify and reporter))
        return self._add_report(s, flag, vote, reporter, comment, section)

    def _found_helpful(self, s: Session, vote: Vote, reporter: str | None) -> None:
        """A "Yes" after a "No": the report stays open; its owners see that the reader later found it helpful."""
        reported = select(FlagEntry.flag_id).where(FlagEntry.vote_id == vote.id)
        for flag in s.scalars(select(Flag).where(Flag.id.in_(reported), Flag.status.in_(OPEN_STATUSES))):
            flag.updated_at = self.now()
            self._entry(s, flag, "helpful", reporter, None, vote_id=vote.id)
            self._event(s, flag, reporter, "found_helpful", {"vote": vote.id})

    def _entry(self, s: Session, flag: Flag, kind: str, author: str | None, text: str | None, **fields: object) -> FlagEntry:
        entry = FlagEntry(flag=flag, kind=kind, author=author, text=text, created_at=self.now(), **fields)
        s.add(entry)
        return entry

    def _apply(self, s: Session, flag: Flag, step: Action, actor: str | None, note: str | None, **detail: str) -> None:
        before, now = flag.status, self.now()
        flag.status, flag.updated_at = step.target, now
        if step.target in CLOSED_STATUSES:
            flag.resolution_note, flag.closed_at = note, now
        else:
            flag.closed_at = None  # reopened (or still open)
        self._event(s, flag, actor, step.name, {"from": before, "to": step.target, "note": note, **detail})
        if step.target == "resolved":
            rate_url = self.rate_link(flag.id) if self.rate_link else None
            dep = self._department(flag.department)
            notice = resolution_notice(flag, dep, self.urls, rate_url)
            if notice is not None:
                self._enqueue(s, self.channels.for_person(notice, flag.reporter), flag)
            for dup in s.scalars(select(Flag).where(Flag.merged_into == flag.id).order_by(Flag.id)):
                told = merged_resolution_notice(dup, flag, dep, self.urls)
                if told is not None:
                    self._enqueue(s, self.channels.for_person(told, dup.reporter), dup)

    def _event(self, s: Session, flag: Flag, actor: str | None, action: str, detail: dict) -> None:
        s.add(FlagEvent(flag=flag, at=self.now(), actor=actor, action=action, detail=detail))

    def _new_flag(self, s: Session, *, title: str, notify: bool, reporter: str | None, **fields: object) -> Flag:
        now = self.now()
        dep = self._department(fields["department"])
        flag = Flag(
            **fields, reporter=reporter, notify_reporter=bool(notify and reporter), status="new",
            created_at=now, updated_at=now, due_at=due_date(now, dep.response_target if dep else None, calendar_for(dep)),
        )
        s.add(flag)
        s.flush()
        self._event(s, flag, reporter, "created", {"kind": flag.kind, "reason": flag.reason})
        self._entry(s, flag, "report", reporter, flag.comment, reason=flag.reason, section=flag.section,
                    vote_id=flag.vote_id)
        self._enqueue(s, self.channels.for_department(flag_notice(flag, dep, title, self.urls), dep), flag)
        return flag

    def _enqueue(self, s: Session, messages: list[OutboxMessage], flag: Flag | None = None) -> None:
        for m in messages:
            m.next_attempt_at = self.now()
            m.flag_id = flag.id if flag is not None else None  # the flag page shows its deliveries
            s.add(m)
