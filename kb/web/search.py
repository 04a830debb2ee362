"""The search page, its JSON API and typeahead suggestions."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from search.documents import Hit
from search.query import MAX_QUERY_CHARS
from search.searcher import IndexMissingError

from ..i18n import select_locale
from . import core, library

bp = Blueprint("search", __name__)
PAGE_SIZE = 10


def _searcher():  # noqa: ANN202
    return core().index.get()


def _hit_dict(hit: Hit, others: list[Hit] | None = None) -> dict:
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
        "also_in": [
            {"lang": o.lang, "title": o.title, "url": f"/a/{lib.articles[o.article].slug}"}
            for o in others or []
            if o.article in lib.articles
        ],
    }


def _family_of(path: str) -> str:
    art = library().articles.get(path)
    return art.translation_of if art and art.translation_of in library().articles else path


def _search_families(q: str, department: str | None, limit: int, offset: int = 0):  # noqa: ANN202
    """Search, then keep one result per article family; returns (result, [(hit, others)], total)."""
    result = _searcher().search(q, department=department, limit=(offset + limit) * 3)
    families = _one_per_family(result.hits, [result.language, select_locale()])
    total = len(dict.fromkeys(_family_of(a) for a in result.ranked))
    return result, families[offset : offset + limit], total


def _one_per_family(hits: list[Hit], preferred: list[str]) -> list[tuple[Hit, list[Hit]]]:
    """One result per article and its translations, in the reader's language when found.

    A Japanese reader asking about parental leave wants the Japanese version of
    the policy, once, where the family ranked best, not the same policy twice.
    """
    groups: dict[str, list] = {}
    order: list[str] = []
    for h in hits:
        f = _family_of(h.article)
        if f not in groups:
            groups[f] = []
            order.append(f)
        groups[f].append(h)
    out = []
    for f in order:
        members = groups[f]
        best = next((h for lang in preferred for h in members if h.lang == lang), members[0])
        out.append((best, [h for h in members if h is not best]))
    return out


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
        result, families, total = _search_families(q, department, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    except IndexMissingError:
        return render_template("search.html", state="no-index", **ctx), 503
    hits = [_hit_dict(h, others) for h, others in families]
    state = "results" if hits else ("no-words" if total == 0 and not any(c.isalnum() for c in q) else "none")
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    if page == 1 and state != "no-words":
        # Recorded without who asked: for zero-result and success rates.
        core().feedback.record_search(
            q, result.language, department, total, hits[0]["article"] if hits else None
        )
    gap_department = department or (hits[0]["department"] if hits else None)
    return render_template(
        "search.html", state=state, result=result, hits=hits, pages=pages, total=total, gap_department=gap_department, **ctx
    )


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
        result, families, total = _search_families(q, department, limit)
    except IndexMissingError:
        return jsonify(error="index_missing", message="The search index is not built yet (run `kb index`)."), 503
    return jsonify(
        query=q,
        truncated=truncated,
        department=department,
        did_you_mean=result.did_you_mean,
        corrected=result.corrected,
        total=total,
        took_ms=round(result.took_ms, 1),
        results=[_hit_dict(h, others) for h, others in families],
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
