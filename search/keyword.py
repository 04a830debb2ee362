"""The keyword side: a Whoosh index of chunks, scored with BM25F.

Fields and their weights (applied as query-time boosts so they can be tuned
without reindexing):

- ``title`` x3: a word in the title is the strongest sign of what an article is about;
- ``aliases`` x2.5: other phrasings the owners chose, tags, synonyms (no positions);
- ``headings`` x2: the heading path of the chunk;
- ``body`` x1.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path

from whoosh import index as windex
from whoosh import query as wq
from whoosh.fields import ID, TEXT, Schema
from whoosh.scoring import BM25F

from .analysis import MultilingualTokenizer, normalize
from .documents import Chunk

FIELD_BOOSTS = {"title": 3.0, "aliases": 2.5, "headings": 2.0, "body": 1.0}
POSITIONAL = {"title", "headings", "body"}
_PHRASE = re.compile(r'"([^"]+)"|“([^”]+)”|「([^」]+)」')


def schema() -> Schema:
    ana = MultilingualTokenizer()
    return Schema(
        chunk=ID(stored=True, unique=True),
        article=ID(stored=True),
        department=ID(stored=True),
        lang=ID(stored=True),
        title=TEXT(analyzer=ana, phrase=True),
        headings=TEXT(analyzer=ana, phrase=True),
        aliases=TEXT(analyzer=ana, phrase=False),
        body=TEXT(analyzer=ana, phrase=True),
    )


def _fields(chunk: Chunk, position: int) -> dict:
    return {
        "chunk": str(position),
        "article": chunk.doc_id,
        "department": chunk.department or "-",
        "lang": chunk.lang,
        "title": chunk.title,
        "headings": chunk.heading,
        "aliases": chunk.aliases,
        "body": chunk.text,
    }


def build(path: Path, chunks: Iterable[tuple[int, Chunk]]) -> None:
    """Write a new Whoosh index at ``path`` holding ``(position, chunk)`` pairs."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    ix = windex.create_in(str(path), schema())
    writer = ix.writer(limitmb=256)
    for position, chunk in chunks:
        writer.add_document(**_fields(chunk, position))
    writer.commit()


def update(path: Path, remove_articles: Iterable[str], add: Iterable[tuple[int, Chunk]]) -> None:
    """Delete every chunk of ``remove_articles`` and add new chunks, in place."""
    ix = windex.open_dir(str(path))
    writer = ix.writer(limitmb=128)
    for article in remove_articles:
        writer.delete_by_term("article", article)
    for position, chunk in add:
        writer.add_document(**_fields(chunk, position))
    # Small segments would slow queries down over time; merging them is cheap here.
    writer.commit(merge=True)


def query_terms(text: str) -> list[str]:
    return [t.text for t in MultilingualTokenizer()(text)]


def build_query(text: str, expansions: Iterable[str] = ()) -> tuple[wq.Query | None, set[str]]:
    """A BM25F query over all fields; returns it and the terms it looks for.

    Quoted parts ("like this" or 「これ」) are phrases on fields that keep
    positions and plain conjunctions on those that do not, so a phrase can
    never fail on a field without positions. ``expansions`` (synonyms) join
    at a lower weight.
    """
    text = normalize(text)
    clauses: list[wq.Query] = []
    all_terms: set[str] = set()
    for m in _PHRASE.finditer(text):
        phrase_terms = query_terms(next(g for g in m.groups() if g))
        all_terms.update(phrase_terms)
        if len(phrase_terms) > 1:
            per_field = [
                wq.Phrase(f, phrase_terms, boost=b * 1.5) if f in POSITIONAL else wq.And([wq.Term(f, t) for t in phrase_terms], boost=b)
                for f, b in FIELD_BOOSTS.items()
            ]
            clauses.append(wq.Or(per_field))
    rest = _PHRASE.sub(" ", text)
    terms = list(dict.fromkeys(query_terms(rest) + [t for m in _PHRASE.finditer(text) for t in query_terms(next(g for g in m.groups() if g))]))
    all_terms.update(terms)
    for t in terms:
        clauses.append(wq.Or([wq.Term(f, t, boost=b) for f, b in FIELD_BOOSTS.items()]))
    extra = [t for e in expansions for t in query_terms(e) if t not in all_terms]
    for t in dict.fromkeys(extra):
        clauses.append(wq.Or([wq.Term(f, t, boost=b * 0.6) for f, b in FIELD_BOOSTS.items()]))
    if not clauses:
        return None, all_terms
    # scale rewards chunks that match more of the query's terms.
    return wq.Or(clauses, scale=0.9), all_terms


class KeywordIndex:
    def __init__(self, path: Path) -> None:
        self.ix = windex.open_dir(str(path))
        self._searcher = self.ix.searcher(weighting=BM25F(B=0.75, K1=1.2, title_B=0.3, aliases_B=0.3, headings_B=0.5))
        self._lock = threading.Lock()

    def search(self, q: wq.Query, limit: int = 100, department: str | None = None) -> list[tuple[int, float]]:
        """(chunk position, BM25F score), best first."""
        flt = wq.Term("department", department) if department else None
        with self._lock:
            results = self._searcher.search(q, limit=limit, filter=flt, terms=False)
            return [(int(hit["chunk"]), float(hit.score)) for hit in results]

    def doc_count(self) -> int:
        return self._searcher.doc_count()

    def close(self) -> None:
        self._searcher.close()
        self.ix.close()
