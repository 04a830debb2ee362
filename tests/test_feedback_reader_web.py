"""The reader's side through the web: where messages land, the vote shown, My requests, replies
and notes, the favicon."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config
from kb.feedback.models import FlagEntry, OutboxMessage

from .conftest import sqlite_url

ARTICLE = "payroll/pay-schedule.md"
PAGE = "/a/payroll/pay-schedule"
EMPLOYEE = "e@meridian.example"
OWNER = "mei.lin@meridian.example"  # owns payroll in the bundled departments.yml


@pytest.fixture
def make_app(tmp_path, models):
    def make(**kw):
        base = dict(articles_dir=PROJECT_ROOT / "articles", index_dir=tmp_path / "index", secret_key="t",
                    reload_seconds=0, database_url=sqlite_url(tmp_path), trusted_proxies="127.0.0.1")
        base.update(kw)
        app = create_app(KB(Config(**base), models=models))
        app.testing = True
        return app

    return make


def as_user(email, **more):
    return {"X-Forwarded-Email": email, **more}


def token(client, url=PAGE, headers=None):
    html = client.get(url, headers=headers or {}).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def section(html, ident):
    """The HTML of the <section id=ident>."""
    start = html.index(f'<section id="{ident}"')
    return html[start: html.index("</section>", start)]


def vote(c, email, helpful, **data):
    return c.post("/feedback/article", headers=as_user(email), data={
        "csrf_token": token(c), "article": ARTICLE, "helpful": helpful, **data})


# --- defect 4: without JavaScript the message is where the redirect lands ------------------

def test_without_javascript_the_receipt_is_in_the_box_the_redirect_lands_on(make_app):
    c = make_app().test_client()
    resp = vote(c, EMPLOYEE, "no", reason="unclear", comment="A")
    assert resp.headers["Location"].endswith(PAGE + "#feedback")
    page = c.get(resp.headers["Location"], headers=as_user(EMPLOYEE)).get_data(as_text=True)
    box = section(page, "feedback")
    assert "Payroll owns this and answers within 2 business days" in box
    assert '<div class="flashes"' not in page  # not at the top, off screen
    # The reference links to My requests.
    assert re.search(r'Your reference is <a href="/me/requests#request-(\d+)">#\1</a>', box)


def test_without_javascript_the_gap_receipt_is_in_the_gap_box(tmp_path, bundled_index, models):
    app = create_app(KB(Config(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index, secret_key="t",
                               reload_seconds=0, database_url=sqlite_url(tmp_path), trusted_proxies="127.0.0.1"),
                        models=models))
    app.testing = True
    c = app.test_client()
    h = as_user(EMPLOYEE)
    resp = c.post("/feedback/gap", headers=h, data={
        "csrf_token": token(c, "/search?q=dental+implants", h), "query": "dental implants", "department": "benefits"})
    assert resp.headers["Location"].endswith("#gap")
    page = c.get(resp.headers["Location"], headers=h).get_data(as_text=True)
    assert "Benefits owns this" in section(page, "gap")
    assert '<div class="flashes"' not in page


def test_other_messages_still_show_at_the_top(make_app):
    c = make_app().test_client()
    h = as_user(OWNER)
    c.post("/admin/flags/bulk", headers=h, data={"csrf_token": token(c), "action": "nothing"})
    assert '<div class="flashes"' in c.get("/admin/flags", headers=h).get_data(as_text=True)


# --- defect 2: the page shows the reader's current vote, after sending and after a reload ------

def test_the_article_shows_my_vote_and_offers_to_change_it(make_app):
    c = make_app().test_client()
    h = as_user(EMPLOYEE)
    assert 'class="vote-state" hidden' in c.get(PAGE, headers=h).get_data(as_text=True)
    resp = c.post("/feedback/article", headers={**h, "Accept": "application/json"},
                  data={"csrf_token": token(c), "article": ARTICLE, "helpful": "no", "reason": "unclear"})
    assert resp.get_json()["state"].startswith("You said this was not helpful on ")
    box = section(c.get(PAGE, headers=h).get_data(as_text=True), "feedback")
    assert re.search(r'<p class="vote-state">You said this was not helpful on [A-Z][a-z]{2} \d+, \d{4}\.</p>', box)
    assert "<summary>Change your answer</summary>" in box
    vote(c, EMPLOYEE, "yes")
    page = c.get(PAGE, headers={**h, "Accept-Language": "ja"})
    assert page.headers["Cache-Control"] == "no-store"
    assert re.search(r'class="vote-state">[^<]*\d{4}/\d{2}/\d{2}', page.get_data(as_text=True))  # the reader's date format
    # Someone else sees no vote.
    assert 'class="vote-state" hidden' in c.get(PAGE, headers=as_user("other@meridian.example")).get_data(as_text=True)


def test_the_owner_sees_that_the_reader_later_found_it_helpful(make_app):
    c = make_app().test_client()
    vote(c, EMPLOYEE, "no", reason="outdated", comment="Old dates")
    vote(c, EMPLOYEE, "no", reason="missing", comment="No cutoff")
    vote(c, EMPLOYEE, "yes")
    page = c.get("/admin/flags/1", headers=as_user(OWNER)).get_data(as_text=True)
    assert "2 reports" in page
    assert page.index("Old dates") < page.index("No cutoff") < page.index("The reader later found it helpful")


# --- My requests ----------------------------------------------------------------------------

def test_my_requests_lists_what_i_sent_privately(make_app):
    app = make_app()
    c = app.test_client()
    vote(c, EMPLOYEE, "no", reason="unclear", comment="Which Friday?")
    vote(c, "other@meridian.example", "no", reason="unclear", comment="someone else's")
    resp = c.get("/me/requests", headers=as_user(EMPLOYEE))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    page = resp.get_data(as_text=True)
    assert 'id="request-1"' in page and "Which Friday?" in page and "Payroll" in page and "Received" in page
    assert "someone else" not in page
    assert 'href="/me/requests"' in page  # offered in the header


def test_my_requests_needs_an_identity_and_is_not_offered_in_anonymous_mode(make_app):
    assert make_app().test_client().get("/me/requests").status_code == 403
    anon = make_app(anonymous_feedback=True).test_client()
    assert anon.get("/me/requests", headers=as_user(EMPLOYEE)).status_code == 404
    assert 'href="/me/requests"' not in anon.get(PAGE, headers=as_user(EMPLOYEE)).get_data(as_text=True)


def test_comment_and_withdraw_need_csrf_and_only_touch_my_own_request(make_app):
    app = make_app()
    c = app.test_client()
    vote(c, EMPLOYEE, "no", reason="unclear", comment="A")
    h = as_user(EMPLOYEE)
    assert c.post("/me/requests/1", headers=h, data={"action": "comment", "text": "x"}).status_code == 400
    t = token(c, "/me/requests", h)
    assert c.post("/me/requests/1", headers=as_user("other@meridian.example"),
                  data={"csrf_token": t, "action": "comment", "text": "x"}).status_code == 404
    assert c.post("/me/requests/99999999999999", headers=h, data={"csrf_token": t, "action": "withdraw"}).status_code == 404
    assert c.post("/me/requests/abc", headers=h, data={"csrf_token": t, "action": "withdraw"}).status_code == 404
    c.post("/me/requests/1", headers=h, data={"csrf_token": t, "action": "comment", "text": "<b>second table</b>"})
    c.post("/me/requests/1", headers=h, data={"csrf_token": t, "action": "withdraw"})
    page = c.get("/me/requests", headers=h).get_data(as_text=True)
    assert "&lt;b&gt;second table&lt;/b&gt;" in page and "Withdrawn" in page
    resp = c.post("/me/requests/1", headers=h, data={"csrf_token": t, "action": "withdraw"}, follow_redirects=True)
    assert resp.status_code == 200 and "Only an open request can be withdrawn." in resp.get_data(as_text=True)


def test_an_owner_replies_to_the_reporter_and_notes_stay_internal(make_app):
    app = make_app()
    c = app.test_client()
    vote(c, EMPLOYEE, "no", reason="unclear", comment="A")
    o = as_user(OWNER)
    t = token(c, "/admin/flags/1", o)
    c.post("/admin/flags/1", headers=o, data={"csrf_token": t, "action": "note", "text": "Ask Kenji, he wrote it"})
    c.post("/admin/flags/1", headers=o, data={"csrf_token": t, "action": "reply", "text": "Which table do you mean?"})
    empty = c.post("/admin/flags/1", headers=o, data={"csrf_token": t, "action": "reply", "text": ""}, follow_redirects=True)
    assert "Write something first." in empty.get_data(as_text=True)
    flag_page = c.get("/admin/flags/1", headers=o).get_data(as_text=True)
    assert "Ask Kenji" in flag_page and "Which table do you mean?" in flag_page
    mine = c.get("/me/requests", headers=as_user(EMPLOYEE)).get_data(as_text=True)
    assert "Which table do you mean?" in mine and "Reply from Payroll" in mine
    assert "Ask Kenji" not in mine
    with app.extensions["kb"].db.session() as s:
        to_reporter = [m for m in s.scalars(select(OutboxMessage)) if m.target == EMPLOYEE]
        assert len(to_reporter) == 1 and "Which table do you mean?" in str(to_reporter[0].payload)
        assert "Kenji" not in str([m.payload for m in s.scalars(select(OutboxMessage))])
        assert [e.kind for e in s.scalars(select(FlagEntry).order_by(FlagEntry.id))] == ["report", "note", "reply"]
    # Another department's owner cannot reply: the flag looks missing.
    other = as_user("sam.whitfield@meridian.example")
    assert c.post("/admin/flags/1", headers=other, data={"csrf_token": t, "action": "reply", "text": "hi"}).status_code == 404


# --- defect 11: the favicon -------------------------------------------------------------------

def test_favicon_is_served(make_app):
    resp = make_app().test_client().get("/favicon.ico")
    assert resp.status_code == 200 and resp.mimetype == "image/vnd.microsoft.icon"
    assert resp.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
