"""The owner's pages in a real browser: every control styled from the stylesheet's tokens
(no browser-default grey buttons), a visible focus ring, badges, relative due dates."""

from __future__ import annotations

import pytest

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config

from .conftest import serve_in_thread, sqlite_url
from .test_browser import browser  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser
ADMIN = "boss@meridian.example"
#: What Chromium paints an unstyled <button> and <select> with.
DEFAULT_GREYS = {"rgb(239, 239, 239)", "rgb(240, 240, 240)", "rgba(0, 0, 0, 0)"}


@pytest.fixture(scope="module")
def owner_server(bundled_index, tmp_path_factory):
    cfg = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index, secret_key="t",
                 database_url=sqlite_url(tmp_path_factory.mktemp("db")), trusted_proxies="127.0.0.1", admins=ADMIN)
    kb = KB(cfg)
    kb.feedback.flag_gap(reporter="e@meridian.example", query="bonus dates", department="payroll", notify=True)
    with serve_in_thread(create_app(kb)) as base:
        yield base


def style(locator, prop):
    return locator.evaluate(f"el => getComputedStyle(el).getPropertyValue('{prop}')")


def test_owner_controls_are_styled_from_the_tokens(owner_server, browser):  # noqa: F811
    """Regression: Filter, Apply and Switch were browser-default grey buttons."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers={"X-Forwarded-Email": ADMIN})
    page = context.new_page()
    page.goto(owner_server + "/admin/flags")
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
    assert accent == "#1f5fbf"
    for name in ("Filter", "Apply"):
        button = page.get_by_role("button", name=name)
        assert style(button, "background-color") == "rgb(31, 95, 191)", name  # --btn-primary-bg
        assert style(button, "border-radius") == "6px" and style(button, "font-weight") == "600"
    for select in page.locator(".owner-page select").all():
        assert style(select, "background-color") not in DEFAULT_GREYS - {"rgba(0, 0, 0, 0)"}
        assert style(select, "border-top-color") == "rgb(185, 194, 208)"  # --control-border
    filter_button = page.get_by_role("button", name="Filter")
    filter_button.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard, so :focus-visible applies
    assert "rgb(240, 165, 0)" in style(filter_button, "box-shadow")  # --focus-ring
    badge = page.locator(".badge-status").first
    assert badge.inner_text().split()[-1] == "New" and style(badge, "color") == "rgb(31, 95, 191)"
    assert "due in" in page.locator(".due-label").first.inner_text()
    assert "opened" in page.locator("td time").last.inner_text()
    page.goto(owner_server + "/admin/flags/1")
    for button in page.locator(".owner-page button").all():
        assert style(button, "background-color") not in {"rgb(239, 239, 239)", "rgb(240, 240, 240)"}
        assert style(button, "border-radius") == "6px"
    assert page.locator(".badge-delivery").first.inner_text() == "Waiting to be sent"
    context.close()


@pytest.fixture(scope="module")
def dev_server(bundled_index, tmp_path_factory):
    cfg = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index, secret_key="t", dev=True,
                 database_url=sqlite_url(tmp_path_factory.mktemp("devdb")))
    with serve_in_thread(create_app(KB(cfg))) as base:
        yield base


def test_the_demo_switch_button_is_styled_too(dev_server, browser):  # noqa: F811
    """Regression: the dev bar's Switch was a browser-default grey button."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(dev_server + "/")
    switch = page.get_by_role("button", name="Switch")
    assert style(switch, "background-color") == "rgb(31, 95, 191)" and style(switch, "border-radius") == "6px"
    assert style(page.locator("#demo-role"), "border-top-color") != "rgb(118, 118, 118)"  # Chromium's default
    page.close()
