"""Satisfaction: the resolution email's signed one-click links, ratings per department
(SQLite and PostgreSQL), and the rating page through the web."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config
from kb.feedback.errors import NotFoundError
from kb.feedback.identity import Person
from kb.feedback.models import OutboxMessage
from kb.insights import Period

ADMIN = "boss@meridian.example"


def make_kb(database_url: str) -> KB:
    from kb.feedback.db import upgrade

    upgrade(database_url)
    return KB(Config(articles_dir=PROJECT_ROOT / "articles", secret_key="t", reload_seconds=0, database_url=database_url,
                     admins=ADMIN, site_url="http://kb.example"))


def resolved_flag(kb: KB, reporter: str, query: str) -> tuple[int, str]:
    """A gap flag resolved by an admin; returns its id and the rating link of the email sent."""
    admin = Person(ADMIN, is_admin=True)
    receipt = kb.feedback.flag_gap(reporter=reporter, query=query, department="payroll", notify=True)
    kb.feedback.transition(admin, receipt.flag_id, "resolve", "Added a section")
    with kb.db.session() as s:
        bodies = [str(m.payload) for m in s.scalars(select(OutboxMessage)) if "resolved" in m.dedupe_key]
    link = re.search(r"http://kb\.example(/rate/[\w.\-]+)\?score=1", bodies[-1]).group(1)
    return receipt.flag_id, link


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
    today = kb.insights.now().date()
    sat = kb.insights.report(Person(ADMIN, is_admin=True), "service", Period.last(7, today))["satisfaction"]
    # Two ratings, 5 and 2: mean 3.5.
    assert sat["departments"]["payroll"] == {"ratings": 2, "mean": 3.5, "score_1": 0, "score_2": 1, "score_3": 0,
                                             "score_4": 0, "score_5": 1}
    assert [r["ratings"] for r in sat["by_month"]] == [2]


def test_rating_page(tmp_path):
    kb = make_kb(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    app = create_app(kb)
    app.testing = True
    _, link = resolved_flag(kb, "a@x.example", "overtime rates")
    c = app.test_client()
    resp = c.get(link + "?score=4")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert "4" in resp.get_data(as_text=True)
    assert c.get(link + "?score=9").status_code == 400 and c.get(link + "?score=x").status_code == 400
    assert c.get("/rate/forged.token").status_code == 404 and c.get("/rate/forged?score=3").status_code == 404
    assert c.post(link, data={"score": "2"}).status_code == 400  # no CSRF token
    page = c.get(link).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert c.post(link, data={"score": "2", "csrf_token": token}).status_code == 200
    sat = kb.insights.report(Person(ADMIN, is_admin=True), "service", Period.last(7, kb.insights.now().date()))["satisfaction"]
    assert sat["departments"]["payroll"]["mean"] == 2.0
