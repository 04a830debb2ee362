"""Hardening of the web and feedback layers: hostile input answers 4xx (never 500) on SQLite and
PostgreSQL, limits, escaping, identity, bulk actions, hosts, secrets and default headers."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config
from kb.feedback.models import Flag, OutboxMessage, Vote

from .conftest import migrate, sqlite_url

ADMIN = "boss@meridian.example"
ARTICLE = "payroll/pay-schedule.md"


def build_app(database_url: str, models=None, **kw):
    base = dict(articles_dir=PROJECT_ROOT / "articles", index_dir=kw.pop("index_dir", None), secret_key="t",
                reload_seconds=0, database_url=database_url, trusted_proxies="127.0.0.1", admins=ADMIN)
    base.update(kw)
    app = create_app(KB(Config(**base), models=models))
    app.testing = True
    return app


@pytest.fixture
def pg_app(database_url, tmp_path, models):
    """An app on each database (SQLite and PostgreSQL), migrated, without a search index."""
    migrate(database_url)

    def make(**kw):
        kw.setdefault("index_dir", tmp_path / "no-index")
        return build_app(database_url, models, **kw)

    return make


@pytest.fixture
def app(tmp_path):
    return build_app(sqlite_url(tmp_path), index_dir=tmp_path / "no-index")


def token(client, url="/a/payroll/pay-schedule"):
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def as_user(email, **extra):
    return {"X-Forwarded-Email": email, **extra}


JSON = {"Accept": "application/json"}


def vote_no(client, email="e@meridian.example", article=ARTICLE, **form):
    data = {"csrf_token": token(client), "article": article, "helpful": "no", "reason": "outdated", **form}
    return client.post("/feedback/article", headers=as_user(email, **JSON), data=data)


def flag_ids(app):
    with app.extensions["kb"].db.session() as s:
        return list(s.scalars(select(Flag.id).order_by(Flag.id)))


# --- 10: NUL bytes, long identities and ids never reach the database ---------------------------

def test_nul_bytes_in_feedback_are_stripped(pg_app):
    app = pg_app()
    c = app.test_client()
    resp = vote_no(c, comment="bad\x00 dates", section="pay-\x00periods")  # a heading of the article
    assert resp.status_code == 200, resp.get_data(as_text=True)
    resp = c.post("/feedback/gap", headers=as_user("e@meridian.example", **JSON), data={
        "csrf_token": token(c), "query": "dental\x00", "department": "benefits", "comment": "x\x00y"})
    assert resp.status_code == 200
    with app.extensions["kb"].db.session() as s:
        flags = list(s.scalars(select(Flag).order_by(Flag.id)))
    assert [(f.comment, f.section, f.query) for f in flags] == [("bad dates", "pay-periods", None), ("xy", None, "dental")]


def test_nul_bytes_in_triage_and_filters_are_harmless(pg_app):
    app = pg_app()
    c = app.test_client()
    vote_no(c)
    fid = flag_ids(app)[0]
    h = as_user(ADMIN)
    for q in ("q", "department", "reason", "article", "sort", "status", "age"):
        assert c.get(f"/admin/flags?{q}=a%00b", headers=h).status_code == 200, q
        assert c.get(f"/admin/flags.csv?{q}=a%00b", headers=h).status_code == 200, q
    t = token(c)
    resp = c.post(f"/admin/flags/{fid}", headers=h, data={"csrf_token": t, "action": "decline", "note": "no\x00pe"})
    assert resp.status_code == 302
    resp = c.post(f"/admin/flags/{fid}", headers=h, data={"csrf_token": t, "action": "assign", "assignee": ADMIN[:1] + "\x00" + ADMIN[1:]})
    assert resp.status_code == 302  # assignees own the department or are admins: the admin, with a NUL
    with app.extensions["kb"].db.session() as s:
        flag = s.get(Flag, fid)
        assert (flag.resolution_note, flag.assignee) == ("nope", ADMIN)


def test_nul_byte_in_the_search_query_is_not_a_server_error(pg_app, bundled_index):
    c = pg_app(index_dir=bundled_index).test_client()
    assert c.get("/search?q=%00").status_code == 200
    assert c.get("/search?q=pay%00day").status_code == 200
    assert c.get("/api/search?q=%00").status_code == 400
    assert c.get("/api/search?q=pay%00day").status_code == 200


def test_overlong_identity_and_flag_ids_answer_4xx(pg_app):
    app = pg_app()
    c = app.test_client()
    long_identity = "a" * 320 + "@x.example"
    assert vote_no(c, email=long_identity).status_code == 400
    h = as_user(ADMIN)
    assert c.get(f"/admin/flags/{2**31}", headers=h).status_code == 404
    assert c.get("/admin/flags/99999999999999999999", headers=h).status_code == 404
    t = token(c)
    assert c.post(f"/admin/flags/{2**31}", headers=h, data={"csrf_token": t, "action": "acknowledge"}).status_code == 404
    resp = c.post("/admin/flags/bulk", headers=h, data={"csrf_token": t, "action": "acknowledge", "ids": str(2**31)})
    assert resp.status_code == 404


# --- 11: ages and ids out of range -------------------------------------------------------------

def test_huge_age_filter_and_odd_digits(pg_app):
    app = pg_app()
    c = app.test_client()
    vote_no(c)
    h = as_user(ADMIN)
    assert c.get("/admin/flags?age=1000000", headers=h).status_code == 200
    assert c.get("/admin/flags.csv?age=1000000", headers=h).status_code == 200
    assert c.get("/admin/flags.json?age=99999999999999999999", headers=h).get_json()["flags"] == []
    assert c.get("/admin/flags?age=%C2%B2", headers=h).status_code == 200  # "²".isdigit() is true
    t = token(c)
    resp = c.post("/admin/flags/bulk", headers=h, data={"csrf_token": t, "action": "acknowledge", "ids": ["²", "1x"]})
    assert resp.status_code == 302
    with app.extensions["kb"].db.session() as s:
        assert s.scalar(select(Flag.status)) == "new"


# --- 12: next= with CR/LF ----------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/a%0d%0aSet-Cookie:x=1", "/a%0aLocation:%20http://evil", "/%09/evil.example"])
def test_next_with_control_characters_goes_home(tmp_path, target):
    app = build_app(sqlite_url(tmp_path), index_dir=tmp_path / "no-index", dev=True)
    c = app.test_client()
    resp = c.get(f"/lang/ja?next={target}")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    resp = c.post("/dev/switch", data={"csrf_token": token(c, "/"), "role": "admin", "next": target.replace("%0d", "\r")
                                       .replace("%0a", "\n").replace("%09", "\t").replace("%20", " ")})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


# --- 6: request size limits, note and assignee lengths -----------------------------------------

def test_oversized_requests_answer_413_early(app):
    c = app.test_client()
    t = token(c)
    big = {"csrf_token": t, "article": ARTICLE, "helpful": "no", "reason": "outdated", "comment": "x" * 100_000}
    resp = c.post("/feedback/article", headers=as_user("e@meridian.example", **JSON), data=big)
    assert resp.status_code == 413 and "too large" in resp.get_json()["message"]
    resp = c.post("/feedback/article", headers=as_user("e@meridian.example"), data=big)
    assert resp.status_code == 413 and "too large" in resp.get_data(as_text=True)
    # What the forms need still fits: a 2,000-character comment in a 4-byte script.
    ok = vote_no(c, comment="𝄞" * 2000)
    assert ok.status_code == 200, ok.get_data(as_text=True)


def test_note_and_assignee_lengths_are_capped(pg_app):
    app = pg_app()
    c = app.test_client()
    vote_no(c)
    fid = flag_ids(app)[0]
    h, t = as_user(ADMIN), token(c)
    c.post(f"/admin/flags/{fid}", headers=h, data={"csrf_token": t, "action": "decline", "note": "n" * 2001})
    c.post(f"/admin/flags/{fid}", headers=h, data={"csrf_token": t, "action": "assign", "assignee": "a" * 10_000})
    resp = c.post("/admin/flags/bulk", headers=h, data={"csrf_token": t, "action": "assign", "ids": str(fid),
                                                        "assignee": "b" * 321})
    assert resp.status_code == 302
    page = c.get(f"/admin/flags/{fid}", headers=h).get_data(as_text=True)
    assert "can be up to 2,000 characters" in page
    with app.extensions["kb"].db.session() as s:
        flag = s.get(Flag, fid)
        assert (flag.status, flag.resolution_note, flag.assignee) == ("new", None, None)


# --- 7: chat markup in webhook messages --------------------------------------------------------

def test_webhook_text_escapes_chat_markup():
    from kb.feedback.channels import Notice, WebhookChannel

    notice = Notice("flag-1-created", "[kb] Feedback on “<!here>”", "Comment:\n<!channel> <https://evil.example|Click here> & more")
    text = WebhookChannel().render(notice)["text"]
    assert "<" not in text and ">" not in text
    assert text == ("[kb] Feedback on “&lt;!here&gt;”\nComment:\n&lt;!channel&gt; "
                    "&lt;https://evil.example|Click here&gt; &amp; more")


# --- 14: CSV formulas behind TAB and CR --------------------------------------------------------

def test_csv_export_defuses_every_field(app):
    c = app.test_client()
    vote_no(c, comment="ok")
    with app.extensions["kb"].db.session() as s:
        flag = s.scalar(select(Flag))
        flag.comment, flag.section, flag.assignee, flag.resolution_note = "\t=1+1", "\r=2+2", "-3+3", "@SUM(A1)"
    text = c.get("/admin/flags.csv", headers=as_user(ADMIN)).get_data(as_text=True)
    row = next(csv.DictReader(io.StringIO(text)))
    for field in ("comment", "section", "assignee", "resolution_note"):
        assert row[field].startswith("'"), (field, row[field])
    assert row["query"] == ""  # nothing to defuse in an empty value


# --- 16: exactly one identity ------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    [("X-Forwarded-Email", "victim@example.com"), ("X-Forwarded-Email", "attacker@evil.example")],
    [("X-Forwarded-Email", "victim@example.com,attacker@evil.example")],
    [("X-Forwarded-Email", "Victim <victim@example.com>")],
    [("X-Forwarded-Email", "not an address")],
])
def test_identity_must_be_exactly_one_address(app, headers):
    c = app.test_client()
    t = token(c)
    resp = c.post("/feedback/article", headers=headers + [("Accept", "application/json")],
                  data={"csrf_token": t, "article": ARTICLE, "helpful": "no", "reason": "outdated"})
    assert resp.status_code == 400
    assert c.get("/", headers=headers).status_code == 400
    with app.extensions["kb"].db.session() as s:
        assert s.scalar(select(func.count()).select_from(Flag)) == 0


# --- 17: bulk actions check every flag first; no oracle ----------------------------------------

def test_mixed_bulk_action_changes_nothing_and_hides_other_departments(pg_app):
    app = pg_app()
    c = app.test_client()
    vote_no(c, email="a@x.example")
    vote_no(c, email="b@x.example", article="it-security/vpn.md")
    own, other = flag_ids(app)
    owner = app.extensions["kb"].library.departments["payroll"].owners[0]
    h, t = as_user(owner), token(c)
    for action in ("acknowledge", "assign"):
        resp = c.post("/admin/flags/bulk", headers=h, data={"csrf_token": t, "action": action, "ids": [str(own), str(other)],
                                                            "assignee": "x@meridian.example"})
        assert resp.status_code == 404, action
    with app.extensions["kb"].db.session() as s:
        flag = s.get(Flag, own)
        assert (flag.status, flag.assignee) == ("new", None)
        assert [e.action for e in flag.events] == ["created"]
    missing = other + 100
    for fid in (other, missing):  # another department's flag and no flag answer alike
        assert c.get(f"/admin/flags/{fid}", headers=h).status_code == 404
        assert c.post(f"/admin/flags/{fid}", headers=h, data={"csrf_token": t, "action": "acknowledge"}).status_code == 404
    resp = c.post("/admin/flags/bulk", headers=h, data={"csrf_token": t, "action": "acknowledge", "ids": [str(own)] * 2})
    assert resp.status_code == 302
    with app.extensions["kb"].db.session() as s:
        assert s.get(Flag, own).status == "acknowledged"


# --- 20: no production start without a secret key ----------------------------------------------

def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    from kb.config import ConfigError

    url = sqlite_url(tmp_path)
    with pytest.raises(ConfigError, match="KB_SECRET_KEY"):
        create_app(KB(Config(articles_dir=PROJECT_ROOT / "articles", database_url=url, index_dir=tmp_path / "i")))
    dev = create_app(KB(Config(articles_dir=PROJECT_ROOT / "articles", database_url=url, dev=True, index_dir=tmp_path / "i")))
    assert len(dev.secret_key) == 64  # dev mode may keep a random key


def test_kb_serve_says_why_it_will_not_start(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from kb.cli.serve import serve

    for name in ("KB_SECRET_KEY", "KB_DEV"):
        monkeypatch.delenv(name, raising=False)

    def started(*args, **kwargs):
        raise RuntimeError("kb serve went on to build and serve")

    monkeypatch.setattr(KB, "build_index", started)
    # Production `kb serve` sets up Prometheus's multiprocess dir in os.environ; set here, it is undone
    # after the test instead of switching every later test's /metrics to that dir.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    env = {"KB_DATABASE_URL": sqlite_url(tmp_path), "KB_INDEX_DIR": str(tmp_path / "i")}
    result = CliRunner().invoke(serve, ["--no-dev"], env=env)
    assert result.exit_code != 0 and "KB_SECRET_KEY" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, ValueError)


# --- 13: only the configured host -------------------------------------------------------------

def test_unknown_hosts_are_refused(tmp_path):
    app = build_app(sqlite_url(tmp_path), index_dir=tmp_path / "i", site_url="https://kb.example.com")
    c = app.test_client()
    assert c.get("/", headers={"Host": "evil.example"}).status_code == 400
    resp = c.get("//evil.example/x", headers={"Host": "evil.example"})
    assert resp.status_code == 400 and "evil.example" not in resp.headers.get("Location", "")
    assert c.get("/", headers={"Host": "kb.example.com"}).status_code == 200
    assert c.get("/", headers={"Host": "KB.example.com:443"}).status_code == 200
    assert c.get("/").status_code == 200  # the test client's localhost, in testing
    app.testing = False
    assert c.get("/", headers={"Host": "localhost"}).status_code == 400  # production: only kb.example.com


def test_dev_mode_serves_localhost(tmp_path):
    app = build_app(sqlite_url(tmp_path), index_dir=tmp_path / "i", site_url="https://kb.example.com", dev=True)
    app.testing = False
    c = app.test_client()
    for host in ("localhost:8000", "127.0.0.1", "kb.example.com"):
        assert c.get("/", headers={"Host": host}).status_code == 200, host
    assert c.get("/", headers={"Host": "evil.example"}).status_code == 400


# --- defaults: caching, Vary, Permissions-Policy, no server banner -----------------------------

def test_personal_answers_are_not_cached(tmp_path):
    app = build_app(sqlite_url(tmp_path), index_dir=tmp_path / "i")
    c = app.test_client()
    h = as_user(ADMIN)
    for url in ("/admin/flags", "/admin/flags.csv", "/admin/flags.json"):
        resp = c.get(url, headers=h)
        assert resp.status_code == 200 and "no-store" in resp.headers.get("Cache-Control", ""), url
    assert "no-store" in vote_no(c).headers.get("Cache-Control", "")
    page = c.get("/a/payroll/pay-schedule", headers=h)
    assert "no-store" in page.headers.get("Cache-Control", "")  # it names the person signed in
    vary = {v.strip().lower() for v in page.headers.get("Vary", "").split(",")}
    assert {"cookie", "x-forwarded-email"} <= vary
    assert {"camera=()", "microphone=()", "geolocation=()"} <= set(page.headers["Permissions-Policy"].split(", "))


def test_dev_pages_are_not_cached(tmp_path):
    app = build_app(sqlite_url(tmp_path), index_dir=tmp_path / "i", dev=True)
    c = app.test_client()
    resp = c.post("/dev/switch", data={"csrf_token": token(c, "/"), "role": "admin", "next": "/"})
    assert resp.status_code == 302 and "no-store" in resp.headers.get("Cache-Control", "")


def test_the_server_does_not_announce_werkzeug_and_python(tmp_path):
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    from kb.cli.serve import QuietRequestHandler

    app = build_app(sqlite_url(tmp_path), index_dir=tmp_path / "i")
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/") as resp:  # noqa: S310 (local)
            banner = resp.headers.get("Server", "")
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert "Werkzeug" not in banner and "Python" not in banner


# --- 5: an anonymous flood is one flag with a count --------------------------------------------

def test_anonymous_reports_on_one_article_collapse_into_one_flag(pg_app):
    app = pg_app(trusted_proxies="", anonymous_feedback=True)
    kb = app.extensions["kb"]

    def anonymous_no(comment):
        c = app.test_client()  # no cookie: a new anonymous reader each time
        return c.post("/feedback/article", headers=JSON, data={
            "csrf_token": token(c), "article": ARTICLE, "helpful": "no", "reason": "outdated", "comment": comment})

    first = anonymous_no("first")
    with kb.db.session() as s:
        messages = s.scalar(select(func.count()).select_from(OutboxMessage))
    refs = {anonymous_no(f"again {i}").get_json()["flag"] for i in range(5)}
    assert refs == {first.get_json()["flag"]}
    with kb.db.session() as s:
        flags = list(s.scalars(select(Flag)))
        assert [(f.reports, f.comment) for f in flags] == [(6, "first")]
        assert [e.action for e in flags[0].events] == ["created"] + ["reported"] * 5
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == messages  # no new emails
        assert s.scalar(select(func.count()).select_from(Vote)) == 6  # every vote still counted
        flag_id = flags[0].id
    # The owner sees the count in the queue and on the flag (same database, identity from the proxy).
    admin = pg_app().test_client()
    assert "6 reports" in admin.get("/admin/flags", headers=as_user(ADMIN)).get_data(as_text=True)
    page = admin.get(f"/admin/flags/{flag_id}", headers=as_user(ADMIN)).get_data(as_text=True)
    assert "6 anonymous reports on this article" in page


def test_signed_in_reports_still_make_their_own_flags(pg_app):
    app = pg_app()
    c = app.test_client()
    vote_no(c, email="a@x.example")
    vote_no(c, email="b@x.example")
    with app.extensions["kb"].db.session() as s:
        assert [f.reports for f in s.scalars(select(Flag))] == [1, 1]
