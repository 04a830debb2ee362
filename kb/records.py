"""Search hits as plain data: the JSON API and ``kb search --json`` print the same."""

from __future__ import annotations

from typing import Any

from search.documents import Hit
from search.service import SearchPage

from .content import Library
from .content.urls import article_path


def _url(lib: Library, article: str, anchor: str | None = None) -> str | None:
    art = lib.articles.get(article)
    return article_path(art.slug, anchor) if art else None


def hit_record(hit: Hit, lib: Library) -> dict[str, Any]:
    """One result: the article, the section that answers, and its other languages found."""
    dep = lib.departments.get(hit.department)
    return {
        "article": hit.article,
        "title": hit.title,
        "url": _url(lib, hit.article, hit.anchor or None),
        "anchor": hit.anchor,
        "heading": hit.heading,
        "department": hit.department,
        "department_name": dep.name if dep else hit.department,
        "lang": hit.lang,
        "snippet": hit.snippet,
        "score": hit.score,
        "also_in": [
            {"article": o.article, "lang": o.lang, "title": o.title, "url": _url(lib, o.article)}
            for o in hit.also_in
            if o.article in lib.articles
        ],
    }


def answer_fields(page: SearchPage) -> dict[str, Any]:
    """Whether an article answers the search, and why not: the API, ``--json`` and ``--batch`` carry it."""
    return {"answered": page.answered, "reason": page.reason}
