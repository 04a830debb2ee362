"""Every page through the test client: content, language, security headers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kb import KB, create_app
from kb.config import Config

from .conftest import sqlite_url


@pytest.fixture
def small_app(make_articles, tmp_path):
    old = (date.today() - timedelta(days=500)).isoformat()
    root = make_articles({
        "departments.yml": """
            departments:
              - id: benefits
                name: Benefits
                description: Health plans and leave.
                owners: [owner@x.example]
                contact: {email: benefits@x.example, chat: "#ask-benefits", phone: "+1 415 555 0100"}
                response_target: 3 business days
            """,
        "benefits/leave.md": f"""
            ---
            title: Parental leave
            summary: Sixteen weeks fully paid.
            last_reviewed: {old}
            related: [benefits/health.md]
            ---
            ## Eligibility

            All employees. See [health](health.md#plans).

            ## How to apply
            """,
        "benefits/leave.ja.md": "---\ntitle: 育児休業\nlang: ja\ntranslation_of: benefits/leave.md\n---\n## 対象者\n\n全社員\n",
        "benefits/health.md": "---\ntitle: Health plans\n---\n## Plans\n\n<script>alert(1)</script>\n",
    })
    cfg = Config(articles_dir=root, secret_key="t", repo_url="https://git.example/kb/-/edit/main/articles", reload_seconds=0,
                 database_url=sqlite_url(tmp_path))
    app = create_app(KB(cfg))
    app.testing = True
    return app


def text(resp):
    return resp.get_data(as_text=True)


def test_home_lists_departments_and_recent(small_app):
    resp = small_app.test_client().get("/")
    body = text(resp)
    assert resp.status_code == 200
    assert 'role="search"' in body and 'name="q"' in body
    # An article and its translation count once, as the department page lists them.
    assert "Benefits" in body and "2 articles" in body
    assert "Parental leave" in body


def test_department_page(small_app):
    body = text(small_app.test_client().get("/d/benefits"))
    assert "Health plans and leave." in body
    assert "benefits@x.example" in body and "#ask-benefits" in body
    assert "Benefits answers within 3 business days." in body
    # One entry per article family, with its other languages offered.
    assert body.count('href="/a/benefits/leave"') == 1
    assert 'href="/a/benefits/leave.ja"' in body


def test_article_page(small_app):
    body = text(small_app.test_client().get("/a/benefits/leave"))
    assert "<h1>Parental leave</h1>" in body
    assert "Review overdue." in body
    assert 'href="#eligibility"' in body  # table of contents
    assert 'href="/a/benefits/health#plans"' in body  # rewritten link
    assert 'href="https://git.example/kb/-/edit/main/articles/benefits/leave.md"' in body
    assert 'href="/a/benefits/leave.ja"' in body and "日本語" in body
    assert "Related articles" in body and 'href="/a/benefits/health"' in body
    assert "owner@x.example" in body  # department owners stand in for article owners


def test_article_with_script_is_safe(small_app):
    body = text(small_app.test_client().get("/a/benefits/health"))
    assert "<script>alert(1)</script>" not in body
    assert "Review overdue." not in body  # never reviewed: nothing to be overdue


def test_japanese_reader_gets_japanese_ui_and_is_offered_the_translation(small_app):
    client = small_app.test_client()
    body = text(client.get("/a/benefits/leave", headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"}))
    assert '<html lang="ja">' in body
    assert "このページの内容" in body or "目次" in body
    assert 'class="notice translation-offer" lang="ja"' in body
    # Non-English content is marked as such.
    ja_body = text(client.get("/a/benefits/leave.ja"))
    assert '<article class="article" lang="ja">' in ja_body


def test_language_switcher_is_remembered_and_safe(small_app):
    client = small_app.test_client()
    resp = client.get("/lang/ko?next=/d/benefits")
    assert resp.status_code == 302 and resp.headers["Location"] == "/d/benefits"
    assert '<html lang="ko">' in text(client.get("/"))
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        resp = client.get("/lang/en", query_string={"next": evil})
        assert resp.headers["Location"] == "/"
    assert client.get("/lang/xx").status_code == 404


@pytest.mark.parametrize("accept, expected", [
    ("ko-KR,en;q=0.5", "ko"), ("zh-CN,zh;q=0.9", "zh"), ("fr-FR", "en"), ("", "en"),
])
def test_accept_language(small_app, accept, expected):
    body = text(small_app.test_client().get("/", headers={"Accept-Language": accept}))
    assert f'<html lang="{expected}">' in body


def test_not_found_pages(small_app):
    client = small_app.test_client()
    for url in ("/a/benefits/nope", "/d/nope", "/nothing"):
        resp = client.get(url)
        assert resp.status_code == 404
        assert "Page not found" in text(resp)


def test_server_error_page(small_app):
    @small_app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    small_app.testing = False  # let the error handler answer, as in production
    resp = small_app.test_client().get("/boom")
    assert resp.status_code == 500
    assert "Something went wrong" in text(resp)


def test_security_headers(small_app):
    resp = small_app.test_client().get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_no_asset_from_a_cdn(client):
    body = text(client.get("/a/people/leave-types"))
    assert "http://" not in body.split("<main")[0] and "https://" not in body.split("<main")[0]
    assert client.get("/static/kb.css").status_code == 200


def test_edited_article_shows_without_restart(small_app, make_articles):
    client = small_app.test_client()
    assert "Dental" not in text(client.get("/d/benefits"))
    root = small_app.extensions["kb"].config.articles_dir
    (root / "benefits" / "dental.md").write_text("---\ntitle: Dental\n---\nx\n", encoding="utf-8")
    assert "Dental" in text(client.get("/d/benefits"))


def test_every_bundled_page_renders(client, app):
    lib = app.extensions["kb"].library
    assert len(lib.articles) >= 40
    for dep in lib.departments:
        assert client.get(f"/d/{dep}").status_code == 200
    for art in lib.articles.values():
        resp = client.get(f"/a/{art.slug}")
        assert resp.status_code == 200, art.path
