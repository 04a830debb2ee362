"""Gap radar: failed searches (zero answers, not answered, nothing opened, or a "didn't find" from
their page) and "didn't find" reports, grouped by meaning across languages with the multilingual embedder search loads,
so a Japanese and an English question about the same missing policy land in one group.

Each group: its size, languages, k-anonymous examples, and the department it most likely
belongs to (the department of the article nearest to the group's first query).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, literal, or_, select, true, union_all
from sqlalchemy.orm import Session

from ..content import Library
from ..feedback.models import Flag, QueryDaily, QuerySearchers, SearchDaily, SearchLog
from .measures import areas_meet
from .measures import failed as failed_search
from .period import Period, Scope, Split
from .rollup import split_for

Encode = Callable[[Sequence[str]], np.ndarray]
SIMILAR = 0.6  # cosine (USE) at which two queries ask the same thing
MAX_QUERIES = 500  # the most frequent failed queries are grouped (each encoded once: the service caches vectors); the tail is counted only
GROUPS = 30
EXAMPLES = 5


def _in_scope(area: Any, scope: Scope) -> Any:
    """A search that found nothing belongs to no department yet, so owners see those too."""
    return true() if scope.departments is None else or_(area.in_(sorted(scope.departments)), area.is_(None))


def _ranked(s: Session, split: Split, scope: Scope, period: Period) -> tuple[dict[str, dict[str, Any]], int]:
    """The MAX_QUERIES failed queries with most searches and reports (in the database), and how many there are."""
    zero, text = literal(0), func.lower(SearchLog.query)
    raw = (select(text.label("q"), func.count().label("n"), zero.label("r"))
           .where(split.raw(SearchLog.at), failed_search(), _in_scope(SearchLog.area, scope)).group_by(text))
    daily = (select(QueryDaily.query, func.sum(QueryDaily.failed), zero)
             .where(split.daily(QueryDaily.day), QueryDaily.failed > 0, _in_scope(QueryDaily.area, scope)).group_by(QueryDaily.query))
    flags = select(func.lower(Flag.query), zero, func.count()).where(
        Flag.kind == "gap", Flag.query.is_not(None), Flag.query != "",
        Flag.created_at >= period.since, Flag.created_at < period.until)
    if scope.departments is not None:
        flags = flags.where(Flag.department.in_(sorted(scope.departments)))
    both = union_all(raw, daily, flags.group_by(func.lower(Flag.query))).subquery()
    n, r = func.sum(both.c.n), func.sum(both.c.r)
    q = (select(both.c.q, n, r, func.count().over()).group_by(both.c.q).order_by((n + r).desc(), both.c.q).limit(MAX_QUERIES))
    out, total = {}, 0
    for query, searches, reports, count in s.execute(q):
        total = count
        # a report is not a distinct searcher: it never unlocks the text
        out[query] = {"searches": int(searches or 0), "reports": int(reports or 0), "searchers": 0, "langs": set()}
    return out, total


def _failed(s: Session, period: Period, scope: Scope) -> tuple[dict[str, dict[str, Any]], int]:
    """The most failed queries: searches, "didn't find" reports, languages, distinct searchers (k-anonymity)."""
    split = split_for(s, period)
    out, total = _ranked(s, split, scope, period)
    chosen = sorted(out)
    text = func.lower(SearchLog.query)
    for start in range(0, len(chosen), 250):
        part = chosen[start:start + 250]
        raw = (select(text.label("q"), SearchLog.lang, SearchLog.searcher)
               .where(split.raw(SearchLog.at), failed_search(), _in_scope(SearchLog.area, scope), text.in_(part)).subquery())
        langs = select(SearchDaily.query, SearchDaily.lang).where(
            split.daily(SearchDaily.day), SearchDaily.failed > 0, _in_scope(SearchDaily.area, scope), SearchDaily.query.in_(part))
        for query, lang in [*s.execute(select(raw.c.q, raw.c.lang).distinct()), *s.execute(langs.distinct())]:
            out[query]["langs"].add(lang)
        per = select(raw.c.q, raw.c.searcher).where(raw.c.searcher.is_not(None)).group_by(raw.c.q, raw.c.searcher).subquery()
        single = (select(QueryDaily.query, func.sum(QueryDaily.failed_searchers)).where(
            split.daily(QueryDaily.day), _in_scope(QueryDaily.area, scope), QueryDaily.query.in_(part)).group_by(QueryDaily.query))
        multi = (select(QuerySearchers.query, func.sum(QuerySearchers.searchers))
                 .where(split.daily(QuerySearchers.day), QuerySearchers.failed.is_(True), QuerySearchers.query.in_(part),
                        areas_meet(QuerySearchers.areas, scope, with_none=True)).group_by(QuerySearchers.query))
        for query, n in [*s.execute(select(per.c.q, func.count()).group_by(per.c.q)), *s.execute(single), *s.execute(multi)]:
            out[query]["searchers"] += int(n or 0)
    return out, total


def model_id(encode: Encode) -> str:
    """Which model an ``encode`` is (its embedder's name): vectors of two models never mix in the cache."""
    owner = getattr(encode, "__self__", None)
    if owner is not None:
        return f"{type(owner).__qualname__}:{getattr(owner, 'name', '')}"
    return f"{getattr(encode, '__module__', '')}.{getattr(encode, '__qualname__', repr(encode))}"


class VectorCache:
    """Query vectors by (model id, SHA-256 of the text), the least recently used dropped beyond
    ``size``: a page view encodes only the failed queries no earlier view encoded. In memory, per
    process: the vectors are a pure function of model and text, so there is nothing to keep
    consistent, and a restart costs one slow view (a table would cost a write per new query and a
    migration for the model's vector size)."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._vectors: OrderedDict[tuple[str, bytes], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def wrap(self, encode: Encode) -> Encode:
        model = model_id(encode)

        def cached(texts: Sequence[str]) -> np.ndarray:
            keys = [(model, hashlib.sha256(t.encode("utf-8")).digest()) for t in texts]
            with self._lock:
                found = {k: self._vectors[k] for k in keys if k in self._vectors}
                for k in found:
                    self._vectors.move_to_end(k)
            missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in found))
            if missing:
                new = np.asarray(encode(missing), dtype=np.float32)
                fresh = dict(zip(((model, hashlib.sha256(t.encode("utf-8")).digest()) for t in missing), new, strict=True))
                found.update(fresh)
                with self._lock:
                    self._vectors.update(fresh)
                    while len(self._vectors) > self.size:
                        self._vectors.popitem(last=False)
            return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)

        return cached


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
    failed, total = _failed(s, period, scope)
    queries = sorted(failed, key=lambda q: (-(failed[q]["searches"] + failed[q]["reports"]), q))
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
            shown = [(q, r) for q, r in rows if r["searchers"] >= min_searchers]
            groups_out.append({
                "searches": sum(r["searches"] for _q, r in rows), "reports": sum(r["reports"] for _q, r in rows),
                "queries": len(rows), "languages": sorted(set().union(*(r["langs"] for _q, r in rows))),
                "examples": [q for q, _r in shown[:EXAMPLES]], "department": department, "nearest_article": nearest,
            })
    groups_out.sort(key=lambda g: (-(g["searches"] + g["reports"]), g["examples"][:1]))
    return {"groups": groups_out[:GROUPS], "failed_queries": total, "grouped_queries": len(queries),
            "min_searchers": min_searchers}
