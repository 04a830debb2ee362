"""The search page, the JSON API and suggestions, over the bundled articles."""

from __future__ import annotations

import json
import re
import socket
from urllib.parse import quote

import pytest

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config

from .conftest import serve_in_thread, sqlite_url


def get_json(app, url, status=200):
    resp = app.test_client().get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)
    return resp.get_json()


def test_results_page_has_snippets_and_deep_links(search_app):
    body = search_app.test_client().get("/search?q=how+long+do+I+have+to+submit+expenses").get_data(as_text=True)
    assert 'class="results"' in body
    assert "<mark>" in body
    # Straight to the section, telling the article page which search and position it came from.
    assert re.search(r'href="/a/finance/expense-policy\?from=[\w-]{12}&amp;pos=\d+#', body)
    assert "Finance" in body  # department shown


def test_api_search(search_app):
    data = get_json(search_app, "/api/search?q=lost+laptop&limit=3")
    assert data["query"] == "lost laptop" and len(data["results"]) == 3
    first = data["results"][0]
    assert first["url"].startswith("/a/") and first["title"] and first["department"]
    assert data["results"][0]["article"] in ("it-security/lost-or-stolen-device.md", "it-security/it-security-faq.md")


def test_department_filter(search_app):
    data = get_json(search_app, "/api/search?q=deadline&department=payroll&limit=10")
    assert data["results"] and {r["department"] for r in data["results"]} == {"payroll"}
    page = search_app.test_client().get("/search?q=deadline&department=payroll").get_data(as_text=True)
    assert '<option value="payroll" selected>' in page


def test_did_you_mean_and_correction(search_app):
    data = get_json(search_app, "/api/search?q=reimbursment")
    assert data["did_you_mean"] == "reimbursement"
    page = search_app.test_client().get("/search?q=reimbursment+polcy").get_data(as_text=True)
    assert "reimbursement policy" in page


def test_japanese_reader_gets_the_japanese_version_once(search_app):
    data = get_json(search_app, "/api/search?q=" + "育児休業は何週間取れますか")
    articles = [r["article"] for r in data["results"]]
    assert articles[0] == "people/parental-leave.ja.md"
    assert "people/parental-leave.md" not in articles  # one result per policy
    assert data["results"][0]["also_in"][0]["lang"] == "en"


def test_cross_lingual_korean_query_finds_english_policy(search_app):
    data = get_json(search_app, "/api/search?q=" + "출장 호텔 숙박비 한도")
    assert any(r["article"] in ("finance/expense-policy.md", "finance/travel-booking.md") for r in data["results"][:3])


def test_pagination(search_app):
    client = search_app.test_client()
    one = client.get("/search?q=policy&page=1").get_data(as_text=True)
    two = client.get("/search?q=policy&page=2").get_data(as_text=True)
    assert 'rel="next"' in one and 'rel="prev"' in two
    assert '<ol class="results" start="11">' in two


@pytest.mark.parametrize("q", ["", "   "])
def test_api_empty_query_is_a_clear_400(search_app, q):
    data = get_json(search_app, f"/api/search?q={q}", status=400)
    assert data["error"] == "missing_query"


@pytest.mark.parametrize("q", ["!!!???", "🙂🙂🎉", "…—・。"])
def test_punctuation_or_emoji_only_is_answered(search_app, q):
    data = get_json(search_app, "/api/search?q=" + q)
    assert data["results"] == []
    page = search_app.test_client().get("/search", query_string={"q": q})
    assert page.status_code == 200 and "no words to look for" in page.get_data(as_text=True)


def test_very_long_query_is_trimmed_not_an_error(search_app):
    q = ("expense receipts deadline " * 200)[:5000]
    data = get_json(search_app, "/api/search?q=" + q)
    assert data["truncated"] is True and data["results"]
    page = search_app.test_client().get("/search", query_string={"q": q})
    assert page.status_code == 200 and "first 500 characters" in page.get_data(as_text=True)


def test_bad_limit(search_app):
    assert get_json(search_app, "/api/search?q=vpn&limit=lots", status=400)["error"] == "bad_limit"
    assert len(get_json(search_app, "/api/search?q=policy&limit=500")["results"]) <= 50


def test_suggestions(search_app):
    data = get_json(search_app, "/api/suggest?q=pass")
    labels = [s["label"].lower() for s in data["suggestions"]]
    assert any(label.startswith("pass") for label in labels)
    assert all(s["url"].startswith("/a/") for s in data["suggestions"])
    assert get_json(search_app, "/api/suggest?q=")["suggestions"] == []
    assert get_json(search_app, "/api/suggest?q=通勤")["suggestions"]


def test_suggestions_in_the_readers_language_first_and_marked_otherwise(search_app):
    client = search_app.test_client()
    en = client.get("/api/suggest?q=parental+l", headers={"Accept-Language": "en"})
    first, *rest = en.get_json()["suggestions"]
    assert first["lang"] == "en" and "lang_name" not in first  # before: the Japanese article came first
    assert {"lang": "ja", "lang_name": "日本語"}.items() <= next(s for s in rest if s["lang"] == "ja").items()
    assert "Accept-Language" in en.headers["Vary"]
    ja = client.get("/api/suggest?q=parental+l", headers={"Accept-Language": "ja"}).get_json()["suggestions"]
    assert ja[0]["lang"] == "ja" and ja[-1]["lang_name"] == "English"


def test_search_without_an_index_says_so(tmp_path):
    app = create_app(KB(Config(articles_dir=PROJECT_ROOT / "articles", index_dir=tmp_path / "none", secret_key="t",
                               database_url=sqlite_url(tmp_path))))
    client = app.test_client()
    resp = client.get("/search?q=vpn")
    assert resp.status_code == 503 and "kb index" in resp.get_data(as_text=True)
    assert client.get("/api/search?q=vpn").get_json()["error"] == "index_missing"
    assert client.get("/api/suggest?q=vp").get_json()["suggestions"] == []


def test_quoted_phrases_search_all_fields(search_app):
    for q in ('"parental leave"', "「通勤手当」", '"security key" lost'):
        resp = search_app.test_client().get("/api/search", query_string={"q": q})
        assert resp.status_code == 200
        data = resp.get_json()
        assert data["results"], q


def _raw_get(base: str, target: bytes) -> tuple[int, bytes]:
    """GET ``target`` byte for byte, as curl sends a URL typed with non-ASCII characters."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_a_query_sent_as_raw_utf8_is_the_same_query_as_its_percent_escapes(search_app):
    # A browser percent-encodes the query; curl sends the UTF-8 bytes raw, and the development
    # server hands them over mangled (kb/web/rawquery.py). (Python's http.server refuses a line
    # whose bytes include 0x85 or 0xA0, as gunicorn refuses any non-ASCII: both a 400.)
    text = "ノートパソコンをなくしました"
    with serve_in_thread(search_app) as base:
        status, body = _raw_get(base, b"/api/search?q=" + text.encode())
        assert status == 200
        raw = json.loads(body)
        escaped = json.loads(_raw_get(base, b"/api/search?q=" + quote(text).encode())[1])
        assert raw["query"] == text
        assert [r["article"] for r in raw["results"]] == [r["article"] for r in escaped["results"]]
        status, body = _raw_get(base, b"/search?q=" + text.encode())
        assert status == 200 and f'value="{text}"' in body.decode()
        # Bytes that are not UTF-8 are still a query, never a 500.
        status, body = _raw_get(base, b"/api/search?q=leave%20\xff\xfe")
        assert status == 200 and json.loads(body)["query"].startswith("leave ")
