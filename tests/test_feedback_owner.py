"""The owner side on SQLite and PostgreSQL: assigning, bulk results, merging duplicates,
delivery states, holiday calendars and the daily digest (through a real SMTP server)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from kb.config import Config
from kb.content.departments import parse_response_target
from kb.content.urls import SiteUrls
from kb.feedback import Channels, FeedbackService, InvalidInputError, NotFoundError, PermissionDeniedError
from kb.feedback.due import Calendar, add_business_days, calendar_for, due_date
from kb.feedback.models import DigestLog, Flag, OutboxMessage
from kb.feedback.outbox import MAX_ATTEMPTS, deliver_due

from .test_feedback_outbox import SMTPServer, free_port
from .test_feedback_service import ADMINS, DEPARTMENTS, Clock, article, library, who

PAT, IVY, ADA = "pat.owner@x.example", "ivy.owner@x.example", "ada.admin@x.example"


def owner_service(db, clock, departments=DEPARTMENTS, channels=None):
    lib = library(article(), article("it/vpn.md", dept="it"), departments=departments)
    return FeedbackService(db, lambda: lib, SiteUrls("http://kb.test"),
                           channels or Channels.from_config(Config(webhook_allow="127.0.0.1")), now=clock, admins=ADMINS)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def svc(db, clock):
    return owner_service(db, clock)


def outbox(db, **where):
    with db.session() as s:
        q = select(OutboxMessage).order_by(OutboxMessage.id)
        for k, v in where.items():
            q = q.where(getattr(OutboxMessage, k) == v)
        return list(s.scalars(q))


def gap(svc, dep="payroll", reporter=None, notify=False, query="bonus dates"):
    return svc.flag_gap(reporter=reporter, query=query, department=dep, notify=notify).flag_id


# --- defect 7: assigning --------------------------------------------------------
def test_only_owners_of_the_department_or_admins_can_be_assigned(svc, db):
    """Regression: any string was accepted as an assignee."""
    fid = gap(svc)
    admin = who(ADA)
    for nobody in ("someone@x.example", "not an address", IVY):  # IVY owns IT, not Payroll
        with pytest.raises(InvalidInputError) as err:
            svc.assign(admin, [fid], nobody)
        assert err.value.code == "not_assignable" and err.value.params["department"] == "Payroll"
    assert svc.assign(admin, [fid], PAT).done == (fid,)
    assert svc.assign(who(PAT), [fid], ADA).done == (fid,)  # an admin may be given any flag
    with db.session() as s:
        assert s.get(Flag, fid).assignee == ADA


def test_the_assignee_is_told_through_the_outbox(svc, db):
    """Regression: the assignee was not notified."""
    fid = gap(svc)
    svc.assign(who(ADA), [fid], PAT)
    [mail] = outbox(db, target=PAT)
    assert mail.kind == "email" and mail.flag_id == fid
    assert "Assigned to you: #1" in mail.payload["subject"] and "http://kb.test/admin/flags/1" in mail.payload["body"]
    assert f"{ADA} assigned" in mail.payload["body"]
    svc.assign(who(ADA), [fid], PAT)  # already theirs: nothing changes, nobody is told twice
    assert len(outbox(db, target=PAT)) == 1
    svc.assign(who(PAT), [gap(svc, query="second")], PAT)  # assigning yourself needs no email
    assert len(outbox(db, target=PAT)) == 1


def test_bulk_actions_refuse_what_they_cannot_and_report_what_they_did(svc, db):
    """Regression: an empty address silently unassigned; an empty selection reported success."""
    a, b = gap(svc), gap(svc, query="other")
    admin = who(ADA)
    svc.assign(admin, [a], PAT)
    for empty in ("", "   ", None):
        with pytest.raises(InvalidInputError) as err:
            svc.assign(admin, [a, b], empty)
        assert err.value.code == "assignee_required"
    with db.session() as s:
        assert s.get(Flag, a).assignee == PAT  # still assigned
    for call in (lambda: svc.assign(admin, [], PAT), lambda: svc.bulk_acknowledge(admin, []),
                 lambda: svc.unassign(admin, [])):
        with pytest.raises(InvalidInputError) as err:
            call()
        assert err.value.code == "nothing_selected"
    result = svc.assign(admin, [a, b], PAT)
    assert (result.done, result.skipped) == ((b,), (a,))
    assert svc.bulk_acknowledge(admin, [a, b]).done == (a, b)
    assert svc.unassign(admin, [a, b]).done == (a, b)


# --- duplicates -----------------------------------------------------------------
def test_merge_a_duplicate_and_tell_its_reporter_when_the_target_is_resolved(svc, db):
    target = gap(svc, reporter="first@x.example", notify=True)
    dup = gap(svc, reporter="second@x.example", notify=True, query="when is the bonus paid")
    silent = gap(svc, reporter="third@x.example", notify=False, query="bonus?")
    owner = who(PAT)
    merged = svc.merge(owner, dup, target)
    assert (merged.status, merged.merged_into) == ("merged", target)
    svc.merge(owner, silent, target)
    view = svc.view_flag(owner, dup)
    assert view.merged_into == target and view.actions == ()
    assert svc.describe(svc.get_flag(owner, target)).reports == 3
    svc.transition(owner, target, "resolve", "Bonus dates added")
    told = {m.target: m for m in outbox(db, kind="email") if "Fixed" in m.payload["subject"]}
    assert set(told) == {"first@x.example", "second@x.example"}  # third did not ask to be told
    assert "Bonus dates added" in told["second@x.example"].payload["body"]
    assert told["second@x.example"].flag_id == dup  # shown on the duplicate's page


def test_merging_into_a_closed_flag_is_refused(svc, db):
    a, b, c = gap(svc), gap(svc, query="b"), gap(svc, query="c")
    owner = who(PAT)
    svc.merge(owner, b, a)
    with pytest.raises(InvalidInputError) as err:
        svc.merge(owner, c, b)
    assert (err.value.code, err.value.params["id"]) == ("merge_closed", b)
    with pytest.raises(InvalidInputError) as err:
        svc.merge(owner, b, c)
    assert (err.value.code, err.value.params["id"]) == ("merge_closed", b)
    with pytest.raises(InvalidInputError) as err:
        svc.merge(owner, a, a)
    assert err.value.code == "merge_self"


def test_only_an_admin_merges_across_departments(svc, db):
    pay, it = gap(svc), gap(svc, dep="it", query="vpn")
    with pytest.raises(NotFoundError):  # Pat cannot see the IT flag: it looks like no flag
        svc.merge(who(PAT), pay, it)
    both = replace(who(PAT), owns=frozenset({"payroll", "it"}))
    with pytest.raises(PermissionDeniedError) as err:
        svc.merge(both, pay, it)
    assert err.value.code == "merge_department"
    assert svc.merge(who(ADA), pay, it).merged_into == it


def test_duplicates_merged_earlier_follow_their_flag(svc, db):
    a = gap(svc)
    b = gap(svc, query="b")
    c = gap(svc, reporter="c@x.example", notify=True, query="c")
    owner = who(PAT)
    svc.merge(owner, c, b)
    svc.merge(owner, b, a)  # b was still open; c, merged into it, now follows a
    with db.session() as s:
        assert (s.get(Flag, b).merged_into, s.get(Flag, c).merged_into) == (a, a)
    svc.transition(owner, a, "resolve", "done")
    assert [m.target for m in outbox(db, kind="email") if "Fixed" in m.payload["subject"]] == ["c@x.example"]


# --- delivery is visible ----------------------------------------------------------
def test_the_flag_page_shows_each_notifications_state(db, clock):
    down = Channels.from_config(Config(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_from="kb@x.example"))
    deps = {"payroll": replace(DEPARTMENTS["payroll"], notify={"email": ["payroll-kb@x.example", "b@x.example"]})}
    svc = owner_service(db, clock, departments={**DEPARTMENTS, **deps}, channels=down)
    fid = gap(svc)
    assert [d.state for d in svc.view_flag(who(PAT), fid).deliveries] == ["pending", "pending"]
    deliver_due(db, down, now=clock)
    with db.session() as s:  # one gives up, one is marked sent (as a server that came back would)
        first, second = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        first.status, first.attempts = "dead", MAX_ATTEMPTS
    states = svc.view_flag(who(PAT), fid).deliveries
    assert [d.state for d in states] == ["given_up", "retrying"]
    assert "Connection" in states[1].last_error and states[1].attempts == 1


def test_the_outbox_list_and_retry_now_are_for_admins(svc, db, clock):
    fid = gap(svc)
    with pytest.raises(PermissionDeniedError):
        svc.undelivered(who(PAT))
    rows = svc.undelivered(who(ADA))
    assert {r.flag_id for r in rows} == {fid} and {r.state for r in rows} == {"pending"}
    with db.session() as s:
        m = s.scalars(select(OutboxMessage)).first()
        m.status, m.attempts, m.next_attempt_at = "dead", MAX_ATTEMPTS, clock.t + timedelta(days=9)
        mid = m.id
    with pytest.raises(PermissionDeniedError):
        svc.retry_now(who(PAT), mid)
    again = svc.retry_now(who(ADA), mid)
    assert again.state == "retrying" and again.next_attempt_at.replace(tzinfo=None) == clock.t.replace(tzinfo=None)
    with pytest.raises(NotFoundError):
        svc.retry_now(who(ADA), 999)


# --- holidays ---------------------------------------------------------------------
TWO_DAYS = parse_response_target("2 business days")
GOLDEN_WEEK_FRIDAY = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)  # then Sun 3 - Wed 6 May are holidays in Japan


def test_golden_week_is_not_business_days():
    """Regression: "2 business days" from 1 May ran through Golden Week (due Tue 5 May, a holiday)."""
    assert due_date(GOLDEN_WEEK_FRIDAY, TWO_DAYS).date() == date(2026, 5, 5)  # weekdays only
    assert due_date(GOLDEN_WEEK_FRIDAY, TWO_DAYS, Calendar("JP")).date() == date(2026, 5, 8)
    # Showa Day (Wed 29 Apr) is skipped too: from Tue 28 Apr, one day is Thu 30 Apr.
    assert add_business_days(datetime(2026, 4, 28, 10, tzinfo=UTC), 1, Calendar("JP")).date() == date(2026, 4, 30)
    # A flag raised on a holiday counts from the next working morning.
    assert add_business_days(datetime(2026, 5, 4, 15, tzinfo=UTC), 1, Calendar("JP")) == datetime(2026, 5, 8, 9, tzinfo=UTC)


def test_company_closure_days_are_skipped_too():
    closed = Calendar("JP", frozenset({date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)}))
    monday = datetime(2026, 12, 28, 10, tzinfo=UTC)
    assert add_business_days(monday, 1).date() == date(2026, 12, 29)
    assert add_business_days(monday, 1, closed).date() == date(2027, 1, 4)  # 1 Jan is a holiday, then the weekend


def test_a_tokyo_department_is_due_after_golden_week_and_not_overdue_during_it(db):
    clock = Clock()
    clock.t = GOLDEN_WEEK_FRIDAY
    tokyo = replace(DEPARTMENTS["it"], response_target=TWO_DAYS, holidays="JP")
    assert calendar_for(tokyo) == Calendar("JP")
    svc = owner_service(db, clock, departments={**DEPARTMENTS, "it": tokyo})
    fid = gap(svc, dep="it", query="vpn")
    clock.t = datetime(2026, 5, 7, 12, tzinfo=UTC)  # Thursday after Golden Week: one working day in
    view = svc.describe(svc.get_flag(who(ADA), fid))
    assert view.due_at.date() == date(2026, 5, 8) and not view.overdue
    clock.t = datetime(2026, 5, 9, 12, tzinfo=UTC)
    assert svc.describe(svc.get_flag(who(ADA), fid)).overdue


# --- the overdue digest -----------------------------------------------------------
def test_the_digest_goes_to_each_owner_once_a_day_through_a_real_smtp_server(db):
    smtp = SMTPServer(free_port())
    smtp.start()
    try:
        mail = Channels.from_config(Config(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="kb@x.example"))
        clock = Clock()
        deps = {**DEPARTMENTS, "payroll": replace(DEPARTMENTS["payroll"], owners=[PAT, "pam@x.example"], notify={})}
        svc = owner_service(db, clock, departments=deps, channels=mail)
        late = gap(svc, query="late one")
        clock.t += timedelta(days=6)  # two business days passed long ago
        fresh = gap(svc, query="fresh one")
        report = svc.queue_digests()
        assert report.sent == ["payroll"] and report.quiet == ["it"]
        assert deliver_due(db, mail, now=clock).sent == 2
        again = svc.queue_digests()  # cron ran twice, or two servers run it
        assert again.already == ["payroll"] and again.sent == []
        assert deliver_due(db, mail, now=clock).sent == 0
        assert sorted(m.rcpt_tos[0] for m in smtp.inbox.messages) == ["pam@x.example", PAT]
        body = smtp.inbox.messages[0].content.decode()
        assert "1 overdue, 1 new" in body and f"#{late}" in body and f"#{fresh}" in body
        clock.t += timedelta(days=1)  # the next day: a new digest (still overdue)
        assert svc.queue_digests().sent == ["payroll"]
        with db.session() as s:
            assert [(d.department, d.day.isoformat()) for d in s.scalars(select(DigestLog).order_by(DigestLog.id))] == [
                ("payroll", "2026-11-26"), ("payroll", "2026-11-27")]
    finally:
        smtp.stop()


def test_kb_check_reports_an_unknown_calendar(make_articles):
    from kb import KB

    root = make_articles({
        "departments.yml": """
            departments:
              - id: tokyo
                name: Tokyo office
                holidays: JP
                closed: [2026-12-29, 2026-12-30]
              - id: mars
                name: Mars office
                holidays: XX
              - id: moon
                name: Moon office
                closed: [someday]
        """,
        "tokyo/a.md": "---\ntitle: A\n---\nText\n",
    })
    kb = KB(Config(articles_dir=root, index_dir=root.parent / "index"))
    problems = {(p.code, p.message.split(":")[0]) for p in kb.check(date(2026, 12, 1))}
    assert ("unknown-calendar", "'mars'") in problems and ("department-closed", "'moon'") in problems
    assert not any(code in ("unknown-calendar", "department-holidays", "department-closed") and who == "'tokyo'"
                   for code, who in problems)
    tokyo = kb.library.departments["tokyo"]
    assert tokyo.holidays == "JP" and tokyo.closed == [date(2026, 12, 29), date(2026, 12, 30)]


def test_kb_outbox_digest_run_twice_by_cron_sends_one_email(make_articles, tmp_path):
    from click.testing import CliRunner

    from kb import KB
    from kb.cli import main

    from .conftest import sqlite_url

    root = make_articles({
        "departments.yml": """
            departments:
              - id: payroll
                name: Payroll
                owners: [pat.owner@x.example]
                response_target: 2 business days
        """,
        "payroll/pay.md": "---\ntitle: Pay\n---\nText\n",
    })
    url = sqlite_url(tmp_path)
    kb = KB(Config(articles_dir=root, index_dir=tmp_path / "index", database_url=url))
    fid = kb.feedback.flag_gap(reporter=None, query="bonus", department="payroll").flag_id
    with kb.db.session() as s:
        s.get(Flag, fid).due_at = datetime.now(UTC) - timedelta(days=2)
    smtp = SMTPServer(free_port())
    smtp.start()
    try:
        env = {"KB_ARTICLES_DIR": str(root), "KB_DATABASE_URL": url, "KB_SMTP_HOST": "127.0.0.1",
               "KB_SMTP_PORT": str(smtp.port), "KB_INDEX_DIR": str(tmp_path / "index")}
        first = CliRunner(env=env).invoke(main, ["outbox", "digest"])
        assert first.exit_code == 0 and "digests queued: 1 (payroll)" in first.output and "sent 1" in first.output, first.output
        second = CliRunner(env=env).invoke(main, ["outbox", "digest"])
        assert second.exit_code == 0 and "already sent today: 1" in second.output and "sent 0" in second.output
        assert [m.rcpt_tos for m in smtp.inbox.messages] == [["pat.owner@x.example"]]
        assert b"1 overdue, 0 new" in smtp.inbox.messages[0].content and b"#1 gap" in smtp.inbox.messages[0].content
    finally:
        smtp.stop()
