"""The search every front end asks: one result per article family, paged, logged.

The web page, the JSON API, ``kb search`` and ``kb eval`` all come here, so
they show the same ranking. The Searcher ranks articles; the service groups
an article with its translations (a *family*, recorded by the build), keeps
the family where its best-ranked version ranked, shows the version in the
query's or the reader's language when one was found (else English, else the original),
pages over families, and calls the
logging hook for the searches a person typed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .cache import PageCache
from .documents import Hit
from .fusion import Fused, families
from .handle import IndexHandle
from .query import clean_query, primary_language
from .searcher import Searcher
from .timing import Timings

__all__ = ["SearchPage", "SearchService"]


@dataclass
class SearchPage:
    query: str  # the query as searched: whitespace collapsed, cut to MAX_QUERY_CHARS
    truncated: bool  # the raw query was longer than MAX_QUERY_CHARS
    language: str  # detected query language
    department: str | None
    #: This page: one hit per article family, the version in the query's language
    #: if found (the reader wrote in it), else in ``reader_lang``, else in English, else the original; ``hit.also_in``
    #: holds the family's other versions found by this search.
    hits: list[Hit] = field(default_factory=list)
    total: int = 0  # families found (not articles)
    page: int = 1
    page_size: int = 10
    did_you_mean: str | None = None
    corrected: bool = False  # the hits are for ``did_you_mean``: the query as typed found too little
    took_ms: float = 0.0
    has_words: bool = True  # False for a query with no letters or digits (nothing was searched)
    reader_lang: str | None = None
    #: Whether an article answers the query (search/answer.py). When False, ``reason``
    #: says why: "nothing_matched" (no hits at all) or "weak_matches" (the hits are
    #: only possibly related).
    answered: bool = False
    reason: str | None = None

    @property
    def pages(self) -> int:
        return (self.total + self.page_size - 1) // self.page_size


#: The version shown when a family has none in the query's or the reader's language: the
#: company's common language (the site's default), which a reader of any of the others is likelier
#: to read than another Asian language (a Korean reader and a Japanese original).
COMMON_LANGUAGE = "en"


def preferred(versions: Sequence[Hit], langs: Sequence[str | None]) -> Hit:
    """The version in the first of ``langs`` found, else in ``COMMON_LANGUAGE``, else the
    original, else the best-ranked.

    Not the best-ranked first: a Japanese question shares its kanji with a Chinese
    translation, which then outranks the English original a Japanese reader is likelier
    to read; and the original is the version its owners keep current.
    """
    in_lang = (h for lang in (*langs, COMMON_LANGUAGE) if lang for h in versions if h.lang == lang)
    original = (h for h in versions if h.article == h.family)
    return next(in_lang, None) or next(original, versions[0])


class SearchService:
    def __init__(
        self,
        index: IndexHandle,
        *,
        page_size: int = 10,
        on_search: Callable[[SearchPage], None] | None = None,
        cache_size: int = 0,
        on_timings: Callable[[Timings], None] | None = None,
    ) -> None:
        """``on_search(page)`` is called for each recorded search (e.g. to log zero-result rates);
        ``cache_size``: pages kept for repeated searches (0: none; see search/cache.py);
        ``on_timings(timings)`` after each search that ran (not one answered from the cache), with
        the seconds of each stage (search/timing.py)."""
        self.index = index
        self.page_size = page_size
        self.on_search = on_search
        self.on_timings = on_timings
        self.cache: PageCache[SearchPage] = PageCache(cache_size)

    def search(
        self,
        query: str,
        *,
        department: str | None = None,
        reader_lang: str | None = None,
        page: int = 1,
        page_size: int | None = None,
        record: bool = False,
    ) -> SearchPage:
        """Page ``page`` (from 1) of the families found for ``query``.

        ``record``: a person typed this search; ``on_search`` is called for its
        first page when it had words. Raises IndexMissingError when no index is built.
        """
        started = time.perf_counter()
        searcher = self.index.get()
        reader_lang = primary_language(reader_lang)
        text, truncated = clean_query(query)
        size, page = max(1, page_size or self.page_size), max(1, page)
        key = (text, department, reader_lang, page, size)
        cached = self.cache.get(searcher, key, lambda: self._page(searcher, text, department, reader_lang, page, size))
        # Each search gets its own copy: its time, and its own list should a caller reorder it.
        result = dataclasses.replace(cached, truncated=truncated, hits=list(cached.hits))
        result.took_ms = (time.perf_counter() - started) * 1000
        if record and page == 1 and result.has_words and self.on_search is not None:
            self.on_search(result)
        return result

    def _page(
        self, searcher: Searcher, text: str, department: str | None, reader_lang: str | None, page: int, size: int
    ) -> SearchPage:
        timings = Timings()
        found = searcher.retrieve(text, department=department, timings=timings)
        groups = families(found.fused, searcher.family_of)
        shown, hits = groups[(page - 1) * size : page * size], []
        if shown:  # a stage that did not run is not reported
            with timings.stage("snippets"):
                hits = [_family_hit(searcher, g, found.terms, [found.info.lang, reader_lang]) for g in shown]
        if self.on_timings is not None:
            self.on_timings(timings)
        return SearchPage(
            query=text,
            truncated=False,
            language=found.info.lang,
            department=department,
            hits=hits,
            total=len(groups),
            page=page,
            page_size=size,
            did_you_mean=found.did_you_mean,
            corrected=found.corrected,
            has_words=found.info.has_words,
            reader_lang=reader_lang,
            answered=found.decision.answered,
            reason=found.decision.reason,
        )

    def suggest(self, prefix: str, limit: int = 8, reader_lang: str | None = None) -> list[dict]:
        """Titles and aliases starting with ``prefix``, the reader's language first
        (see ``Searcher.suggest``)."""
        return self.index.get().suggest(prefix, limit, lang=primary_language(reader_lang))


def _family_hit(searcher: Searcher, group: list[Fused], marked: set[str], langs: list[str | None]) -> Hit:
    versions = [searcher.hit(f, marked) for f in group]
    best = preferred(versions, langs)
    best.also_in = [h for h in versions if h is not best]
    return best
