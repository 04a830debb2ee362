"""Issue 9's "Done when" as a person does it, in a real browser (Playwright driving Debian's
Chromium) against a dev-mode server (`kb serve --dev`, the README's first command) on the bundled
articles: a new employee searches (one search finds nothing), opens a result and votes, says they
didn't find an answer; the owner resolves it; the employee rates it from My requests; the owner
and the admin see all of it on /insights. And the resolution email's rating link: one click in a
person's browser, nothing recorded by an automated one (as link scanners are)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config
from kb.feedback.identity import Person
from kb.feedback.models import Flag, FlagRating

from .conftest import require_browser, serve_in_thread, sqlite_url
from .test_browser import ARTIFACTS, browser  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser
DEPARTMENT = "benefits"  # the demo owner's department
SEARCHES = ("dental coverage", "HSA contribution limit", "asdkjh qwzx")  # the last finds nothing
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def dev_server(bundled_index, tmp_path, models):
    cfg = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index, secret_key="t", dev=True,
                 database_url=sqlite_url(tmp_path))
    app = create_app(KB(cfg, models=models))
    with serve_in_thread(app) as base:
        yield base, app.extensions["kb"]


def act_as(page, role):
    page.select_option("#demo-role", role)
    page.locator(".demo-switch button").click()
    page.wait_for_load_state()


def search(page, base, query):
    page.goto(base + "/search")
    page.fill("#search-q", query)
    page.select_option("#search-department", DEPARTMENT)
    page.locator(".search-page-form button[type=submit]").click()
    page.wait_for_url("**/search?q=*")


def shoot(page, name):
    """The page at desktop width, then at phone width (nothing may scroll sideways there)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"walkthrough-{name}.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"walkthrough-{name}-phone.png"), full_page=True)
    assert not page.evaluate("document.scrollingElement.scrollWidth > window.innerWidth"), name
    page.set_viewport_size(size)


def cell(table, row_text, column):
    """The text of ``column`` (a header's text) in the first body row containing ``row_text``."""
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    row = table.locator("tbody tr", has_text=row_text).first
    return row.locator("td, th").nth(headers.index(column)).inner_text().strip()


def employee_side(page, base) -> int:
    """Three searches (one with no result), a result opened and voted on, a "didn't find"; the flag's id."""
    for query in SEARCHES[:2]:
        search(page, base, query)
        assert page.locator(".results .result").count() >= 1
    page.locator(".results .result a").first.click()  # opens the top answer to the HSA question
    page.wait_for_url("**/a/benefits/**")
    page.locator(".feedback-yes button").click()
    page.locator(".vote-state", has_text="was helpful").wait_for()
    search(page, base, SEARCHES[2])
    assert "No article answers this yet." in page.locator(".no-answer").inner_text()
    assert page.locator(".results").count() == 0
    page.select_option("#gap-department", DEPARTMENT)
    page.fill("#gap-comment", "Is there a policy for this?")
    page.locator("#gap button[type=submit]").click()
    link = page.locator("#gap .feedback-result.flash-success a[href^='/me/requests#request-']")
    return int(re.search(r"request-(\d+)", link.get_attribute("href")).group(1))


def owner_resolves(page, base, fid):
    # Switching roles reloads the page it was made on: not a search page, which would count again.
    page.goto(base + "/me/requests")
    act_as(page, "owner")
    page.goto(f"{base}/admin/flags/{fid}")
    page.fill("#note-resolve", "Added a page on it.")
    page.locator("form:has(#note-resolve) button").click()
    page.wait_for_selector(".status-resolved")


def employee_rates(page, base, fid):
    act_as(page, "employee")
    page.goto(base + "/me/requests")
    box = page.locator(f"#request-{fid}")
    assert "Resolved" in box.inner_text() and "How did we handle this?" in box.inner_text()
    box.get_by_role("button", name="Rate it 4 of 5").click()
    page.wait_for_load_state()
    box = page.locator(f"#request-{fid}")
    assert "You rated it 4 of 5." in box.inner_text()
    assert box.get_by_role("button", name="Rate it 4 of 5").get_attribute("aria-pressed") == "true"
    shoot(page, "my-requests-rated")


def check_insights(page, base, who):
    """What ``who`` (owner or admin) sees of the walkthrough on /insights (the last 7 days)."""
    page.goto(base + "/insights/search?days=7")
    totals = page.locator("#totals table")
    assert cell(totals, "Searches", "Value") == "3"
    assert cell(totals, "Zero-answer rate", "Value") == "33.3%"  # 1 of 3
    assert cell(totals, "reports", "Value") == "1"  # the "didn't find"
    data = page.request.get(base + "/api/insights/search?days=7").json()
    assert (data["totals"]["searches"], data["totals"]["zero_answer"], data["totals"]["clicked"]) == (3, 1, 1)
    shoot(page, f"search-{who}")
    page.goto(base + "/insights/helpfulness?days=7")
    departments = page.locator("#departments table")
    assert (cell(departments, DEPARTMENT, "Yes"), cell(departments, DEPARTMENT, "Votes")) == ("1", "1")
    assert cell(departments, DEPARTMENT, "Helpful share") == "1 vote, too few to say"
    page.goto(base + "/insights/service?days=7")
    flags = page.locator("#departments table")
    assert cell(flags, DEPARTMENT, "Received") == "1" and cell(flags, DEPARTMENT, "Open") == "0"
    rated = page.locator("#satisfaction table")
    assert cell(rated, DEPARTMENT, "Ratings") == "1" and cell(rated, DEPARTMENT, "4") == "1"
    assert cell(rated, DEPARTMENT, "Mean (1-5)") == "1 rating, too few to say"
    shoot(page, f"service-{who}")


def test_the_issue_walkthrough_in_a_browser(dev_server, browser):  # noqa: F811
    base, kb = dev_server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(base + "/")
    assert "alex.employee@meridian.example" in page.locator(".demo-bar").inner_text()  # a new employee
    fid = employee_side(page, base)
    owner_resolves(page, base, fid)
    employee_rates(page, base, fid)
    with kb.db.session() as s:
        assert [(r.flag_id, r.department, r.score) for r in s.scalars(select(FlagRating))] == [(fid, DEPARTMENT, 4)]
    act_as(page, "owner")
    check_insights(page, base, "owner")
    act_as(page, "admin")
    check_insights(page, base, "admin")
    page.close()


def resolved_gap(kb: KB) -> int:
    receipt = kb.feedback.flag_gap(reporter="alex.employee@meridian.example", query="bike to work", department=DEPARTMENT)
    kb.feedback.transition(Person("boss@meridian.example", is_admin=True), receipt.flag_id, "resolve", "Done")
    return receipt.flag_id


def stored_score(kb: KB, fid: int) -> int | None:
    with kb.db.session() as s:
        assert s.get(Flag, fid).status == "resolved"
        return s.scalar(select(FlagRating.score).where(FlagRating.flag_id == fid))


def test_the_email_link_is_one_click_for_a_person_and_nothing_for_a_scanner(dev_server, browser):  # noqa: F811
    base, kb = dev_server
    fid = resolved_gap(kb)
    link = f"{base}/rate/{kb.insights.rating_token(fid)}"
    # An automated browser, with scripts on, as the scanners that "detonate" links are: nothing.
    scanner = browser.new_page()
    for n in range(1, 6):
        scanner.goto(f"{link}?score={n}")  # returns after the load event: rate.js (deferred) has run
        assert scanner.locator("input[name=score]:checked").get_attribute("value") == str(n)
        assert scanner.locator("script[src$='/rate.js']").count() == 1
        # rate.js marks the form before it submits; unmarked, still on the link: it sent nothing.
        assert scanner.locator("form.rate-form").get_attribute("data-sent") is None and scanner.url.endswith(f"?score={n}")
    assert stored_score(kb, fid) is None
    scanner.close()
    # A person's browser (not under automation): the click in the email is the only click.
    person = browser.browser_type.launch(executable_path=require_browser(), headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-blink-features=AutomationControlled"])
    try:
        page = person.new_page()
        assert page.evaluate("navigator.webdriver") is False
        page.goto(f"{link}?score=4")
        page.locator(".rating-current", has_text="4 of 5").wait_for()
        assert "Thank you: you rated it 4 of 5." in page.locator(".flashes").inner_text()
        assert stored_score(kb, fid) == 4
        page.reload()  # the page after sending is a GET: nothing is sent again, nothing changes
        page.locator("input[name=score][value='2']").check()
        page.get_by_role("button", name="Send rating").click()  # changing it later: the last one wins
        page.locator(".rating-current", has_text="2 of 5").wait_for()
        assert stored_score(kb, fid) == 2
        shoot(page, "rate-page")
    finally:
        person.close()
