"""A real browser (Playwright driving Debian's Chromium) against a real server."""

from __future__ import annotations

import pytest

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config

from .conftest import require_browser, serve_in_thread, sqlite_url

pytestmark = pytest.mark.browser
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def live_server(bundled_index, tmp_path_factory, models):
    cfg = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index, secret_key="t",
                 database_url=sqlite_url(tmp_path_factory.mktemp("db")))
    app = create_app(KB(cfg, models=models))
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    exe = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=exe,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


def test_home_to_article(live_server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server + "/")
    assert page.locator("h1").inner_text() == "How can we help?"
    page.get_by_role("link", name="Benefits", exact=True).click()
    page.wait_for_url("**/d/benefits")
    first = page.locator(".article-list .article-item > a").first
    title = first.inner_text()
    first.click()
    assert page.locator("article h1").inner_text() == title
    assert page.locator(".toc a").count() >= 2
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "article.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.close()


def test_keyboard_and_phone(live_server, browser):
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="ja-JP",
                            extra_http_headers={"Accept-Language": "ja"})
    page.goto(live_server + "/d/benefits")
    assert page.locator("html").get_attribute("lang") == "ja"
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Nothing overflows sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home-phone-ja.png"), full_page=True)
    page.close()


def test_javascript_errors_do_not_happen(live_server, browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server + "/a/people/leave-types")
    page.locator(".toc a").nth(1).click()
    assert errors == []


def test_search_and_follow_a_result_to_its_section(live_server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server + "/")
    box = page.locator("#q")
    box.fill("passw")
    # Typeahead offers titles and aliases while typing.
    option = page.locator("#q-suggest [role=option]").first
    option.wait_for()
    assert "pass" in option.inner_text().lower()
    box.fill("how long do I have to submit an expense report")
    box.press("Enter")
    page.wait_for_url("**/search?q=*")
    assert page.locator(".result-title a").first.get_attribute("href").startswith("/a/finance/")
    # Follow the first result that points into a section of its article.
    first = page.locator(".result-title a[href*='#']").first
    href = first.get_attribute("href")
    page.locator(".snippet mark").first.wait_for()
    first.click()
    page.wait_for_url("**/a/**")
    anchor = href.split("#", 1)[1]
    target = page.locator(f"[id='{anchor}']")
    assert target.is_visible()
    # The section the result points at is on screen, not somewhere below.
    box_y = target.bounding_box()["y"]
    assert 0 <= box_y < 900
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search-result-section.png"))
    page.close()


@pytest.mark.parametrize("locale, expected, marked", [("en", "/a/people/parental-leave", "日本語"), ("ja", "/a/people/parental-leave.ja", "English")])
def test_typeahead_offers_the_readers_language_first(live_server, browser, locale, expected, marked):
    # Before: "parental l" + ArrowDown + Enter took an English reader to the Japanese article.
    page = browser.new_page(locale=locale, extra_http_headers={"Accept-Language": locale})
    page.goto(live_server + "/")
    box = page.locator("#q")
    box.press_sequentially("parental l", delay=20)
    options = page.locator("#q-suggest [role=option]")
    options.first.wait_for()
    assert options.first.locator(".s-lang").count() == 0  # in the reader's language: nothing to say
    others = page.locator("#q-suggest [role=option] .s-lang")
    assert others.count() >= 1 and marked in others.first.inner_text()
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url("**/a/**")
    assert page.url.split("?")[0].endswith(expected)
    page.close()


@pytest.fixture
def loop_server(bundled_index, tmp_path, models):
    """dev mode (the demo switcher) with a real SMTP server on loopback."""
    from aiosmtpd.controller import Controller

    from .test_feedback_outbox import Inbox, free_port

    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    cfg = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index, secret_key="t", dev=True,
                 database_url=sqlite_url(tmp_path), smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="kb@x.example")
    app = create_app(KB(cfg, models=models))
    with serve_in_thread(app) as base:
        yield base, app, inbox
    smtp.stop()


def test_the_whole_feedback_loop(loop_server, browser):

    url, app, inbox = loop_server
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    # 1. An employee says the article did not help, with a reason, and asks to be told.
    page.goto(url + "/a/benefits/hsa-fsa")
    assert "alex.employee@meridian.example" in page.locator(".demo-bar").inner_text()
    page.locator(".feedback-no summary").click()
    page.select_option("#fb-reason", "outdated")
    page.fill("#fb-comment", "The 2027 limits are out; this still shows 2026.")
    assert "/ 2000" in page.locator("#fb-count").inner_text()
    page.check("input[name=notify]")
    page.locator(".feedback-no button[type=submit]").click()
    result = page.locator(".feedback-result")
    result.wait_for()
    message = result.inner_text()
    assert "Benefits owns this and answers within 3 business days" in message
    assert page.evaluate("document.activeElement.classList.contains('feedback-result')")  # focus moved to the answer

    # 2. The department owner sees it in the queue and resolves it.
    page.select_option("#demo-role", "owner")
    page.locator(".demo-switch button").click()
    page.goto(url + "/admin/flags")
    row = page.locator("table.queue tbody tr").first
    assert "Health savings" in row.inner_text() or "HSA" in row.inner_text()
    assert "Outdated" in row.inner_text()  # the reason as a labelled badge, not the stored value
    row.locator("td:nth-child(3) a").click()
    page.fill("#note-resolve", "Updated to the 2027 IRS limits.")
    page.locator("form:has(#note-resolve) button").click()
    page.wait_for_selector(".status-resolved")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "flag-resolved.png"), full_page=True)

    # 3. The outbox tells the employee, through a real SMTP server.
    report = app.extensions["kb"].deliver_outbox()
    assert report.sent >= 1 and report.failed == 0
    to_employee = [m for m in inbox.messages if m.rcpt_tos == ["alex.employee@meridian.example"]]
    assert len(to_employee) == 1
    assert b"Updated to the 2027 IRS limits." in to_employee[0].content
    page.close()
