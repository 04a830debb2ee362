"""Votes, flags, transitions, permissions and the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from kb.config import Config
from kb.content import Library
from kb.content.departments import parse_response_target
from kb.content.gitmeta import ResolvingCommit
from kb.content.links import article_slug
from kb.content.models import Article, Contact, Department, GitInfo, Heading
from kb.content.urls import SiteUrls
from kb.feedback import (
    Channels,
    FeedbackService,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
)
from kb.feedback.db import SchemaOutdatedError, check_schema, make_engine
from kb.feedback.due import add_business_days
from kb.feedback.identity import person_for
from kb.feedback.models import Flag, FlagEvent, OutboxMessage, Vote

DEPARTMENTS = {
    "payroll": Department(
        "payroll", "Payroll", owners=["pat.owner@x.example"], contact=Contact(email="payroll@x.example"),
        response_target=parse_response_target("2 business days"),
        notify={"email": ["payroll-kb@x.example"], "webhook": "http://127.0.0.1:9/hook"},
    ),
    "it": Department("it", "IT", owners=["ivy.owner@x.example"], response_target=parse_response_target("24 hours")),
}
ADMINS = {"ada.admin@x.example"}


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a Friday

    def __call__(self) -> datetime:
        return self.t


def article(path="payroll/pay.md", dept="payroll", content_hash="h1", commit="abc123"):
    return Article(path=path, slug=article_slug(path), title="Pay schedule", department=dept, lang="en", body="",
                   content_hash=content_hash, git=GitInfo(commit, datetime.now(UTC), "A", "a@x"),
                   headings=[Heading(2, "Dates", "dates"), Heading(2, "Cutoffs", "cutoffs")])


def library(*articles, departments=DEPARTMENTS):
    """A Library of ``articles`` (default: the pay schedule) and ``departments``."""
    lib = Library(root=Path("articles"), articles={a.path: a for a in articles or [article()]}, departments=departments)
    lib.index()
    return lib


def service(db, lib=None, clock=None, channels=None, urls=None):
    """A FeedbackService over ``lib`` as the tests build it: default Config channels, http://kb.test."""
    lib = lib or library()
    return FeedbackService(db, lambda: lib, urls or SiteUrls("http://kb.test"), channels or Channels.from_config(Config(webhook_allow="127.0.0.1")),
                           now=clock or Clock())


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def svc(db, clock):
    return service(db, clock=clock)


def who(email):
    return person_for(email, DEPARTMENTS, ADMINS)


def test_not_helpful_vote_becomes_a_flag_routed_to_the_department(svc, db):
    r = svc.vote(voter="e@x.example", reporter="e@x.example", article=article(), helpful=False,
                 reason="outdated", comment="The dates are for 2025.", section="dates", notify=True)
    assert r.department.name == "Payroll" and r.department.response_target.text == "2 business days"
    with db.session() as s:
        flag = s.get(Flag, r.flag_id)
        assert (flag.kind, flag.department, flag.article, flag.section, flag.status) == ("article", "payroll", "payroll/pay.md", "dates", "new")
        assert flag.content_hash == "h1" and flag.git_commit == "abc123"
        # Friday 10:00 + 2 business days = Tuesday.
        assert flag.due_at.replace(tzinfo=UTC).weekday() == 1
        vote = s.get(Vote, r.vote_id)
        assert vote.content_hash == "h1" and vote.git_commit == "abc123" and vote.section == "dates"
        # The department's email and webhook wait in the outbox, written with the flag.
        kinds = sorted((m.kind, m.target) for m in s.scalars(select(OutboxMessage)))
        assert kinds == [("email", "payroll-kb@x.example"), ("webhook", "http://127.0.0.1:9/hook")]


def test_one_vote_per_person_per_article_per_day_and_it_can_change(svc, db, clock):
    a = article()
    svc.vote(voter="e@x.example", reporter=None, article=a, helpful=True)
    r = svc.vote(voter="e@x.example", reporter=None, article=a, helpful=False, reason="unclear")
    assert r.changed
    r2 = svc.vote(voter="e@x.example", reporter=None, article=a, helpful=False, reason="incorrect", comment="Wrong cutoff")
    with db.session() as s:
        assert s.scalar(select(Vote).where(Vote.voter == "e@x.example")).reason == "incorrect"
        assert len(list(s.scalars(select(Vote)))) == 1
        assert len(list(s.scalars(select(Flag)))) == 1  # one flag, with both reports on it
        flag = s.get(Flag, r2.flag_id)
        assert [(e.kind, e.reason, e.text) for e in flag.entries] == [
            ("report", "unclear", None), ("report", "incorrect", "Wrong cutoff")]
        assert flag.reports == 2
    clock.t += timedelta(days=1)
    svc.vote(voter="e@x.example", reporter=None, article=a, helpful=True)
    with db.session() as s:
        assert len(list(s.scalars(select(Vote)))) == 2


def test_input_is_validated(svc):
    with pytest.raises(InvalidInputError):
        svc.vote(voter="v", reporter=None, article=article(), helpful=False, reason="because", comment="x")
    with pytest.raises(InvalidInputError, match="2000"):
        svc.vote(voter="v", reporter=None, article=article(), helpful=False, reason="other", comment="x" * 2001)
    with pytest.raises(InvalidInputError):
        svc.flag_gap(reporter=None, query="dental", department="nope")


def test_gap_flag(svc, db):
    r = svc.flag_gap(reporter="e@x.example", query="  dental   implants ", department="it", comment="nothing found", notify=True)
    with db.session() as s:
        flag = s.get(Flag, r.flag_id)
        assert (flag.kind, flag.query, flag.reason, flag.department) == ("gap", "dental implants", "missing", "it")
        assert flag.due_at - flag.created_at == timedelta(hours=24)


def test_state_machine_every_transition(svc, db):
    owner = who("pat.owner@x.example")
    fid = svc.vote(voter="e", reporter="e@x.example", article=article(), helpful=False, reason="unclear", notify=True).flag_id
    assert svc.transition(owner, fid, "acknowledge").status == "acknowledged"
    with pytest.raises(InvalidTransitionError):
        svc.transition(owner, fid, "acknowledge")
    with pytest.raises(InvalidInputError, match="note"):
        svc.transition(owner, fid, "resolve")
    assert svc.transition(owner, fid, "resolve", "Rewrote the cutoff section").status == "resolved"
    with pytest.raises(InvalidTransitionError):
        svc.transition(owner, fid, "decline", "no")
    assert svc.transition(owner, fid, "reopen").status == "acknowledged"
    assert svc.transition(owner, fid, "decline", "Working as intended").status == "declined"
    fid2 = svc.flag_gap(reporter=None, query="x", department="payroll").flag_id
    assert svc.transition(owner, fid2, "resolve", "Added an FAQ").status == "resolved"  # straight from new
    with pytest.raises(InvalidTransitionError):
        svc.transition(owner, fid2, "explode")
    flag = svc.get_flag(owner, fid)
    assert [e.action for e in flag.events] == ["created", "acknowledge", "resolve", "reopen", "decline"]
    assert flag.events[2].actor == "pat.owner@x.example" and flag.events[2].detail["note"] == "Rewrote the cutoff section"
    # Resolving told the employee who asked to be told (once per resolution).
    with db.session() as s:
        to_reporter = [m for m in s.scalars(select(OutboxMessage)) if m.target == "e@x.example"]
        assert len(to_reporter) == 1 and "Rewrote the cutoff section" in to_reporter[0].payload["body"]


@pytest.mark.parametrize("email, sees_payroll, can_change", [
    ("e@x.example", False, False),            # employee
    ("ivy.owner@x.example", False, False),    # owner of another department
    ("pat.owner@x.example", True, True),      # owner
    ("ada.admin@x.example", True, True),      # admin
])
def test_permission_matrix(svc, email, sees_payroll, can_change):
    fid = svc.vote(voter="e", reporter=None, article=article(), helpful=False, reason="unclear").flag_id
    svc.flag_gap(reporter=None, query="vpn", department="it")
    person = who(email)
    if person.is_triager:
        listed = {f.department for f in svc.list_flags(person)}
        assert ("payroll" in listed) == sees_payroll
    else:
        with pytest.raises(PermissionDeniedError):
            svc.list_flags(person)
    if can_change:
        assert svc.transition(person, fid, "acknowledge").status == "acknowledged"
        svc.assign(person, [fid], "pat.owner@x.example")
    else:
        with pytest.raises(PermissionDeniedError):
            svc.transition(person, fid, "acknowledge")
        with pytest.raises(PermissionDeniedError):
            svc.get_flag(person, fid)


def test_queue_filters_and_bulk_actions(svc, clock):
    admin = who("ada.admin@x.example")
    a = svc.vote(voter="1", reporter=None, article=article(), helpful=False, reason="outdated", comment="old RATES").flag_id
    clock.t += timedelta(days=3)
    b = svc.flag_gap(reporter=None, query="bonus dates", department="payroll", comment="where?").flag_id
    c = svc.flag_gap(reporter=None, query="printer", department="it").flag_id
    assert {f.id for f in svc.list_flags(admin, department="payroll")} == {a, b}
    assert [f.id for f in svc.list_flags(admin, reason="outdated")] == [a]
    assert [f.id for f in svc.list_flags(admin, text="rates")] == [a]
    assert [f.id for f in svc.list_flags(admin, older_than_days=2)] == [a]
    assert [f.id for f in svc.list_flags(admin, article="payroll/pay.md")] == [a]
    assert svc.bulk_acknowledge(admin, [a, b, c]).done == (a, b, c)
    assert svc.bulk_acknowledge(admin, [a]).skipped == (a,)
    assert {f.id for f in svc.list_flags(admin, status="acknowledged")} == {a, b, c}
    svc.assign(admin, [a, b], "pat.owner@x.example")
    assert {f.assignee for f in svc.list_flags(admin, department="payroll")} == {"pat.owner@x.example"}
    assert [f.id for f in svc.list_flags(admin, sort="newest")][0] == c
    with pytest.raises(NotFoundError):
        svc.get_flag(admin, 9999)


def commit(files, ids=(1,), sha="deadbeefcafe0123", author="Dana"):
    return ResolvingCommit(sha, author, "Fix the W-2 link\n\nResolves-Feedback: 1", tuple(ids), frozenset(files))


def test_resolve_from_commit(svc):
    fid = svc.vote(voter="e", reporter="e@x.example", article=article(), helpful=False, reason="broken_link", notify=True).flag_id
    assert svc.resolve_from_commit(fid, commit({"payroll/pay.md"})) == "resolved"
    flag = svc.get_flag(who("ada.admin@x.example"), fid)
    assert flag.status == "resolved" and "deadbeefcafe" in flag.resolution_note
    # The commit is the evidence; the git author is a name anyone can write.
    assert flag.events[-1].actor == "commit deadbeefcafe" and "author as written in git: Dana" in flag.resolution_note
    assert svc.resolve_from_commit(fid, commit({"payroll/pay.md"})) == "not-open"  # already resolved
    assert svc.resolve_from_commit(9999, commit({"payroll/pay.md"})) == "not-open"


def test_a_commit_to_another_department_cannot_resolve_a_flag(db, clock):
    pay, vpn = article(), article("it/vpn.md", "it")
    svc = service(db, library(pay, vpn), clock)
    fid = svc.vote(voter="e", reporter=None, article=pay, helpful=False, reason="outdated").flag_id
    gap = svc.flag_gap(reporter=None, query="bonus", department="payroll").flag_id
    assert svc.resolve_from_commit(fid, commit({"it/vpn.md"})) == "unrelated"
    assert svc.resolve_from_commit(gap, commit({"it/vpn.md", "README.md"})) == "unrelated"
    admin = who("ada.admin@x.example")
    assert svc.get_flag(admin, fid).status == svc.get_flag(admin, gap).status == "new"
    # A gap is answered by any article of its department.
    assert svc.resolve_from_commit(gap, commit({"payroll/pay.md"})) == "resolved"


def test_comments_are_stored_as_text(svc, db):
    evil = "<script>alert('x')</script> & <img src=x onerror=alert(1)>"
    fid = svc.vote(voter="e", reporter=None, article=article(), helpful=False, reason="other", comment=evil).flag_id
    with db.session() as s:
        assert s.get(Flag, fid).comment == evil  # stored verbatim; escaping is the template's job


def test_business_days():
    fri = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert add_business_days(fri, 1).weekday() == 0
    assert add_business_days(fri, 5).date().isoformat() == "2026-11-27"
    sat = datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert add_business_days(sat, 1).date().isoformat() == "2026-11-24"


def test_outdated_schema_is_detected(database_url):
    engine = make_engine(database_url)
    with pytest.raises(SchemaOutdatedError, match="kb db upgrade"):
        check_schema(engine)
    engine.dispose()


def test_events_are_an_audit_log(svc, db):
    owner = who("pat.owner@x.example")
    fid = svc.flag_gap(reporter=None, query="x", department="payroll").flag_id
    svc.assign(owner, [fid], "pat.owner@x.example")
    svc.transition(owner, fid, "resolve", "done")
    with db.session() as s:
        events = list(s.scalars(select(FlagEvent).where(FlagEvent.flag_id == fid).order_by(FlagEvent.id)))
    assert [(e.action, e.actor) for e in events] == [
        ("created", None), ("assigned", "pat.owner@x.example"), ("resolve", "pat.owner@x.example"),
    ]


def test_no_without_a_reason_is_refused_by_the_service(svc, db):
    """Regression: the service accepted helpful=False, reason=None and made no flag."""
    with pytest.raises(InvalidInputError) as err:
        svc.vote(voter="v", reporter="v@x.example", article=article(), helpful=False, reason=None)
    assert err.value.code == "reason_required"
    with db.session() as s:
        assert s.scalar(select(Vote)) is None and s.scalar(select(Flag)) is None


def _resolve_without_note(svc):
    fid = svc.flag_gap(reporter=None, query="x", department="payroll").flag_id
    svc.transition(who("pat.owner@x.example"), fid, "resolve", "  ")


def _acknowledge_twice(svc):
    fid = svc.flag_gap(reporter=None, query="x", department="payroll").flag_id
    svc.transition(who("pat.owner@x.example"), fid, "acknowledge")
    svc.transition(who("pat.owner@x.example"), fid, "acknowledge")


@pytest.mark.parametrize("call, error, code, params", [
    (lambda svc: svc.vote(voter="v", reporter=None, article=article(), helpful=False, reason="because"),
     InvalidInputError, "bad_reason", {"reason": "because"}),
    (lambda svc: svc.vote(voter="v", reporter=None, article=article(), helpful=False, reason="other", comment="x" * 2001),
     InvalidInputError, "comment_too_long", {"max": 2000}),
    (lambda svc: svc.flag_gap(reporter=None, query="dental", department="nope"), InvalidInputError, "choose_department", {}),
    (lambda svc: svc.flag_gap(reporter=None, query="  ", department="it", comment=" "), InvalidInputError, "empty_gap", {}),
    (_resolve_without_note, InvalidInputError, "note_required", {"action": "resolve"}),
    (_acknowledge_twice, InvalidTransitionError, "bad_transition", {"action": "acknowledge", "status": "acknowledged"}),
    (lambda svc: svc.transition(who("ada.admin@x.example"), svc.flag_gap(reporter=None, query="x", department="it").flag_id,
                                "explode"), InvalidTransitionError, "unknown_action", {"action": "explode"}),
    (lambda svc: svc.get_flag(who("ada.admin@x.example"), 9999), NotFoundError, "not_found", {"id": 9999}),
    (lambda svc: svc.list_flags(who("e@x.example")), PermissionDeniedError, "forbidden", {}),
])
def test_errors_carry_a_stable_code(svc, call, error, code, params):
    with pytest.raises(error) as err:
        call(svc)
    assert (err.value.code, err.value.params) == (code, params)


def test_allowed_actions_are_the_state_machine(svc):
    owner = who("pat.owner@x.example")
    fid = svc.flag_gap(reporter=None, query="x", department="payroll").flag_id

    def actions():
        flag = svc.get_flag(owner, fid)
        assert svc.allowed_actions(flag) == svc.describe(flag).actions
        return [(a.name, a.needs_note) for a in svc.allowed_actions(flag)]

    assert actions() == [("acknowledge", False), ("resolve", True), ("decline", True)]
    svc.transition(owner, fid, "acknowledge")
    assert actions() == [("resolve", True), ("decline", True)]
    svc.transition(owner, fid, "decline", "not ours")
    assert actions() == [("reopen", False)]


def test_describe_says_overdue_and_article_changed_with_the_diff_link(db, clock):
    lib = library()
    svc = service(db, lib, clock, urls=SiteUrls("http://kb.test", "https://git.example/compare/{old}...{new}?path={path}"))
    owner = who("pat.owner@x.example")
    fid = svc.vote(voter="e", reporter=None, article=article(), helpful=False, reason="outdated").flag_id
    view = svc.describe(svc.get_flag(owner, fid))
    assert (view.overdue, view.article_changed, view.diff_url) == (False, False, None)
    assert (view.article_title, view.article_slug) == ("Pay schedule", "payroll/pay")
    # The article is edited and committed; the department's two business days pass.
    lib.articles["payroll/pay.md"] = article(content_hash="h2", commit="def456")
    clock.t += timedelta(days=5)
    [view] = svc.flag_views(owner)
    assert view.overdue and view.article_changed
    assert view.diff_url == "https://git.example/compare/abc123...def456?path=payroll/pay.md"
    assert view.as_dict()["overdue"] is True and view.as_dict()["due_at"].startswith("2026-11-24")
    svc.transition(owner, fid, "resolve", "Updated")
    assert not svc.describe(svc.get_flag(owner, fid)).overdue  # closed flags are never overdue


def test_resolution_email_links_an_index_article_to_its_folder(db, clock):
    """Regression: /a/people/onboarding/index was a 404; the site serves /a/people/onboarding."""
    people = Department("people", "People", owners=["pp.owner@x.example"])
    onboarding = article("people/onboarding/index.md", dept="people")
    svc = service(db, library(onboarding, departments={"people": people}), clock)
    fid = svc.vote(voter="e", reporter="e@x.example", article=onboarding, helpful=False, reason="unclear", notify=True).flag_id
    svc.transition(person_for("pp.owner@x.example", {"people": people}, set()), fid, "resolve", "Rewrote day one")
    with db.session() as s:
        [mail] = [m for m in s.scalars(select(OutboxMessage)) if m.target == "e@x.example"]
    assert "http://kb.test/a/people/onboarding\n" in mail.payload["body"]
    assert "/index" not in mail.payload["body"]


def test_two_requests_racing_to_insert_the_days_vote_both_succeed(svc, db):
    """Seen under load (one 500 in 8,000 requests): a reader's second request read "no vote yet"
    while the first inserted it, and the unique constraint refused the second insert."""
    from .races import insert_first

    a, t = article(), Clock()()
    first = {"article": a.path, "voter": "e@x.example", "day": t.date(), "helpful": True,
             "content_hash": a.content_hash, "created_at": t, "updated_at": t}
    with insert_first(db.engine, Vote.__table__, first) as raced:
        r = svc.vote(voter="e@x.example", reporter="e@x.example", article=a, helpful=False, reason="unclear",
                     comment="Which cutoff applies to me?")
    assert raced and r.changed and r.flag_id  # the second request found the first one's vote and changed it
    with db.session() as s:
        (vote,) = s.scalars(select(Vote))
        assert (vote.helpful, vote.comment) == (False, "Which cutoff applies to me?")
        assert s.get(Flag, r.flag_id).reports == 1
