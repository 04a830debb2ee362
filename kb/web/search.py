"""The search page, its JSON API and typeahead suggestions."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

from search.query import MAX_QUERY_CHARS
from search.searcher import IndexMissingError

from . import library

bp = Blueprint("search", __name__)
PAGE_SIZE = 10


def _searcher():  # noqa: ANN202
    return current_app.extensions["kb_search"].get()


def _hit_dict(hit) -> dict:  # noqa: ANN001
    lib = library()
    art = lib.articles.get(hit.article)
    url = f"/a/{art.slug}" if art else None
    dep = lib.departments.get(hit.department)
    return {
        "article": hit.article,
        "title": hit.title,
        "url": url + (f"#{hit.anchor}" if hit.anchor and url else "") if url else None,
        "anchor": hit.anchor,
        "section": hit.heading,
        "department": hit.department,
        "department_name": dep.name if dep else hit.department,
        "lang": hit.lang,
        "snippet": hit.snippet,
        "score": hit.score,
    }


def _params() -> tuple[str, str | None, bool]:
    raw = request.args.get("q", "")
    truncated = len(raw) > MAX_QUERY_CHARS
    q = " ".join(raw[:MAX_QUERY_CHARS].split())
    department = request.args.get("department") or None
    if department and department not in library().departments:
        department = None
    return q, department, truncated


@bp.get("/search")
def search_page():  # noqa: ANN201
    q, department, truncated = _params()
    try:
        page = max(1, min(int(request.args.get("page", 1)), 100))
    except ValueError:
        page = 1
    lib = library()
    departments = sorted((d for d in lib.departments.values() if lib.in_department(d.id)), key=lambda d: d.name.lower())
    ctx = {"q": q, "department": department, "departments": departments, "truncated": truncated, "page": page}
    if not q:
        return render_template("search.html", state="empty", **ctx)
    try:
        result = _searcher().search(q, department=department, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    except IndexMissingError:
        return render_template("search.html", state="no-index", **ctx), 503
    hits = [_hit_dict(h) for h in result.hits]
    state = "results" if hits else ("no-words" if result.total == 0 and not any(c.isalnum() for c in q) else "none")
    pages = (result.total + PAGE_SIZE - 1) // PAGE_SIZE
    return render_template("search.html", state=state, result=result, hits=hits, pages=pages, **ctx)


@bp.get("/api/search")
def api_search():  # noqa: ANN201
    q, department, truncated = _params()
    if not q:
        return jsonify(error="missing_query", message="Give a query in the q parameter."), 400
    try:
        limit = max(1, min(int(request.args.get("limit", 10)), 50))
    except ValueError:
        return jsonify(error="bad_limit", message="limit must be a whole number from 1 to 50."), 400
    try:
        result = _searcher().search(q, department=department, limit=limit)
    except IndexMissingError:
        return jsonify(error="index_missing", message="The search index is not built yet (run `kb index`)."), 503
    return jsonify(
        query=q,
        truncated=truncated,
        department=department,
        did_you_mean=result.did_you_mean,
        corrected=result.corrected,
        total=result.total,
        took_ms=round(result.took_ms, 1),
        results=[_hit_dict(h) for h in result.hits],
    )


@bp.get("/api/suggest")
def api_suggest():  # noqa: ANN201
    q = request.args.get("q", "")[:100]
    try:
        items = _searcher().suggest(q, limit=8)
    except IndexMissingError:
        items = []
    lib = library()
    out = []
    for s in items:
        art = lib.articles.get(s["article"])
        if art:
            out.append({"label": s["label"], "title": s["title"], "url": f"/a/{art.slug}", "lang": s["lang"]})
    return jsonify(query=q, suggestions=out)
