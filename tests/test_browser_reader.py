"""The reader's side in a real browser (Playwright driving Debian's Chromium) against a real server:
two reports kept, Yes after No, forms replaced by their confirmation, the section the reader came to,
no sideways scroll at phone width, and following a request on My requests until it is resolved."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kb.feedback.models import Flag, FlagEntry

from .test_browser import browser, loop_server  # noqa: F401 (fixtures: the browser, a dev-mode server with SMTP)

pytestmark = pytest.mark.browser
ARTICLE = "/a/benefits/hsa-fsa"  # Benefits: the demo owner's department


def entries(app, kind=None):
    with app.extensions["kb"].db.session() as s:
        q = select(FlagEntry).order_by(FlagEntry.id)
        return [(e.flag_id, e.kind, e.reason, e.text) for e in s.scalars(q) if kind is None or e.kind == kind]


def send_no(page, reason, comment):
    page.locator(".feedback-no summary").click()
    page.select_option("#fb-reason", reason)
    page.fill("#fb-comment", comment)
    page.locator(".feedback-no button[type=submit]").click()
    page.locator(".feedback-result.flash-success").wait_for()


def act_as(page, role):
    page.select_option("#demo-role", role)
    page.locator(".demo-switch button").click()
    page.wait_for_load_state()


def test_two_reports_on_one_article_by_one_person_are_both_kept(loop_server, browser):  # noqa: F811
    url, app, _ = loop_server
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(url + ARTICLE)
    send_no(page, "unclear", "comment A")
    assert not page.locator(".feedback-no").is_visible()  # the confirmation replaced the form
    assert page.locator(".vote-state").inner_text().startswith("You said this was not helpful on ")
    page.reload()
    assert page.locator(".vote-state").inner_text().startswith("You said this was not helpful on ")
    page.locator(".change-vote > summary").click()
    send_no(page, "missing", "comment B")
    assert [(k, r, t) for _, k, r, t in entries(app)] == [("report", "unclear", "comment A"), ("report", "missing", "comment B")]
    assert len({fid for fid, *_ in entries(app)}) == 1
    act_as(page, "owner")
    page.goto(url + "/admin/flags/1")
    timeline = page.locator(".timeline").inner_text()
    assert "comment A" in timeline and "comment B" in timeline
    page.close()


def test_yes_after_no_keeps_the_report_and_shows_the_vote(loop_server, browser):  # noqa: F811
    url, app, _ = loop_server
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(url + ARTICLE)
    send_no(page, "outdated", "The 2027 limits are out")
    page.locator("button.change-answer").click()
    page.locator(".feedback-yes button").click()
    # A locator, not wait_for_function: the site's CSP forbids evaluating strings.
    page.locator(".vote-state", has_text="was helpful").wait_for()
    assert not page.locator(".feedback-yes").is_visible()
    page.reload()
    assert page.locator(".vote-state").inner_text().startswith("You said this was helpful on ")
    assert [(k, t) for _, k, _, t in entries(app)] == [("report", "The 2027 limits are out"), ("helpful", None)]
    with app.extensions["kb"].db.session() as s:
        assert s.get(Flag, 1).status == "new"
    page.close()


def test_the_gap_form_disappears_after_sending(loop_server, browser):  # noqa: F811
    url, app, _ = loop_server
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(url + "/search?q=dental+implants+for+my+dog")
    page.select_option("#gap-department", "benefits")
    page.fill("#gap-comment", "Is pet dental covered?")
    page.locator("#gap button[type=submit]").click()
    result = page.locator("#gap .feedback-result.flash-success")
    result.wait_for()
    assert not page.locator("#gap form").is_visible()
    assert not page.locator("#gap-comment").is_visible()
    assert result.locator("a[href^='/me/requests#request-']").count() == 1  # the reference links to My requests
    assert entries(app)[0][3] == "Is pet dental covered?"
    page.close()


def test_the_section_recorded_is_the_one_the_reader_came_to(loop_server, browser):  # noqa: F811
    url, app, _ = loop_server
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(url + ARTICLE + "#health-savings-account-hsa")  # as a search result links to it
    assert page.locator("[id='health-savings-account-hsa']").count() == 1
    page.locator("#feedback").scroll_into_view_if_needed()  # the form is at the bottom: the last heading is on screen
    send_no(page, "unclear", "the HSA part")
    page.goto(url + "/a/benefits/commuter-benefits")  # arrived without a fragment: no section
    page.locator("#feedback").scroll_into_view_if_needed()
    send_no(page, "unclear", "somewhere")
    with app.extensions["kb"].db.session() as s:
        assert [f.section for f in s.scalars(select(Flag).order_by(Flag.id))] == ["health-savings-account-hsa", None]
    page.close()


def test_no_page_scrolls_sideways_at_phone_width(loop_server, browser):  # noqa: F811
    url, app, _ = loop_server
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(url + "/")
    assert page.evaluate("document.activeElement.id") == "q"  # the home search keeps its autofocus with JS on
    page.goto(url + ARTICLE)
    send_no(page, "outdated", "x" * 300)
    page.goto(url + "/search?q=dental")
    page.fill("#gap-comment", "y" * 200)
    page.locator("#gap button[type=submit]").click()
    page.locator("#gap .feedback-result").wait_for()

    def sideways(path):
        page.goto(url + path)
        return page.evaluate("document.scrollingElement.scrollWidth > window.innerWidth")

    employee_pages = ["/", "/search?q=how+long+do+I+have+to+submit+an+expense+report", "/search?q=dental",
                      ARTICLE, "/a/payroll/pay-schedule", "/d/benefits", "/me/requests"]
    wide = [p for p in employee_pages if sideways(p)]
    act_as(page, "owner")
    wide += [p for p in ("/admin/flags", "/admin/flags/1", "/admin/flags/2") if sideways(p)]
    assert wide == []
    # The triage table shows status, assignee and due date on screen, stacked.
    page.goto(url + "/admin/flags")
    status = page.locator("table.queue tbody tr").first.locator("td[data-label='Status']")
    box = status.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.close()


def test_an_employee_follows_their_request_until_the_owner_resolves_it(loop_server, browser):  # noqa: F811
    url, app, inbox = loop_server
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(url + ARTICLE)
    page.locator(".feedback-no summary").click()
    page.select_option("#fb-reason", "outdated")
    page.fill("#fb-comment", "The 2027 limits are out.")
    page.check("input[name=notify]")
    page.locator(".feedback-no button[type=submit]").click()
    page.locator(".feedback-result a").click()  # the reference number
    page.wait_for_url("**/me/requests#request-1")
    request = page.locator("#request-1")
    assert "Received" in request.inner_text() and "Benefits" in request.inner_text()

    act_as(page, "owner")
    page.goto(url + "/admin/flags/1")
    page.fill("#note-text", "Check with the broker first")
    page.locator("form:has(#note-text) button").click()
    page.fill("#reply-text", "Thanks, are you on the HDHP plan?")
    page.locator("form:has(#reply-text) button").click()
    page.wait_for_selector("text=Thanks, are you on the HDHP plan?")

    act_as(page, "employee")
    page.goto(url + "/me/requests")
    text = page.locator("#request-1").inner_text()
    assert "Thanks, are you on the HDHP plan?" in text and "broker" not in text
    page.fill("#comment-1", "Yes, the HDHP.")
    page.locator("form.request-comment button").click()
    page.wait_for_selector("text=Yes, the HDHP.")

    act_as(page, "owner")
    page.goto(url + "/admin/flags/1")
    assert "Yes, the HDHP." in page.locator(".timeline").inner_text()
    page.fill("#note-resolve", "Updated to the 2027 IRS limits.")
    page.locator("form:has(#note-resolve) button").click()
    page.wait_for_selector(".status-resolved")

    act_as(page, "employee")
    page.goto(url + "/me/requests")
    text = page.locator("#request-1").inner_text()
    assert "Resolved" in text and "Updated to the 2027 IRS limits." in text
    assert page.locator("#request-1 form.request-withdraw, #request-1 form.request-comment").count() == 0  # nothing left to withdraw
    assert page.locator("#request-1 form.request-rate").count() == 1  # but its handling can be rated

    report = app.extensions["kb"].deliver_outbox()
    assert report.failed == 0
    to_employee = [m.content for m in inbox.messages if m.rcpt_tos == ["alex.employee@meridian.example"]]
    assert len(to_employee) == 2  # the reply and the resolution, never the note
    assert any(b"are you on the HDHP plan?" in m for m in to_employee)
    assert all(b"broker" not in m for m in to_employee)
    page.close()
