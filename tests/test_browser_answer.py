"""The "no answer" results page in a real browser (Playwright driving Debian's Chromium)."""

from __future__ import annotations

import pytest

from .test_browser import ARTIFACTS, browser, live_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_no_answer_page_offers_the_question_form_before_possibly_related(live_server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server + "/search?q=" + "公司有股票期权吗")
    notice = page.locator(".no-answer")
    assert notice.inner_text() == "No article answers this yet."
    gap, related = page.locator("#gap"), page.locator("h2.possibly-related")
    assert gap.get_by_role("heading", name="Ask the department").is_visible()
    assert related.is_visible() and page.locator(".results .result").count() >= 1
    # The form comes first on the page, the closest articles below it.
    assert gap.bounding_box()["y"] < related.bounding_box()["y"] < page.locator(".results").bounding_box()["y"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "no-answer.png"), full_page=True)
    # Gibberish: said plainly, no results, the form still there.
    page.goto(live_server + "/search?q=asdkjh+qwzx")
    assert "No article answers this yet." in page.locator(".no-answer").inner_text()
    assert page.locator(".results").count() == 0 and page.locator("#gap form").is_visible()
    page.close()
