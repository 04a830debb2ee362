"""Every report kept as its own entry; Yes after No; sections; My requests; replies and notes.
On SQLite and PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kb.feedback import InvalidInputError, NotFoundError, PermissionDeniedError
from kb.feedback.identity import Person
from kb.feedback.models import Flag, FlagEntry, OutboxMessage, Vote

from .test_feedback_service import Clock, article, service, who

EMPLOYEE = "e@x.example"
OWNER = "pat.owner@x.example"  # owns payroll in test_feedback_service.DEPARTMENTS


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def svc(db, clock):
    return service(db, clock=clock)


def no(svc, reason="unclear", comment=None, voter=EMPLOYEE, reporter=EMPLOYEE, **kw):
    return svc.vote(voter=voter, reporter=reporter, article=article(), helpful=False, reason=reason, comment=comment, **kw)


def entries(db, flag_id, kinds=None):
    with db.session() as s:
        rows = s.scalars(select(FlagEntry).where(FlagEntry.flag_id == flag_id).order_by(FlagEntry.id))
        return [(e.kind, e.author, e.reason, e.text) for e in rows if kinds is None or e.kind in kinds]


# --- defect 1: a second report on the same article and day never overwrites the first ----------

def test_a_second_report_the_same_day_is_kept_beside_the_first(svc, db, clock):
    first = no(svc, "unclear", "comment A")
    clock.t += timedelta(minutes=5)
    second = no(svc, "missing", "comment B")
    assert first.flag_id == second.flag_id
    assert entries(db, first.flag_id) == [
        ("report", EMPLOYEE, "unclear", "comment A"), ("report", EMPLOYEE, "missing", "comment B")]
    with db.session() as s:
        flag = s.get(Flag, first.flag_id)
        assert flag.reports == 2
        assert (flag.reason, flag.comment) == ("unclear", "comment A")  # what was first written stays


def test_a_report_after_the_flag_was_resolved_opens_a_new_flag(svc, db):
    first = no(svc, "unclear", "A")
    svc.transition(who(OWNER), first.flag_id, "resolve", "Rewrote it")
    again = no(svc, "incorrect", "still wrong")
    assert again.flag_id != first.flag_id
    assert entries(db, first.flag_id) == [("report", EMPLOYEE, "unclear", "A")]
    assert entries(db, again.flag_id) == [("report", EMPLOYEE, "incorrect", "still wrong")]


def test_gap_reports_are_entries_of_their_own_flags(svc, db):
    a = svc.flag_gap(reporter=EMPLOYEE, query="dental", department="it", comment="nothing on implants")
    b = svc.flag_gap(reporter=EMPLOYEE, query="dental", department="it", comment="or on braces")
    assert entries(db, a.flag_id) == [("report", EMPLOYEE, "missing", "nothing on implants")]
    assert entries(db, b.flag_id) == [("report", EMPLOYEE, "missing", "or on braces")]


def test_anonymous_reports_counted_on_one_flag_each_keep_their_comment(svc, db):
    refs = {no(svc, "outdated", f"anon {i}", voter=f"anon:{i}", reporter=None).flag_id for i in range(3)}
    assert len(refs) == 1
    assert [t for *_, t in entries(db, refs.pop())] == ["anon 0", "anon 1", "anon 2"]


# --- defect 2: Yes after No -------------------------------------------------------------------

def test_yes_after_no_keeps_the_report_and_tells_the_owner(svc, db, clock):
    r = no(svc, "outdated", "The 2027 limits are out")
    clock.t += timedelta(minutes=3)
    yes = svc.vote(voter=EMPLOYEE, reporter=EMPLOYEE, article=article(), helpful=True)
    assert yes.flag_id is None and yes.changed
    with db.session() as s:
        vote = s.get(Vote, r.vote_id)
        assert vote.helpful is True and vote.changed_at is not None
        assert vote.comment == "The 2027 limits are out"  # not wiped
        assert s.get(Flag, r.flag_id).status == "new"  # still the department's to act on
    assert entries(db, r.flag_id) == [
        ("report", EMPLOYEE, "outdated", "The 2027 limits are out"), ("helpful", EMPLOYEE, None, None)]
    view = svc.view_flag(who(OWNER), r.flag_id)
    assert [e.kind for e in view.entries] == ["report", "helpful"]
    assert svc.current_vote(EMPLOYEE, "payroll/pay.md").helpful is True


def test_a_plain_yes_adds_nothing_to_any_flag(svc, db):
    svc.vote(voter=EMPLOYEE, reporter=EMPLOYEE, article=article(), helpful=True)
    with db.session() as s:
        assert s.scalars(select(FlagEntry)).all() == []
    assert svc.current_vote(EMPLOYEE, "payroll/pay.md").helpful is True
    assert svc.current_vote("other@x.example", "payroll/pay.md") is None


# --- defect 5: the section recorded is one of the article's headings, or none -------------------

def test_the_section_is_kept_only_when_it_is_a_heading_of_the_article(svc, db):
    good = no(svc, "unclear", section="cutoffs")
    with db.session() as s:
        assert s.get(Flag, good.flag_id).section == "cutoffs"
    bad = no(svc, "unclear", voter="v2@x.example", reporter="v2@x.example", section="no-such-heading")
    with db.session() as s:
        assert s.get(Flag, bad.flag_id).section is None
        assert s.get(Vote, bad.vote_id).section is None


# --- My requests ------------------------------------------------------------------------------

def test_my_requests_shows_my_reports_replies_and_resolution_but_never_notes(svc, db):
    mine = no(svc, "unclear", "A").flag_id
    gap = svc.flag_gap(reporter=EMPLOYEE, query="dental", department="it").flag_id
    no(svc, "unclear", "not mine", voter="o@x.example", reporter="o@x.example")
    owner = who(OWNER)
    svc.reply(owner, mine, "Which part was unclear?")
    svc.add_note(owner, mine, "Internal: the reporter is on the pilot team")
    rows = svc.my_requests(Person(EMPLOYEE))
    assert [r.id for r in rows] == [gap, mine]  # newest first, mine only
    req = rows[1]
    assert (req.title, req.department.name, req.status, req.can_withdraw) == ("Pay schedule", "Payroll", "new", True)
    assert [(e.kind, e.text) for e in req.entries] == [("report", "A"), ("reply", "Which part was unclear?")]
    assert all("Internal" not in (e.text or "") for r in rows for e in r.entries)
    svc.transition(owner, mine, "resolve", "Rewrote the cutoff section")
    assert svc.my_requests(Person(EMPLOYEE))[1].resolution_note == "Rewrote the cutoff section"


def test_a_reply_is_emailed_to_the_reporter_and_a_note_is_not(svc, db):
    fid = no(svc, "unclear", "A").flag_id
    with db.session() as s:
        before = {m.id for m in s.scalars(select(OutboxMessage))}
    svc.add_note(who(OWNER), fid, "secret note")
    svc.reply(who(OWNER), fid, "Fixed the table, does it read better?")
    with db.session() as s:
        new = [m for m in s.scalars(select(OutboxMessage)) if m.id not in before]
    assert [(m.kind, m.target) for m in new] == [("email", EMPLOYEE)]
    assert "Fixed the table, does it read better?" in str(new[0].payload)
    assert "secret note" not in str(new[0].payload)
    assert "/me/requests#request-" in str(new[0].payload)


def test_only_owners_reply_and_note(svc):
    fid = no(svc, "unclear", "A").flag_id
    with pytest.raises(PermissionDeniedError):
        svc.reply(who("ivy.owner@x.example"), fid, "not my department")
    with pytest.raises(PermissionDeniedError):
        svc.add_note(who(EMPLOYEE), fid, "not an owner")
    with pytest.raises(InvalidInputError):
        svc.reply(who(OWNER), fid, "   ")


def test_the_reporter_comments_and_withdraws_only_their_own_open_request(svc, db):
    fid = no(svc, "unclear", "A").flag_id
    with pytest.raises(NotFoundError):
        svc.comment_on_request(Person("other@x.example"), fid, "me too")
    with pytest.raises(PermissionDeniedError):
        svc.my_requests(Person(None))
    svc.comment_on_request(Person(EMPLOYEE), fid, "It is the second table")
    svc.withdraw_request(Person(EMPLOYEE), fid)
    with db.session() as s:
        assert s.get(Flag, fid).status == "withdrawn"
        # The department was told about the follow-up through the outbox.
        assert any("It is the second table" in str(m.payload) for m in s.scalars(select(OutboxMessage)))
    assert [k for k, *_ in entries(db, fid)] == ["report", "comment", "withdrawn"]
    with pytest.raises(InvalidInputError):
        svc.withdraw_request(Person(EMPLOYEE), fid)
    # The owner can still reopen it.
    assert svc.transition(who(OWNER), fid, "reopen").status == "acknowledged"


# --- defect 6: links to index articles in notifications -------------------------------------------

def test_the_department_notice_links_an_index_article_at_its_folder(db, clock):
    from .test_feedback_service import library

    index = article(path="payroll/onboarding/index.md")
    svc = service(db, lib=library(index), clock=clock)
    svc.vote(voter=EMPLOYEE, reporter=EMPLOYEE, article=index, helpful=False, reason="unclear", section="dates")
    with db.session() as s:
        mail = s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "email"))
    assert "http://kb.test/a/payroll/onboarding#dates" in str(mail.payload)
    assert "/index" not in str(mail.payload)


def test_the_queue_finds_text_written_in_a_later_report(svc):
    fid = no(svc, "unclear", "first words").flag_id
    no(svc, "missing", "the overtime cutoff")
    assert [f.id for f in svc.list_flags(who(OWNER), text="overtime")] == [fid]
