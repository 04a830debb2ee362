"""Feedback through the web: forms with and without JavaScript, CSRF, rate limits,
identity, the triage queue and its permissions, exports."""

from __future__ import annotations

import csv
import io
import re
import subprocess

import pytest
from sqlalchemy import select

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config
from kb.feedback import COMMENT_MAX, REASONS
from kb.feedback.db import SchemaOutdatedError
from kb.feedback.models import ExportLog, Flag, FlagEvent, OutboxMessage, SearchLog, Vote

from .conftest import sqlite_url

OWNER = "maria.chen@meridian.example"  # first owner of payroll in the bundled departments.yml


@pytest.fixture
def make_app(tmp_path, bundled_index, models):
    def make(**kw):
        base = dict(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index, secret_key="t", reload_seconds=0,
                    database_url=sqlite_url(tmp_path), trusted_proxies="127.0.0.1", admins="boss@meridian.example")
        base.update(kw)
        app = create_app(KB(Config(**base), models=models))
        app.testing = True
        return app

    return make


def token(client, url="/a/payroll/pay-schedule"):
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def as_user(email):
    return {"X-Forwarded-Email": email}


def payroll_owner(app):
    lib = app.extensions["kb"].library
    return lib.departments["payroll"].owners[0]


def test_vote_without_javascript_redirects_back_with_the_promise(make_app):
    app = make_app()
    c = app.test_client()
    h = as_user("e@meridian.example")
    resp = c.post("/feedback/article", headers=h, data={
        "csrf_token": token(c), "article": "payroll/pay-schedule.md", "helpful": "no", "reason": "outdated",
        "comment": "Dates are for last year", "notify": "1",
    })
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/a/payroll/pay-schedule#feedback")
    page = c.get(resp.headers["Location"], headers=h).get_data(as_text=True)
    assert "Payroll owns this and answers within 2 business days" in page
    with app.extensions["kb"].db.session() as s:
        flag = s.scalar(select(Flag))
        assert (flag.department, flag.reason, flag.reporter, flag.notify_reporter) == ("payroll", "outdated", "e@meridian.example", True)


def test_vote_with_javascript_gets_json(make_app):
    app = make_app()
    c = app.test_client()
    resp = c.post("/feedback/article", headers={**as_user("e@meridian.example"), "Accept": "application/json"},
                  data={"csrf_token": token(c), "article": "payroll/pay-schedule.md", "helpful": "yes"})
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["ok"] and data["flag"] is None and "helped" in data["message"]


def test_no_without_reason_is_refused_clearly(make_app):
    c = make_app().test_client()
    resp = c.post("/feedback/article", headers={"Accept": "application/json", **as_user("e@x.example")},
                  data={"csrf_token": token(c), "article": "payroll/pay-schedule.md", "helpful": "no"})
    assert resp.status_code == 400 and "reason" in resp.get_json()["message"]


def test_csrf_is_required(make_app):
    c = make_app().test_client()
    resp = c.post("/feedback/article", headers=as_user("e@x.example"),
                  data={"article": "payroll/pay-schedule.md", "helpful": "yes"})
    assert resp.status_code == 400 and "expired" in resp.get_data(as_text=True)
    resp = c.post("/feedback/gap", data={"csrf_token": "forged", "query": "x", "department": "payroll"})
    assert resp.status_code == 400


def test_rate_limit_per_person(make_app):
    app = make_app(feedback_limit_person="3/hour")
    c = app.test_client()
    t = token(c)
    codes = [
        c.post("/feedback/article", headers={**as_user("spam@x.example"), "Accept": "application/json"},
               data={"csrf_token": t, "article": "payroll/pay-schedule.md", "helpful": "yes"}).status_code
        for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    # Someone else at the same address is not blocked by that person's limit.
    other = c.post("/feedback/article", headers={**as_user("other@x.example"), "Accept": "application/json"},
                   data={"csrf_token": t, "article": "payroll/pay-schedule.md", "helpful": "yes"})
    assert other.status_code == 200


def test_identity_header_only_from_trusted_proxies(make_app):
    app = make_app(trusted_proxies="10.1.2.3")
    c = app.test_client()
    resp = c.post("/feedback/article", headers={**as_user("e@x.example"), "Accept": "application/json"},
                  data={"csrf_token": token(c), "article": "payroll/pay-schedule.md", "helpful": "yes"})
    assert resp.status_code == 403  # header ignored from 127.0.0.1: nobody is signed in
    assert c.get("/admin/flags", headers=as_user("boss@meridian.example")).status_code == 403


def test_anonymous_feedback_stores_no_identity(make_app):
    app = make_app(trusted_proxies="", anonymous_feedback=True)
    c = app.test_client()
    resp = c.post("/feedback/article", headers={"Accept": "application/json"}, data={
        "csrf_token": token(c), "article": "payroll/pay-schedule.md", "helpful": "no", "reason": "unclear", "notify": "1"})
    assert resp.status_code == 200
    with app.extensions["kb"].db.session() as s:
        assert s.scalar(select(Vote)).voter.startswith("anon:")
        flag = s.scalar(select(Flag))
        assert flag.reporter is None and not flag.notify_reporter


def test_gap_flag_from_search_page_and_searches_are_recorded(make_app):
    app = make_app()
    c = app.test_client()
    h = as_user("e@meridian.example")
    page = c.get("/search?q=how+do+I+get+reimbursed+for+mileage", headers=h).get_data(as_text=True)
    assert "Didn&#39;t find what you needed?" in page or "Didn't find what you needed?" in page
    assert re.search(r'<option value="finance" selected>', page)  # the top result's department
    resp = c.post("/feedback/gap", headers=h, data={"csrf_token": token(c, "/search?q=x"), "query": "dental implants coverage",
                                                    "department": "benefits", "comment": "Nothing about implants"})
    assert resp.status_code == 302
    c.get("/search?q=zzzqqqxxyyzz", headers=h)
    app.extensions["kb"].insights.flush()  # searches are logged by a background writer
    with app.extensions["kb"].db.session() as s:
        flag = s.scalar(select(Flag).where(Flag.kind == "gap"))
        assert (flag.query, flag.department) == ("dental implants coverage", "benefits")
        logged = {row.query: row.results for row in s.scalars(select(SearchLog))}
    assert logged["how do I get reimbursed for mileage"] > 0
    assert "x" in logged  # the page the token came from


def seed_flags(app):
    c = app.test_client()
    t = token(c)
    for email, article, reason, comment in [
        ("a@x.example", "payroll/pay-schedule.md", "outdated", "<script>alert('x')</script>"),
        ("b@x.example", "it-security/vpn.md", "unclear", "=HYPERLINK(\"http://evil\")"),
    ]:
        c.post("/feedback/article", headers=as_user(email), data={
            "csrf_token": t, "article": article, "helpful": "no", "reason": reason, "comment": comment, "notify": "1"})


@pytest.mark.parametrize("who, status, sees", [
    ("e@x.example", 403, set()),
    ("boss@meridian.example", 200, {"payroll", "it-security"}),
])
def test_queue_permissions(make_app, who, status, sees):
    app = make_app()
    seed_flags(app)
    c = app.test_client()
    resp = c.get("/admin/flags", headers=as_user(who))
    assert resp.status_code == status
    for fmt in ("csv", "json"):
        assert c.get(f"/admin/flags.{fmt}", headers=as_user(who)).status_code == status
    if status == 200:
        data = c.get("/admin/flags.json", headers=as_user(who)).get_json()
        assert {f["department"] for f in data["flags"]} == sees


def test_owner_sees_only_their_department(make_app):
    app = make_app()
    seed_flags(app)
    owner = payroll_owner(app)
    data = app.test_client().get("/admin/flags.json", headers=as_user(owner)).get_json()
    assert {f["department"] for f in data["flags"]} == {"payroll"}
    vpn_flag = app.test_client().get("/admin/flags.json", headers=as_user("boss@meridian.example")).get_json()
    other = next(f["id"] for f in vpn_flag["flags"] if f["department"] == "it-security")
    assert app.test_client().get(f"/admin/flags/{other}", headers=as_user(owner)).status_code == 404  # as if missing


def test_comments_are_escaped_in_the_queue_and_exports_are_safe(make_app):
    app = make_app()
    seed_flags(app)
    c = app.test_client()
    h = as_user("boss@meridian.example")
    html = c.get("/admin/flags", headers=h).get_data(as_text=True)
    assert "<script>alert('x')</script>" not in html and "&lt;script&gt;" in html
    rows = list(csv.DictReader(io.StringIO(c.get("/admin/flags.csv", headers=h).get_data(as_text=True))))
    assert {r["department"] for r in rows} == {"payroll", "it-security"}
    formula = next(r["comment"] for r in rows if r["department"] == "it-security")
    assert formula.startswith("'=")  # never a live spreadsheet formula


def owner_with_a_flag(make_app):
    """An app with seeded flags, a client, the payroll owner's headers and the id of a flag they triage."""
    app = make_app()
    seed_flags(app)
    c = app.test_client()
    h = as_user(payroll_owner(app))
    return app, c, h, c.get("/admin/flags.json", headers=h).get_json()["flags"][0]["id"]


def test_triage_in_the_browserless_flow(make_app):
    app, c, h, fid = owner_with_a_flag(make_app)
    t = token(c)
    page = c.get(f"/admin/flags/{fid}", headers=h).get_data(as_text=True)
    assert "History" in page and "Created" in page
    resp = c.post(f"/admin/flags/{fid}", headers=h, data={"csrf_token": t, "action": "resolve", "note": ""})
    assert resp.status_code == 302
    assert "say why in a note" in c.get(f"/admin/flags/{fid}", headers=h).get_data(as_text=True)
    c.post(f"/admin/flags/{fid}", headers=h, data={"csrf_token": t, "action": "resolve", "note": "Updated the 2026 dates"})
    detail = c.get(f"/admin/flags/{fid}", headers=h).get_data(as_text=True)
    assert "Resolved" in detail and "Updated the 2026 dates" in detail
    # Bulk: assign everything to an admin (assignees own the department or are admins).
    resp = c.post("/admin/flags/bulk", headers=as_user("boss@meridian.example"),
                  data={"csrf_token": t, "action": "assign", "assignee": "boss@meridian.example", "ids": ["1", "2"]})
    assert resp.status_code == 302
    flags = c.get("/admin/flags.json?status=", headers=as_user("boss@meridian.example")).get_json()["flags"]
    assert {f["assignee"] for f in flags} == {"boss@meridian.example"}


def test_dev_mode_switcher(make_app):
    app = make_app(dev=True, trusted_proxies="")
    c = app.test_client()
    page = c.get("/").get_data(as_text=True)
    assert "Demo mode: you are alex.employee@meridian.example" in page
    assert c.get("/admin/flags").status_code == 403
    c.post("/dev/switch", data={"csrf_token": token(c, "/"), "role": "admin", "next": "/admin/flags"})
    assert c.get("/admin/flags").status_code == 200
    c.post("/dev/switch", data={"csrf_token": token(c, "/"), "role": "owner", "next": "/"})
    assert "owner of" in c.get("/").get_data(as_text=True)


def test_dev_switcher_does_not_exist_in_production(make_app):
    app = make_app()
    assert app.test_client().post("/dev/switch", data={"role": "admin"}).status_code in (400, 404)
    assert "Demo mode" not in app.test_client().get("/").get_data(as_text=True)


def test_server_refuses_an_outdated_schema(tmp_path):
    with pytest.raises(SchemaOutdatedError, match="kb db upgrade"):
        create_app(KB(Config(articles_dir=PROJECT_ROOT / "articles", database_url=f"sqlite:///{tmp_path / 'empty.db'}")))


LEAVE = {
    "departments.yml": "departments:\n  - id: hr\n    name: HR\n    owners: [o@x.example]\n    response_target: 3 days\n",
    "hr/leave.md": "---\ntitle: Leave\n---\n## Days\n\n20 days.\n",
}


def tree_client(root, tmp_path, bundled_index, **config):
    """A test client of the site over a small article tree (identity header trusted)."""
    app = create_app(KB(Config(articles_dir=root, index_dir=bundled_index, secret_key="t", reload_seconds=0,
                               database_url=sqlite_url(tmp_path), trusted_proxies="127.0.0.1", **config)))
    app.testing = True
    return app, app.test_client()


def say_no(c, path, page, **form):
    """An employee's "No" with a reason on the article at ``path`` (shown at ``page``)."""
    c.post("/feedback/article", headers=as_user("e@x.example"), data={
        "csrf_token": token(c, page), "article": path, "helpful": "no", "reason": "outdated", **form})


def test_flag_shows_that_the_article_changed_since(make_articles, tmp_path, bundled_index):
    root = make_articles(LEAVE)
    _app, c = tree_client(root, tmp_path, bundled_index, diff_url="https://git.example/kb/-/compare/{old}...{new}")
    say_no(c, "hr/leave.md", "/a/hr/leave")
    owner = as_user("o@x.example")
    assert "updated since this flag" not in c.get("/admin/flags/1", headers=owner).get_data(as_text=True)
    (root / "hr" / "leave.md").write_text("---\ntitle: Leave\n---\n## Days\n\n25 days.\n", encoding="utf-8")
    assert "updated since this flag" in c.get("/admin/flags/1", headers=owner).get_data(as_text=True)
    assert c.get("/admin/flags.json", headers=owner).get_json()["flags"][0]["article_changed"] is True


def test_the_diff_link_comes_from_kb_diff_url(make_articles, tmp_path, bundled_index):
    root = make_articles(LEAVE)

    def commit(message):
        git = ["git", "-c", "user.name=W", "-c", "user.email=w@x.example"]
        subprocess.run([*git, "add", "-A"], cwd=root, check=True)
        subprocess.run([*git, "commit", "-qm", message], cwd=root, check=True)
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()

    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    old = commit("First")
    _app, c = tree_client(root, tmp_path, bundled_index,
                          diff_url="https://git.example/kb/-/compare/{old}...{new}?file={path}")
    say_no(c, "hr/leave.md", "/a/hr/leave")
    (root / "hr" / "leave.md").write_text("---\ntitle: Leave\n---\n## Days\n\n25 days.\n", encoding="utf-8")
    new = commit("25 days")
    page = c.get("/admin/flags/1", headers=as_user("o@x.example")).get_data(as_text=True)
    assert f'<a href="https://git.example/kb/-/compare/{old}...{new}?file=hr/leave.md">See what changed</a>' in page


JA = {"Accept": "application/json", "Accept-Language": "ja"}


def test_japanese_readers_get_translated_errors(make_app):
    c = make_app().test_client()
    h = {**JA, **as_user("e@x.example")}
    t = token(c)

    def message(url, **data):
        resp = c.post(url, headers=h, data={"csrf_token": t, **data})
        assert resp.status_code == 400
        return resp.get_json()["message"]

    vote = {"article": "payroll/pay-schedule.md", "helpful": "no"}
    assert message("/feedback/article", **vote) == "どのような問題があったか、理由を選択してください。"
    assert message("/feedback/article", **vote, reason="other", comment="x" * 2001) == "コメントは 2,000 文字以内で入力してください。"
    assert message("/feedback/article", **vote, reason="because") == "一覧から理由を選択してください。"
    assert message("/feedback/gap", query="vpn", department="nope") == "回答を依頼する部署を選択してください。"
    assert message("/feedback/gap", query=" ", department="it-security") == "お探しの情報を入力してください。"


def test_the_forms_show_the_services_rules(make_app):
    c = make_app().test_client()
    page = c.get("/a/payroll/pay-schedule", headers=as_user("e@x.example")).get_data(as_text=True)
    assert page.count(f'maxlength="{COMMENT_MAX}"') == 1 and "Up to 2,000 characters." in page
    reasons = page.split('id="fb-reason"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="(\w*)">', reasons) == ["", *REASONS]
    assert "Missing information" in reasons
    gap = c.get("/search?q=zzzqqqxxyyzz", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert f'maxlength="{COMMENT_MAX}"' in gap and "2,000 文字以内で入力してください。" in gap


def test_the_flag_page_offers_the_services_actions(make_app):
    app = make_app()
    seed_flags(app)
    c = app.test_client()
    h = as_user(payroll_owner(app))
    fid = c.get("/admin/flags.json", headers=h).get_json()["flags"][0]["id"]

    def offered():
        return re.findall(r'name="action" value="(\w+)"', c.get(f"/admin/flags/{fid}", headers=h).get_data(as_text=True))

    # The life-cycle buttons are the service's; replying and noting are always open to the owner.
    assert offered() == ["acknowledge", "resolve", "decline", "assign", "merge", "reply", "note"]
    t = token(c)
    c.post(f"/admin/flags/{fid}", headers={**h, "Accept-Language": "ja"}, data={"csrf_token": t, "action": "resolve"})
    page = c.get(f"/admin/flags/{fid}", headers={**h, "Accept-Language": "ja"}).get_data(as_text=True)
    assert "「解決済みにする」にはメモが必要です。" in page
    c.post(f"/admin/flags/{fid}", headers=h, data={"csrf_token": t, "action": "resolve", "note": "Fixed"})
    assert offered() == ["reopen", "reply", "note"]  # a closed flag is not assigned or merged
    c.post(f"/admin/flags/{fid}", headers=h, data={"csrf_token": t, "action": "decline", "note": "again"})
    assert "“Decline” is not possible for this flag now." in c.get(f"/admin/flags/{fid}", headers=h).get_data(as_text=True)


def test_a_resolved_flag_on_an_index_article_emails_a_working_url(make_articles, tmp_path, bundled_index):
    root = make_articles({
        "departments.yml": "departments:\n  - id: people\n    name: People\n    owners: [o@x.example]\n",
        "people/onboarding/index.md": "---\ntitle: Onboarding\n---\n## Day one\n\nWelcome.\n",
    })
    app, c = tree_client(root, tmp_path, bundled_index, site_url="https://kb.example")
    say_no(c, "people/onboarding/index.md", "/a/people/onboarding", notify="1")
    c.post("/admin/flags/1", headers=as_user("o@x.example"),
           data={"csrf_token": token(c, "/a/people/onboarding"), "action": "resolve", "note": "Clearer"})
    with app.extensions["kb"].db.session() as s:
        [mail] = s.scalars(select(OutboxMessage).where(OutboxMessage.target == "e@x.example"))
    link = re.search(r"https://kb\.example(/a/\S+)", mail.payload["body"]).group(1)
    assert link == "/a/people/onboarding" and c.get(link).status_code == 200


def vote(c, t, headers, helpful="yes"):
    data = {"csrf_token": t, "article": "payroll/pay-schedule.md", "helpful": helpful}
    if helpful == "no":
        data["reason"] = "unclear"
    return c.post("/feedback/article", headers={**headers, "Accept": "application/json"}, data=data).status_code


def gap(c, t, headers):
    return c.post("/feedback/gap", headers={**headers, "Accept": "application/json"},
                  data={"csrf_token": t, "query": "bonus dates", "department": "payroll"}).status_code


def test_one_persons_refused_posts_cost_nobody_else_behind_the_proxy(make_app):
    # Everyone arrives from the SSO proxy's address. Before, each refused post of one
    # person still counted against that address, and then everyone got 429.
    app = make_app(feedback_limit_person="3/hour", feedback_limit_address="5/hour")
    c = app.test_client()
    t = token(c)
    assert [vote(c, t, as_user("spam@x.example")) for _ in range(8)] == [200] * 3 + [429] * 5
    assert vote(c, t, as_user("colleague@x.example")) == 200


def test_votes_and_gap_reports_share_one_budget(make_app):
    app = make_app(feedback_limit_person="3/hour")
    c = app.test_client()
    t = token(c)
    h = as_user("e@x.example")
    assert [vote(c, t, h), gap(c, t, h), vote(c, t, h), gap(c, t, h)] == [200, 200, 200, 429]


def test_anonymous_budgets_follow_the_forwarded_address_not_the_cookie(make_app):
    app = make_app(anonymous_feedback=True, feedback_limit_address="2/hour")
    t = token(app.test_client())
    one = {"X-Forwarded-For": "10.0.0.7"}
    codes = []
    for _ in range(3):  # a new client (no cookie) each time, from one address
        c = app.test_client()
        codes.append(vote(c, token(c), one))
    assert codes == [200, 200, 429]
    c = app.test_client()
    assert vote(c, token(c), {"X-Forwarded-For": "10.0.0.8"}) == 200  # another employee
    assert t


def test_searches_are_limited_per_client(make_app):
    app = make_app(search_limit="3/minute")
    c = app.test_client()
    me, other = {"X-Forwarded-For": "10.0.0.7"}, {"X-Forwarded-For": "10.0.0.8"}
    assert [c.get("/api/search?q=vpn", headers=me).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert c.get("/search?q=vpn", headers=me).status_code == 429
    assert c.get("/api/search?q=vpn", headers=other).status_code == 200
    page = c.get("/search?q=vpn", headers=me).get_data(as_text=True)
    assert "searched a lot" in page


def test_limits_hold_across_processes_with_redis(make_app):
    import socket
    import uuid

    try:
        socket.create_connection(("127.0.0.1", 6379), 2).close()
    except OSError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    storage = "redis://127.0.0.1:6379"
    one = make_app(feedback_limit_person="3/hour", ratelimit_storage=storage)
    two = make_app(feedback_limit_person="3/hour", ratelimit_storage=storage)  # another worker process
    h = as_user(f"e-{uuid.uuid4().hex[:8]}@x.example")
    c1, c2 = one.test_client(), two.test_client()
    t1, t2 = token(c1), token(c2)
    assert [vote(c1, t1, h), vote(c2, t2, h), vote(c1, t1, h), vote(c2, t2, h)] == [200, 200, 200, 429]


def test_exports_record_who_exported_what(make_app):
    app = make_app()
    seed_flags(app)
    c = app.test_client()
    h = as_user("boss@meridian.example")
    n = len(c.get("/admin/flags.json?department=payroll&status=", headers=h).get_json()["flags"])
    c.get("/admin/flags.csv?q=dates", headers=h)
    with app.extensions["kb"].db.session() as s:
        logs = [(e.actor, e.format, e.filters, e.flags) for e in s.scalars(select(ExportLog).order_by(ExportLog.id))]
    assert logs[0] == ("boss@meridian.example", "json", {"department": "payroll"}, n)
    assert logs[1][:3] == ("boss@meridian.example", "csv", {"q": "dates", "status": "open"})


def test_the_audit_history_is_append_only(make_app):
    app, c, h, fid = owner_with_a_flag(make_app)

    def history():
        with app.extensions["kb"].db.session() as s:
            return [(e.id, e.at, e.actor, e.action, e.detail) for e in s.scalars(select(FlagEvent).where(FlagEvent.flag_id == fid).order_by(FlagEvent.id))]

    before = history()
    t = token(c)
    for data in ({"action": "acknowledge"}, {"action": "assign", "assignee": payroll_owner(app)},
                 {"action": "resolve", "note": "Fixed"}, {"action": "reopen"}):
        c.post(f"/admin/flags/{fid}", headers=h, data={"csrf_token": t, **data})
    after = history()
    assert after[: len(before)] == before and len(after) == len(before) + 4  # only ever appended
    # No route of the application writes to the history other than through these actions.
    writers = {r.rule for r in app.url_map.iter_rules() if r.methods & {"POST", "PUT", "PATCH", "DELETE"}}
    # The gap radar's button opens a flag (append-only like any); a rating is its own table.
    assert writers == {"/feedback/article", "/feedback/gap", "/admin/flags/bulk", "/admin/flags/<int:flag_id>", "/dev/switch",
                       "/me/requests/<flag_id>", "/insights/gaps/flag", "/rate/<token>",
                       "/admin/outbox/<int:message_id>/retry"}  # the outbox's retry touches no history
