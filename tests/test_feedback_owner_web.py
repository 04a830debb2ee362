"""The owner's pages through HTTP: assigning and bulk messages, merging, delivery states,
/admin/outbox, and no raw stored value on screen in any of the four languages."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from kb.config import PROJECT_ROOT
from kb.feedback.models import Flag, OutboxMessage
from kb.feedback.outbox import MAX_ATTEMPTS

from .test_feedback_web import as_user, make_app, payroll_owner, token  # noqa: F401 (make_app is a fixture)

BOSS = "boss@meridian.example"  # the admin of make_app


class _Text(HTMLParser):
    """What a person reads: text outside <script>/<style>, no attributes or tags."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def flash_text(c, url, headers) -> str:
    return visible(c.get(url, headers=headers).get_data(as_text=True))


def report(c, email, article, reason, comment="x"):
    c.post("/feedback/article", headers=as_user(email), data={
        "csrf_token": token(c), "article": article, "helpful": "no", "reason": reason, "comment": comment,
        "notify": "1"})


def flags(app):
    with app.extensions["kb"].db.session() as s:
        return {f.id: (f.department, f.assignee, f.status, f.merged_into) for f in s.scalars(select(Flag))}


@pytest.fixture
def seeded(make_app):  # noqa: F811
    app = make_app()
    c = app.test_client()
    report(c, "a@x.example", "payroll/pay-schedule.md", "outdated")
    report(c, "b@x.example", "payroll/direct-deposit.md", "broken_link")
    report(c, "d@x.example", "it-security/vpn.md", "unclear")
    return app, c


# --- defect 7 -----------------------------------------------------------------------
def test_bulk_assign_with_an_empty_address_is_refused_and_says_so(seeded):
    """Regression: it silently unassigned and reported '2 flag(s) assigned.'"""
    app, c = seeded
    owner = payroll_owner(app)
    c.post("/admin/flags/bulk", headers=as_user(BOSS), data={
        "csrf_token": token(c), "action": "assign", "assignee": owner, "ids": ["1"]})
    c.post("/admin/flags/bulk", headers=as_user(BOSS), data={
        "csrf_token": token(c), "action": "assign", "assignee": "", "ids": ["1", "2"]})
    text = flash_text(c, "/admin/flags", as_user(BOSS))
    assert "Give the email address of the person to assign." in text and "assigned." not in text
    assert flags(app)[1][1] == owner  # still assigned


def test_an_empty_selection_says_nothing_was_selected(seeded):
    """Regression: it reported '0 flag(s) acknowledged.'"""
    app, c = seeded
    c.post("/admin/flags/bulk", headers=as_user(BOSS), data={"csrf_token": token(c), "action": "acknowledge"})
    text = flash_text(c, "/admin/flags", as_user(BOSS))
    assert "Nothing was selected" in text and "acknowledged." not in text


def test_bulk_results_say_exactly_what_was_done(seeded):
    app, c = seeded
    owner = payroll_owner(app)
    h = as_user(BOSS)
    c.post("/admin/flags/bulk", headers=h, data={"csrf_token": token(c), "action": "assign", "assignee": owner, "ids": ["1"]})
    c.post("/admin/flags/bulk", headers=h, data={"csrf_token": token(c), "action": "assign", "assignee": owner.upper(), "ids": ["1", "2"]})
    text = flash_text(c, "/admin/flags", h)
    assert f"1 flag assigned to {owner}, who was notified. 1 was already assigned to them." in text
    with app.extensions["kb"].db.session() as s:
        told = [m for m in s.scalars(select(OutboxMessage).where(OutboxMessage.target == owner))]
    assert sorted(m.flag_id for m in told) == [1, 2]


def test_an_assignee_who_does_not_own_the_department_is_refused(seeded):
    """Regression: any string was stored as the assignee."""
    app, c = seeded
    h = as_user(payroll_owner(app))
    c.post("/admin/flags/1", headers=h, data={"csrf_token": token(c), "action": "assign", "assignee": "ops@meridian.example"})
    text = flash_text(c, "/admin/flags/1", h)
    assert "ops@meridian.example cannot be assigned: flags go to an owner of Payroll or an admin." in text
    assert flags(app)[1][1] is None


# --- duplicates and delivery -----------------------------------------------------------
def test_merge_on_the_flag_page(seeded):
    app, c = seeded
    h = as_user(payroll_owner(app))
    c.post("/admin/flags/2", headers=h, data={"csrf_token": token(c), "action": "merge", "into": "#1"})
    assert flags(app)[2][2:] == ("merged", 1)
    page = flash_text(c, "/admin/flags/2", h)
    assert "merged into #1" in page and "Merged" in page
    assert "merged into #1" in flash_text(c, "/admin/flags?status=", h)
    # Another department's flag is no flag to an owner; an unknown number neither.
    for into in ("3", "999"):
        c.post("/admin/flags/1", headers=h, data={"csrf_token": token(c), "action": "merge", "into": into})
        assert f"There is no flag #{into}." in flash_text(c, "/admin/flags/1", h)


def test_the_flag_page_shows_delivery_states_and_admins_retry_from_the_outbox(seeded):
    app, c = seeded
    with app.extensions["kb"].db.session() as s:
        m = s.scalar(select(OutboxMessage).where(OutboxMessage.flag_id == 1))
        m.status, m.attempts, m.last_error = "dead", MAX_ATTEMPTS, "ConnectionRefusedError: [Errno 111] refused"
        mid = m.id
    owner = as_user(payroll_owner(app))
    page = flash_text(c, "/admin/flags/1", owner)
    assert "Given up" in page and "ConnectionRefusedError: [Errno 111] refused" in page and "24 attempts" in page
    assert c.get("/admin/outbox", headers=owner).status_code == 403
    assert c.post(f"/admin/outbox/{mid}/retry", headers=owner, data={"csrf_token": token(c)}).status_code == 403
    admin = as_user(BOSS)
    listing = flash_text(c, "/admin/outbox", admin)
    assert "Given up" in listing and "payroll-kb@meridian.example" in listing
    assert c.post(f"/admin/outbox/{mid}/retry", headers=admin).status_code == 400  # no CSRF token
    resp = c.post(f"/admin/outbox/{mid}/retry", headers=admin, data={"csrf_token": token(c)})
    assert resp.status_code == 302 and resp.headers["Cache-Control"] == "no-store"
    assert "Retrying" in flash_text(c, "/admin/flags/1", owner)
    with app.extensions["kb"].db.session() as s:
        assert s.get(OutboxMessage, mid).status == "pending"


# --- defect 8: no raw stored values -------------------------------------------------------
RAW = ("broken_link", "it-security", "merged_in", "replied", "noted")  # never on screen in any language
RAW_ENGLISH = ("acknowledged", "Acknowledged", "Broken link", "business days", "created", "Resolved", "overdue")
TARGET = {"en": "2 business days", "ja": "2 営業日", "ko": "영업일 기준 2일", "zh": "2 个工作日"}


@pytest.mark.parametrize("lang", ["en", "ja", "ko", "zh"])
def test_no_stored_value_is_shown_raw_in_any_language(seeded, lang):
    """Regression: statuses, reasons, history actions, department ids and targets were shown as stored."""
    app, c = seeded
    boss = {**as_user(BOSS), "Accept-Language": lang}
    c.post("/admin/flags/1", headers=boss, data={"csrf_token": token(c), "action": "acknowledge"})
    c.post("/admin/flags/3", headers=boss, data={"csrf_token": token(c), "action": "merge", "into": "2"})
    for action in ("reply", "note"):  # their history entries are labelled too
        c.post("/admin/flags/1", headers=boss, data={"csrf_token": token(c), "action": action, "text": "Looking."})
    pages = {
        "queue": visible(c.get("/admin/flags?status=", headers=boss).get_data(as_text=True)),
        "flag 1": visible(c.get("/admin/flags/1", headers=boss).get_data(as_text=True)),
        "flag 2": visible(c.get("/admin/flags/2", headers=boss).get_data(as_text=True)),
        "flag 3": visible(c.get("/admin/flags/3", headers=boss).get_data(as_text=True)),
    }
    article = c.get("/a/payroll/pay-schedule", headers=boss).get_data(as_text=True)
    targets = re.findall(r'<p class="(?:response-target|hint)">([^<]*)</p>', article)
    assert targets and all(TARGET[lang] in t for t in targets if "Payroll" in t), targets
    for name, text in pages.items():
        text = re.sub(r"\S+@\S+", "", text)  # addresses such as it-security-kb@ are the department's own
        for raw in RAW + (() if lang == "en" else RAW_ENGLISH):
            assert raw not in text, f"{lang} {name} shows {raw!r}"
    for t in targets:
        assert lang == "en" or "business days" not in t


def test_the_stylesheet_names_its_tokens_and_styles_every_owner_control():
    css = (PROJECT_ROOT / "templates" / "static" / "kb.css").read_text()
    for token_name in ("--focus-ring", "--space-2", "--control-border", "--btn-primary-bg", "--badge-new"):
        assert f"{token_name}:" in css
    for selector in (".owner-page .btn", ".owner-page button", ".owner-page input", ".owner-page select",
                     ".demo-switch button", ".badge-status.status-merged", ".badge-reason"):
        assert selector in css
