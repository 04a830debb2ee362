"""The one URL helper outside requests agrees with the web routes it names."""

from __future__ import annotations

from flask import url_for

from kb import KB, create_app
from kb.config import Config
from kb.content.urls import SiteUrls, article_path

from .conftest import sqlite_url


def test_article_paths_match_the_routes(app):
    lib = app.extensions["kb"].library
    with app.test_request_context():
        for art in lib.articles.values():
            assert article_path(art.path) == url_for("pages.article", slug=art.slug)
            assert article_path(art.slug) == url_for("pages.article", slug=art.slug)


def test_index_articles_are_served_at_their_folder(make_articles, tmp_path):
    root = make_articles({"people/onboarding/index.md": "---\ntitle: Onboarding\n---\nWelcome.\n"})
    app = create_app(KB(Config(articles_dir=root, secret_key="t", reload_seconds=0, database_url=sqlite_url(tmp_path))))
    # The page of its folder: /a/people/onboarding, not .../index
    assert article_path("people/onboarding/index.md") == "/a/people/onboarding"
    assert app.test_client().get(article_path("people/onboarding/index.md")).status_code == 200


def test_absolute_urls_and_anchors():
    urls = SiteUrls("https://kb.example/", diff_url="https://git.example/compare/{old}...{new}")
    assert urls.article("benefits/parental-leave.md", "eligibility") == "https://kb.example/a/benefits/parental-leave#eligibility"
    assert urls.article("benefits/育児休業.md", "申請方法") == "https://kb.example/a/benefits/育児休業#申請方法"
    assert urls.article("hr/two words.md") == "https://kb.example/a/hr/two%20words"
    assert urls.flag(42) == "https://kb.example/admin/flags/42"
    assert urls.diff("a1", "b2", "x.md") == "https://git.example/compare/a1...b2"
    assert SiteUrls("https://kb.example").diff("a1", "b2", "x.md") is None


def test_flag_url_is_the_triage_route(app):
    with app.test_request_context():
        assert SiteUrls("").flag(7) == url_for("admin.flag_detail", flag_id=7)
