"""The search page, its JSON API and typeahead suggestions: read the request,
ask the search service, render. Ranking, grouping and paging live in the service."""

from __future__ import annotations

import secrets

from flask import Blueprint, jsonify, render_template, request, session, url_for

from search.query import MAX_QUERY_CHARS
from search.searcher import IndexMissingError

from ..i18n import LANGUAGE_NAMES, select_locale
from ..records import answer_fields, hit_record
from . import core, library
from .security import client_address, limiter, search_limit

bp = Blueprint("search", __name__)
MAX_PAGE = 100


def _department() -> str | None:
    department = request.args.get("department") or None
    return department if department in library().departments else None


def _int_arg(name: str, default: int, low: int, high: int) -> int | None:
    """The argument clamped to [low, high]; None when it is not a whole number."""
    try:
        return max(low, min(int(request.args.get(name, default)), high))
    except ValueError:
        return None


def _departments() -> list:
    lib = library()
    return sorted((d for d in lib.departments.values() if lib.in_department(d.id)), key=lambda d: d.name.lower())


def _session_key() -> str:
    """A random key for this browser session: the insights count distinct searchers by a daily hash of it."""
    return session.setdefault("kb_sid", secrets.token_hex(8))


def tracked(url: str | None, search_ref: str, position: int) -> str | None:
    """A result link that tells the article page which search and position it was opened from
    (works without JavaScript); the fragment stays last."""
    if url is None:
        return None
    path, hash_, fragment = url.partition("#")
    return f"{path}{'&' if '?' in path else '?'}from={search_ref}&pos={position}{hash_}{fragment}"


@bp.get("/search")
@limiter.shared_limit(search_limit, scope="search", key_func=client_address)  # page and API: one budget
def search_page():  # noqa: ANN201
    raw, department = request.args.get("q", ""), _department()
    page_number = _int_arg("page", 1, 1, MAX_PAGE) or 1
    ctx = {"q": " ".join(raw.split()), "department": department, "departments": _departments(), "page": page_number,
           "max_query_chars": MAX_QUERY_CHARS}
    if not ctx["q"]:
        return render_template("search.html", state="empty", truncated=False, **ctx)
    try:
        page = core().search.search(raw, department=department, reader_lang=select_locale(), page=page_number)
    except IndexMissingError:
        return render_template("search.html", state="no-index", truncated=False, **ctx), 503
    ctx["q"] = page.query
    state = "results" if page.hits else ("none" if page.has_words else "no-words")
    hits = [hit_record(h, library()) for h in page.hits]
    search_ref = None
    if page_number == 1 and page.has_words:
        search_ref = core().record_search(page, _session_key())
        for position, hit in enumerate(hits, 1):
            hit["url"] = tracked(hit["url"], search_ref, position)
    gap_department = department or (hits[0]["department"] if hits else None)
    return render_template(
        "search.html", state=state, result=page, hits=hits, pages=page.pages, total=page.total,
        truncated=page.truncated, gap_department=gap_department, search_ref=search_ref, **ctx,
    )


@bp.get("/api/search")
@limiter.shared_limit(search_limit, scope="search", key_func=client_address)  # page and API: one budget
def api_search():  # noqa: ANN201
    raw = request.args.get("q", "")
    if not raw.strip():
        return jsonify(error="missing_query", message="Give a query in the q parameter."), 400
    limit = _int_arg("limit", 10, 1, 50)
    if limit is None:
        return jsonify(error="bad_limit", message="limit must be a whole number from 1 to 50."), 400
    department = _department()
    try:
        page = core().search.search(raw, department=department, reader_lang=select_locale(), page_size=limit)
    except IndexMissingError:
        return jsonify(error="index_missing", message="The search index is not built yet (run `kb index`)."), 503
    return jsonify(
        query=page.query, truncated=page.truncated, department=department, did_you_mean=page.did_you_mean,
        corrected=page.corrected, total=page.total, took_ms=round(page.took_ms, 1), **answer_fields(page),
        results=[hit_record(h, library()) for h in page.hits],
    )


@bp.get("/api/suggest")
def api_suggest():  # noqa: ANN201
    q = request.args.get("q", "")[:100]
    reader = select_locale()
    try:
        items = core().search.suggest(q, limit=8, reader_lang=reader)
    except IndexMissingError:
        items = []
    lib = library()
    out = []
    for s in items:
        art = lib.articles.get(s["article"])
        if art:
            item = {"label": s["label"], "title": s["title"], "url": url_for("pages.article", slug=art.slug), "lang": s["lang"]}
            if s["lang"] != reader:  # said in the list, so nobody lands on an article they cannot read by surprise
                item["lang_name"] = LANGUAGE_NAMES.get(s["lang"], s["lang"])
            out.append(item)
    response = jsonify(query=q, suggestions=out)
    response.vary.add("Accept-Language")  # the order follows the reader's language
    return response
