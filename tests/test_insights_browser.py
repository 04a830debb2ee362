"""/insights in a real browser (Chromium through Playwright), with JavaScript off: owners and admins
see every page with its charts and tables; an employee gets 403. Screenshots go to the pytest tmp dir."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config

from .conftest import require_browser, serve_in_thread, sqlite_url

pytestmark = pytest.mark.browser
OWNER, ADMIN, EMPLOYEE = "mei.lin@meridian.example", "boss@meridian.example", "e@meridian.example"
SECTIONS = ("search", "gaps", "helpfulness", "service", "content")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, models):
    tmp = tmp_path_factory.mktemp("insights-browser")
    cfg = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=tmp / "no-index", secret_key="t",
                 database_url=sqlite_url(tmp), trusted_proxies="127.0.0.1", admins=ADMIN, insights_min_searchers=2)
    kb = KB(cfg, models=models)
    app = create_app(kb)
    for i, query in enumerate(["payday", "payday", "payday", "bank account change", "nothing here"]):
        hits = [] if query == "nothing here" else [SimpleNamespace(article="payroll/pay-schedule.md")]
        kb.insights.record_search(SimpleNamespace(query=query, language="en", department="payroll", total=len(hits),
                                                  answered=bool(hits), hits=hits), f"s{i}")
    kb.insights.record_view("payroll/pay-schedule.md")
    article = kb.library.articles["payroll/pay-schedule.md"]
    for i, helpful in enumerate([True, True, False, True, False, True]):
        kb.feedback.vote(voter=f"v{i}@x", reporter=f"v{i}@x", article=article, helpful=helpful,
                         reason=None if helpful else "outdated")
    kb.feedback.flag_gap(reporter=None, query="nothing here", department="payroll")
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    exe = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.mark.parametrize("who", [OWNER, ADMIN])
def test_each_insights_page_as_owner_and_admin(live_server, browser, tmp_path, who):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900},
                                  extra_http_headers={"X-Forwarded-Email": who})
    page = context.new_page()
    page.goto(live_server + "/")
    page.get_by_role("link", name="Insights").click()  # the header link
    page.wait_for_url("**/insights/search*")
    for section in SECTIONS:
        page.goto(f"{live_server}/insights/{section}?days=90")
        assert page.locator("h1").inner_text().startswith("Insights")
        assert page.locator("table.insights-table").count() >= 1
        if section == "search":
            assert page.locator("svg.chart").count() >= 3  # per day, per language, heatmap
            assert page.get_by_role("cell", name="payday", exact=True).count() >= 1  # 3 searchers ≥ 2
            assert page.get_by_text("bank account change").count() == 0  # one searcher: hidden
        shot = tmp_path / f"insights-{section}-{who.split('@')[0]}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    context.close()


def test_employee_gets_403(live_server, browser):
    context = browser.new_context(extra_http_headers={"X-Forwarded-Email": EMPLOYEE})
    page = context.new_page()
    page.goto(live_server + "/")
    assert page.get_by_role("link", name="Insights").count() == 0
    for section in SECTIONS:
        assert page.goto(f"{live_server}/insights/{section}").status == 403
    context.close()
