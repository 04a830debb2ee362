"""/insights through the web: roles, headers, clicks recorded from result links without
JavaScript, exports (CSV defused), the API, bad filters as 400."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config
from kb.feedback.models import ArticleView, SearchClick, SearchLog

from .conftest import sqlite_url

OWNER = "mei.lin@meridian.example"  # first owner of payroll in the bundled departments.yml
ADMIN = "boss@meridian.example"


def make_app(tmp_path, index_dir, models=None):
    cfg = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=index_dir, secret_key="t", reload_seconds=0,
                 database_url=sqlite_url(tmp_path), trusted_proxies="127.0.0.1", admins=ADMIN, insights_min_searchers=1)
    app = create_app(KB(cfg, models=models))
    app.testing = True
    return app


@pytest.fixture
def search_app(tmp_path, bundled_index, models):
    return make_app(tmp_path, bundled_index, models)


@pytest.fixture
def app(tmp_path, models):
    """Without a search index: the insights pages read only the database, the articles (and USE)."""
    return make_app(tmp_path, tmp_path / "no-index", models)


def log_search(app, query):
    page = SimpleNamespace(query=query, language="en", department=None, total=1, answered=None,
                           hits=[SimpleNamespace(article="payroll/pay-schedule.md")])
    return app.extensions["kb"].insights.record_search(page, "session-1")


def as_user(email):
    return {"X-Forwarded-Email": email}


def test_result_links_carry_the_search_and_the_article_page_records_the_click(search_app):
    app = search_app
    c = app.test_client()
    h = as_user("e@meridian.example")
    html = c.get("/search?q=when+is+payday", headers=h).get_data(as_text=True)
    links = re.findall(r'class="result-title"><a href="([^"]+)"', html)
    assert links and all(re.search(r"\?from=[\w-]{12}&amp;pos=\d+", u) for u in links)
    first = links[0].replace("&amp;", "&")
    assert re.search(r"pos=1(#|$)", first)
    assert c.get(first, headers=h).status_code == 200
    c.get(first, headers=h)  # reloading the page is not a second click
    app.extensions["kb"].insights.flush()
    with app.extensions["kb"].db.session() as s:
        search = s.scalar(select(SearchLog))
        clicks = list(s.scalars(select(SearchClick)))
        views = list(s.scalars(select(ArticleView)))
        assert search.searcher and len(search.searcher) == 32 and "e@meridian" not in search.searcher
        assert search.shown and search.shown[0] == clicks[0].article and search.area
        assert [c.position for c in clicks] == [1] and search.clicks == 1
        assert len(views) == 2
    # A forged position is ignored, never an error.
    assert c.get(first.replace("pos=1", "pos=9999"), headers=h).status_code == 200
    assert c.get(first.split("?")[0] + "?from=abc&pos=-1", headers=h).status_code == 200
    app.extensions["kb"].insights.flush()
    with app.extensions["kb"].db.session() as s:
        assert len(list(s.scalars(select(SearchClick)))) == 1


@pytest.mark.parametrize("section", ["search", "gaps", "helpfulness", "service", "content"])
def test_owner_and_admin_see_each_page_employee_gets_403(app, section):
    c = app.test_client()
    log_search(app, "payday")
    for who in (OWNER, ADMIN):
        resp = c.get(f"/insights/{section}", headers=as_user(who))
        assert resp.status_code == 200, who
        assert resp.headers["Cache-Control"] == "no-store"
        assert "<svg" in resp.get_data(as_text=True) or section != "search"
    for url in (f"/insights/{section}", f"/insights/{section}.csv", f"/api/insights/{section}"):
        assert c.get(url, headers=as_user("e@meridian.example")).status_code == 403
        assert c.get(url).status_code == 403
    api = c.get(f"/api/insights/{section}", headers=as_user(OWNER))
    assert api.status_code == 200 and api.get_json()["scope"] == ["payroll"]
    assert api.headers["Cache-Control"] == "no-store"


def test_owner_cannot_ask_for_another_department_and_bad_periods_are_400(app):
    c = app.test_client()
    assert c.get("/insights/search?department=it-security", headers=as_user(OWNER)).status_code == 403
    assert c.get("/insights/search?department=it-security", headers=as_user(ADMIN)).status_code == 200
    for q in ("days=12", "days=x", "start=2026-13-01", "start=2026-11-10&end=2026-11-01", "start=1900-01-01"):
        assert c.get(f"/insights/search?{q}", headers=as_user(ADMIN)).status_code == 400, q
    assert c.get("/insights/nope", headers=as_user(ADMIN)).status_code == 404
    assert c.get("/insights/search.xml", headers=as_user(ADMIN)).status_code == 404
    ok = c.get("/insights/search?start=2026-01-01&end=2026-12-31", headers=as_user(ADMIN))
    assert ok.status_code == 200 and "2026-01-01" in ok.get_data(as_text=True)


def test_header_link_only_for_owners_and_admins(app):
    c = app.test_client()
    assert 'href="/insights"' in c.get("/", headers=as_user(OWNER)).get_data(as_text=True)
    assert 'href="/insights"' not in c.get("/", headers=as_user("e@meridian.example")).get_data(as_text=True)


def test_csv_export_is_defused_and_json_matches(app):
    c = app.test_client()
    log_search(app, '=HYPERLINK("http://x") payday')
    body = c.get("/insights/search.csv", headers=as_user(ADMIN)).get_data(as_text=True)
    cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert any(cell.startswith("'=hyperlink") for cell in cells)  # shown (1 searcher ≥ 1 in this app), defused
    data = c.get("/insights/search.json", headers=as_user(ADMIN)).get_json()
    assert data["totals"]["searches"] == 1 and data["top_queries"][0]["query"].startswith("=hyperlink")


@pytest.mark.parametrize(("lang", "word"), [("ja", "インサイト"), ("ko", "인사이트"), ("zh", "洞察")])
def test_pages_are_translated(app, lang, word):
    from kb.feedback.models import Vote

    log_search(app, "payday")
    with app.extensions["kb"].db.session() as s:  # a share too few to say, in every language
        s.add(Vote(article="payroll/pay-schedule.md", voter="v", day=date.today(), helpful=False,
                   reason="outdated", content_hash="h"))
    c = app.test_client()
    c.set_cookie("kb_lang", lang)
    for section in ("search", "gaps", "helpfulness", "service", "content"):
        resp = c.get(f"/insights/{section}", headers=as_user(ADMIN))
        assert resp.status_code == 200 and word in resp.get_data(as_text=True), section


def test_gap_radar_opens_a_gap_flag_in_one_click(app):
    from kb.feedback.models import Flag

    for i in range(3):
        page = SimpleNamespace(query="dental implants coverage", language="en", department=None, total=0, answered=False, hits=[])
        app.extensions["kb"].insights.record_search(page, f"s{i}")
    c = app.test_client()
    html = c.get("/insights/gaps", headers=as_user(ADMIN)).get_data(as_text=True)
    assert "dental implants coverage" in html
    form = re.search(r'<form method="post" action="/insights/gaps/flag">(.*?)</form>', html, re.S).group(1)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
    assert fields["department"] and fields["query"] == "dental implants coverage"
    assert c.post("/insights/gaps/flag", headers=as_user(ADMIN), data={**fields, "csrf_token": "forged"}).status_code == 400
    resp = c.post("/insights/gaps/flag", headers=as_user(ADMIN), data=fields)
    assert resp.status_code == 302 and "/admin/flags/" in resp.headers["Location"]
    with app.extensions["kb"].db.session() as s:
        flag = s.scalar(select(Flag))
        assert (flag.kind, flag.department, flag.query, flag.reporter) == ("gap", fields["department"], "dental implants coverage", ADMIN)
        assert "3 failed searches" in flag.comment
    assert c.post("/insights/gaps/flag", headers=as_user("e@meridian.example"), data=fields).status_code == 403
    bad = c.post("/insights/gaps/flag", headers=as_user(ADMIN), data={**fields, "department": "nope"})
    assert bad.status_code == 302 and bad.headers["Location"].endswith("/insights/gaps")
