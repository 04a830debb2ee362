"""Gap radar: failed searches (zero answers, not answered, nothing opened) and "didn't find"
reports, grouped by meaning across languages with the multilingual embedder search loads,
so a Japanese and an English question about the same missing policy land in one group.

Each group: its size, languages, k-anonymous examples, and the department it most likely
belongs to (the department of the article nearest to the group's first query).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..content import Library
from ..feedback.models import Flag, SearchLog
from .period import Period, Scope

Encode = Callable[[Sequence[str]], np.ndarray]
SIMILAR = 0.6  # cosine (USE) at which two queries ask the same thing
MAX_QUERIES = 500  # the most frequent failed queries are grouped (encoded per request); the tail is counted only
GROUPS = 30
EXAMPLES = 5


def _failed(s: Session, period: Period, scope: Scope) -> dict[str, dict[str, Any]]:
    text = func.lower(SearchLog.query)
    failed = or_(SearchLog.results == 0, SearchLog.answered.is_(False), SearchLog.clicks == 0)
    q = select(text, SearchLog.lang, SearchLog.searcher, func.count()).where(
        SearchLog.at >= period.since, SearchLog.at < period.until, failed)
    if scope.departments is not None:  # a search that found nothing belongs to no department yet
        q = q.where(or_(SearchLog.area.in_(sorted(scope.departments)), SearchLog.area.is_(None)))
    out: dict[str, dict[str, Any]] = {}
    for query, lang, who, n in s.execute(q.group_by(text, SearchLog.lang, SearchLog.searcher)):
        row = out.setdefault(query, {"searches": 0, "who": set(), "langs": set(), "reports": 0})
        row["searches"] += n
        row["langs"].add(lang)
        if who:
            row["who"].add(who)
    flags = select(func.lower(Flag.query), func.count()).where(
        Flag.kind == "gap", Flag.query.is_not(None), Flag.query != "",
        Flag.created_at >= period.since, Flag.created_at < period.until)
    if scope.departments is not None:
        flags = flags.where(Flag.department.in_(sorted(scope.departments)))
    for query, n in s.execute(flags.group_by(func.lower(Flag.query))):
        row = out.setdefault(query, {"searches": 0, "who": set(), "langs": set(), "reports": 0})
        row["reports"] += n  # a report is not a distinct searcher: it never unlocks the text
    return out


def _group(queries: list[str], vectors: np.ndarray) -> list[list[int]]:
    """Greedy, most frequent first: a query joins the first group whose first query it is similar to."""
    seeds: list[int] = []
    groups: list[list[int]] = []
    for i in range(len(queries)):
        if seeds:
            sims = vectors[seeds] @ vectors[i]
            best = int(np.argmax(sims))
            if sims[best] >= SIMILAR:
                groups[best].append(i)
                continue
        seeds.append(i)
        groups.append([i])
    return groups


def gap_report(s: Session, period: Period, scope: Scope, library: Library, encode: Encode,
               article_vectors: Callable[[], tuple[list[str], np.ndarray]], min_searchers: int) -> dict[str, Any]:
    failed = _failed(s, period, scope)
    ranked = sorted(failed, key=lambda q: (-(failed[q]["searches"] + failed[q]["reports"]), q))
    queries = ranked[:MAX_QUERIES]
    groups_out: list[dict[str, Any]] = []
    if queries:
        vectors = encode(queries)
        paths, art_vecs = article_vectors()
        for members in _group(queries, vectors):
            rows = [(queries[i], failed[queries[i]]) for i in members]
            department, nearest = None, None
            if len(paths):
                centre = vectors[members].mean(axis=0)
                nearest = paths[int(np.argmax(art_vecs @ centre))]
                department = library.articles[nearest].department
            if not scope.allows(department):
                continue
            shown = [(q, r) for q, r in rows if len(r["who"]) >= min_searchers]
            groups_out.append({
                "searches": sum(r["searches"] for _q, r in rows), "reports": sum(r["reports"] for _q, r in rows),
                "queries": len(rows), "languages": sorted(set().union(*(r["langs"] for _q, r in rows))),
                "examples": [q for q, _r in shown[:EXAMPLES]], "department": department, "nearest_article": nearest,
            })
    groups_out.sort(key=lambda g: (-(g["searches"] + g["reports"]), g["examples"][:1]))
    return {"groups": groups_out[:GROUPS], "failed_queries": len(failed), "grouped_queries": len(queries),
            "min_searchers": min_searchers}
