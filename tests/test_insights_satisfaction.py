"""Satisfaction: the resolution email's signed links (a link scanner records nothing; one POST per
rating), rating from My requests through the same rule, ratings per department with no mean under
five ratings (SQLite and PostgreSQL), and the report's page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config
from kb.feedback.errors import NotFoundError
from kb.feedback.identity import Person
from kb.feedback.models import FlagRating, OutboxMessage
from kb.insights import Period

from .conftest import migrate

ADMIN = "boss@meridian.example"
REPORTER = "a@x.example"


def make_kb(database_url: str, **kw) -> KB:
    migrate(database_url)
    return KB(Config(articles_dir=PROJECT_ROOT / "articles", secret_key="t", reload_seconds=0, database_url=database_url,
                     admins=ADMIN, site_url="http://kb.example", **kw))


def resolved_flag(kb: KB, reporter: str, query: str) -> tuple[int, str]:
    """A gap flag resolved by an admin; returns its id and the rating link of the email sent."""
    admin = Person(ADMIN, is_admin=True)
    receipt = kb.feedback.flag_gap(reporter=reporter, query=query, department="payroll", notify=True)
    kb.feedback.transition(admin, receipt.flag_id, "resolve", "Added a section")
    with kb.db.session() as s:
        bodies = [str(m.payload) for m in s.scalars(select(OutboxMessage)) if "resolved" in m.dedupe_key]
    link = re.search(r"http://kb\.example(/rate/[\w.\-]+)\?score=1", bodies[-1]).group(1)
    return receipt.flag_id, link


def ratings(kb: KB) -> list[tuple[int, int]]:
    with kb.db.session() as s:
        return [(r.flag_id, r.score) for r in s.scalars(select(FlagRating).order_by(FlagRating.flag_id))]


def satisfaction(kb: KB) -> dict:
    period = Period.last(7, kb.insights.now().date())
    return kb.insights.report(Person(ADMIN, is_admin=True), "service", period)["satisfaction"]


def test_ratings_per_department(database_url):
    kb = make_kb(database_url)
    first, link1 = resolved_flag(kb, "a@x.example", "overtime rates")
    second, link2 = resolved_flag(kb, "b@x.example", "bonus dates")
    token1, token2 = link1.rsplit("/", 1)[1], link2.rsplit("/", 1)[1]
    assert kb.insights.rate_by_token(token1, 4) == first
    kb.insights.rate_by_token(token1, 5)  # changed: the latest counts
    kb.insights.rate_by_token(token2, 2)
    with pytest.raises(NotFoundError):
        kb.insights.rate_by_token(token1[:-2] + "xx", 3)  # a forged link
    open_flag = kb.feedback.flag_gap(reporter="c@x.example", query="x", department="payroll").flag_id
    with pytest.raises(NotFoundError):
        kb.insights.rate_by_token(kb.insights.rating_token(open_flag), 3)  # not resolved: nothing to rate
    # Two ratings, 5 and 2: counted, but no mean under five ratings ("too few to say").
    assert satisfaction(kb)["departments"]["payroll"] == {"ratings": 2, "mean": None, "score_1": 0, "score_2": 1,
                                                          "score_3": 0, "score_4": 0, "score_5": 1}
    for i, score in enumerate([4, 4, 3]):
        _, link = resolved_flag(kb, f"r{i}@x.example", f"question {i}")
        kb.insights.rate_by_token(link.rsplit("/", 1)[1], score)
    sat = satisfaction(kb)
    # Five ratings 5, 2, 4, 4, 3: mean 18 / 5 = 3.6.
    assert sat["departments"]["payroll"] == {"ratings": 5, "mean": 3.6, "score_1": 0, "score_2": 1, "score_3": 1,
                                             "score_4": 2, "score_5": 1}
    assert [(r["department"], r["ratings"], r["mean"]) for r in sat["by_month"]] == [("payroll", 5, 3.6)]


def test_rating_from_my_requests_uses_the_same_rule(database_url):
    kb = make_kb(database_url)
    fid, _ = resolved_flag(kb, REPORTER, "overtime rates")
    reporter = Person(REPORTER)
    kb.insights.rate_own(reporter, fid, 3)
    kb.insights.rate_own(reporter, fid, 4)  # changed
    assert ratings(kb) == [(fid, 4)]
    for who in (Person("someone.else@x.example"), Person(None)):
        with pytest.raises(NotFoundError):
            kb.insights.rate_own(who, fid, 1)  # only the reporter rates it
    still_open = kb.feedback.flag_gap(reporter=REPORTER, query="y", department="payroll").flag_id
    with pytest.raises(NotFoundError):
        kb.insights.rate_own(reporter, still_open, 5)
    assert ratings(kb) == [(fid, 4)]
    assert satisfaction(kb)["departments"]["payroll"]["ratings"] == 1


def test_two_ratings_racing_for_one_flag_keep_the_later_one(database_url):
    """The email's link and My requests rating at once: the second insert used to fail (a 500)."""
    from datetime import UTC, datetime

    from .races import insert_first

    kb = make_kb(database_url)
    fid, _ = resolved_flag(kb, REPORTER, "overtime rates")
    earlier = {"flag_id": fid, "department": "payroll", "score": 2, "at": datetime.now(UTC)}
    with insert_first(kb.db.engine, FlagRating.__table__, earlier) as raced:
        kb.insights.rate_own(Person(REPORTER), fid, 5)
    assert raced and ratings(kb) == [(fid, 5)]


@pytest.fixture
def web(tmp_path):
    kb = make_kb(f"sqlite:///{tmp_path / 'kb.sqlite3'}", trusted_proxies="127.0.0.1")
    app = create_app(kb)
    app.testing = True
    return kb, app


def form_key(html: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def test_a_link_scanner_that_fetches_every_link_records_nothing(web):
    kb, app = web
    _, link = resolved_flag(kb, REPORTER, "overtime rates")
    scanner = app.test_client()
    for _round in range(2):
        for n in range(1, 6):
            assert scanner.head(f"{link}?score={n}").status_code == 200
            resp = scanner.get(f"{link}?score={n}")
            assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
            page = resp.get_data(as_text=True)
            # The link's score is preselected, with one button to send it.
            assert re.findall(r'value="(\d)" required checked', page) == [str(n)]
            assert "data-send-now" in page and "Send rating" in page and "/static/rate.js" in page
    assert ratings(kb) == []
    assert scanner.get(link + "?score=9").status_code == 400 and scanner.get(link + "?score=x").status_code == 400
    assert scanner.get("/rate/forged.token").status_code == 404 and scanner.get("/rate/forged?score=3").status_code == 404


def test_the_rating_page_records_a_post_and_the_last_one_wins(web):
    kb, app = web
    fid, link = resolved_flag(kb, REPORTER, "overtime rates")
    _, other_link = resolved_flag(kb, "b@x.example", "bonus dates")
    key = form_key(app.test_client().get(link + "?score=4").get_data(as_text=True))
    other_key = form_key(app.test_client().get(other_link).get_data(as_text=True))
    c = app.test_client(use_cookies=False)  # no session is needed: the link is the permission
    assert c.post(link, data={"score": "4"}).status_code == 400  # no form key
    assert c.post(link, data={"score": "4", "form_key": other_key}).status_code == 400  # another link's
    assert c.post(link, data={"score": "4", "form_key": key}, headers={"Origin": "https://evil.example"}).status_code == 400
    assert c.post(link, data={"score": "7", "form_key": key}).status_code == 400
    assert c.post(link, data={"score": "4", "form_key": key}, headers={"Origin": "http://[::1"}).status_code == 400
    assert c.post("/rate/forged", data={"score": "4", "form_key": key}).status_code == 404
    assert ratings(kb) == []
    resp = c.post(link, data={"score": "4", "form_key": key}, headers={"Origin": "http://localhost"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(link)  # a reload sends nothing twice
    assert ratings(kb) == [(fid, 4)]
    c.post(link, data={"score": "2", "form_key": key})
    assert ratings(kb) == [(fid, 2)]  # changed: the last POST wins
    page = c.get(link).get_data(as_text=True)
    assert "Your rating: 2 of 5" in page and "the latest rating counts" in page
    assert re.findall(r'value="(\d)" required checked', page) == ["2"] and "data-send-now" not in page
    # The same score as the current one: nothing to send again.
    assert "data-send-now" not in c.get(link + "?score=2").get_data(as_text=True)
    assert "data-send-now" in c.get(link + "?score=5").get_data(as_text=True)
    with_session = app.test_client()
    resp = with_session.post(link, data={"score": "5", "form_key": key}, follow_redirects=True)
    assert "Thank you: you rated it 5 of 5." in resp.get_data(as_text=True) and ratings(kb) == [(fid, 5)]


def test_a_reopened_request_cannot_be_rated_from_the_link(web):
    kb, app = web
    fid, link = resolved_flag(kb, REPORTER, "overtime rates")
    c = app.test_client()
    key = form_key(c.get(link).get_data(as_text=True))
    kb.feedback.transition(Person(ADMIN, is_admin=True), fid, "reopen", None)
    page = c.get(link + "?score=5").get_data(as_text=True)
    assert "not resolved at the moment" in page and "form_key" not in page
    resp = c.post(link, data={"score": "5", "form_key": key}, follow_redirects=True)
    assert resp.status_code == 200 and "not resolved at the moment" in resp.get_data(as_text=True)
    assert ratings(kb) == []


def request_html(page: str, fid: int) -> str:
    start = page.index(f'id="request-{fid}"')
    end = page.find('<li class="request card"', start)
    return page[start: end if end > 0 else len(page)]


def test_my_requests_rates_resolved_requests_only(web):
    kb, app = web
    resolved, _ = resolved_flag(kb, REPORTER, "overtime rates")
    still_open = kb.feedback.flag_gap(reporter=REPORTER, query="parking", department="payroll").flag_id
    withdrawn = kb.feedback.flag_gap(reporter=REPORTER, query="bikes", department="payroll").flag_id
    kb.feedback.withdraw_request(Person(REPORTER), withdrawn)
    c, h = app.test_client(), {"X-Forwarded-Email": REPORTER}
    resp = c.get("/me/requests", headers=h)
    assert resp.headers["Cache-Control"] == "no-store"
    page = resp.get_data(as_text=True)
    assert "How did we handle this?" in request_html(page, resolved)
    assert re.findall(r'name="score" value="(\d)"', request_html(page, resolved)) == ["1", "2", "3", "4", "5"]
    for fid in (still_open, withdrawn):
        assert "How did we handle this?" not in request_html(page, fid) and 'name="score"' not in request_html(page, fid)
    t = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    url = f"/me/requests/{resolved}"
    assert c.post(url, headers=h, data={"action": "rate", "score": "4"}).status_code == 400  # no CSRF token
    assert c.post(url, headers=h, data={"csrf_token": t, "action": "rate", "score": "6"}).status_code == 400
    assert c.post(url, headers={"X-Forwarded-Email": "other@x.example"},
                  data={"csrf_token": t, "action": "rate", "score": "1"}).status_code == 404  # not theirs
    assert c.post(f"/me/requests/{still_open}", headers=h, data={"csrf_token": t, "action": "rate", "score": "1"}).status_code == 404
    assert ratings(kb) == []
    resp = c.post(url, headers=h, data={"csrf_token": t, "action": "rate", "score": "4"}, follow_redirects=True)
    box = request_html(resp.get_data(as_text=True), resolved)
    assert "You rated it 4 of 5." in box and "the latest rating counts" in box
    assert re.findall(r'value="(\d)" class="rating-button chosen" aria-pressed="true"', box) == ["4"]
    c.post(url, headers=h, data={"csrf_token": t, "action": "rate", "score": "2"})
    assert ratings(kb) == [(resolved, 2)]  # changed, still one rating
    with kb.db.session() as s:
        assert s.scalar(select(func.count()).select_from(FlagRating)) == 1
    assert satisfaction(kb)["departments"]["payroll"]["score_2"] == 1


def test_the_insights_page_says_too_few_under_five_ratings(web):
    kb, app = web
    c, h = app.test_client(), {"X-Forwarded-Email": ADMIN}
    for i, score in enumerate([5, 4, 4, 3]):
        _, link = resolved_flag(kb, f"r{i}@x.example", f"question {i}")
        kb.insights.rate_by_token(link.rsplit("/", 1)[1], score)
    page = c.get("/insights/service?days=7", headers=h).get_data(as_text=True)
    assert page.count("4 ratings, too few to say") == 2  # per department, and by month
    _, link = resolved_flag(kb, "r9@x.example", "question 9")
    kb.insights.rate_by_token(link.rsplit("/", 1)[1], 2)
    page = c.get("/insights/service?days=7", headers=h).get_data(as_text=True)
    assert "too few to say" not in page.split("Satisfaction with the handling", 1)[1].split("By week", 1)[0]
    assert page.count("<td>3.6</td>") == 2  # (5 + 4 + 4 + 3 + 2) / 5
