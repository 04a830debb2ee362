"""The keyword side: a Whoosh index of chunks, scored with BM25F.

Fields and their weights (applied as query-time boosts so they can be tuned
without reindexing):

- ``title`` x3: a word in the title is the strongest sign of what an article is about;
- ``aliases`` x2.5: other phrasings the owners chose, tags, synonyms (no positions);
- ``headings`` x2: the heading path of the chunk;
- ``body`` x1.

Bag-of-words queries are scored from the postings exported beside the Whoosh
segments (``postings.py``); phrase queries go to Whoosh, which keeps positions.
Where the files live is ``layout.KeywordLayout``'s business.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from whoosh import index as windex
from whoosh import query as wq
from whoosh.fields import ID, TEXT, Schema
from whoosh.scoring import BM25F

from . import postings
from .analysis import MultilingualTokenizer, normalize, terms
from .documents import Chunk
from .layout import KeywordLayout

FIELD_BOOSTS = {"title": 3.0, "aliases": 2.5, "headings": 2.0, "body": 1.0}
#: BM25F: short fields (title, aliases, headings) are normalised less for length.
BM25 = postings.Params(k1=1.2, b=0.75, field_b={"title": 0.3, "aliases": 0.3, "headings": 0.5})
#: Coordination bonus: chunks matching more of the query's terms rank higher.
COORDINATION = 0.9
#: Synonyms and aliases from synonyms.yml weigh less than the words typed.
SYNONYM_WEIGHT = 0.6
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


def build(files: KeywordLayout, chunks: Iterable[tuple[int, Chunk]]) -> None:
    """Write a new Whoosh index in ``files.dir`` holding ``(position, chunk)`` pairs."""
    if files.dir.exists():
        shutil.rmtree(files.dir)
    files.dir.mkdir(parents=True)
    ix = windex.create_in(str(files.dir), schema())
    writer = ix.writer(limitmb=256)
    for position, chunk in chunks:
        writer.add_document(**_fields(chunk, position))
    writer.commit()
    _export(ix, files)


def update(files: KeywordLayout, remove_articles: Iterable[str], add: Iterable[tuple[int, Chunk]]) -> None:
    """Delete every chunk of ``remove_articles`` and add new chunks, in place."""
    ix = windex.open_dir(str(files.dir))
    writer = ix.writer(limitmb=128)
    for article in remove_articles:
        writer.delete_by_term("article", article)
    for position, chunk in add:
        writer.add_document(**_fields(chunk, position))
    # Small segments would slow queries down over time; merging them is cheap here.
    writer.commit(merge=True)
    _export(ix, files)


def _export(ix: windex.Index, files: KeywordLayout) -> None:
    with ix.reader() as reader:
        postings.export(reader, tuple(FIELD_BOOSTS), files)


@dataclass
class KeywordQuery:
    """What a query looks for: terms with their weight (1, or less for synonyms) and phrases."""

    terms: dict[str, float] = field(default_factory=dict)
    phrases: list[list[str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.terms or self.phrases)

    def all_terms(self) -> set[str]:
        return set(self.terms) | {t for p in self.phrases for t in p}

    def whoosh(self) -> wq.Query:
        """The same query for Whoosh's own searcher (phrases need its positions).

        Quoted parts are phrases on fields that keep positions and plain
        conjunctions on those that do not, so a phrase never fails on a
        field without positions.
        """
        clauses: list[wq.Query] = []
        for phrase in self.phrases:
            per_field = [
                wq.Phrase(f, phrase, boost=b * 1.5) if f in POSITIONAL else wq.And([wq.Term(f, t) for t in phrase], boost=b)
                for f, b in FIELD_BOOSTS.items()
            ]
            clauses.append(wq.Or(per_field))
        for t, w in self.terms.items():
            clauses.append(wq.Or([wq.Term(f, t, boost=b * w) for f, b in FIELD_BOOSTS.items()]))
        return wq.Or(clauses, scale=COORDINATION)


def build_query(text: str, expansions: Iterable[str] = ()) -> KeywordQuery:
    """The keyword query for ``text``: its terms, quoted phrases, and ``expansions``
    (synonyms) at a lower weight."""
    text = normalize(text)
    q = KeywordQuery()
    quoted = [terms(next(g for g in m.groups() if g)) for m in _PHRASE.finditer(text)]
    q.phrases = [p for p in quoted if len(p) > 1]
    for t in terms(_PHRASE.sub(" ", text)) + [t for p in quoted for t in p]:
        q.terms.setdefault(t, 1.0)
    for e in expansions:
        for t in terms(e):
            q.terms.setdefault(t, SYNONYM_WEIGHT)
    return q


class KeywordIndex:
    """A keyword index opened for reading (opening it never writes a file)."""

    def __init__(self, files: KeywordLayout) -> None:
        self.ix = windex.open_dir(str(files.dir))
        field_b = {f"{f}_B": b for f, b in BM25.field_b.items()}
        self._searcher = self.ix.searcher(weighting=BM25F(B=BM25.b, K1=BM25.k1, **field_b))
        self._lock = threading.Lock()
        if postings.exported(files):
            data = postings.load(files)
        else:  # an index written before the export existed: the same arrays, in memory
            data = postings.collect(self._searcher.reader(), tuple(FIELD_BOOSTS))
        self.scorer = postings.PostingsScorer(data, FIELD_BOOSTS, BM25)

    def search(self, q: KeywordQuery, limit: int = 100, department: str | None = None) -> list[tuple[int, float]]:
        """(chunk position, BM25F score), best first."""
        if not q:
            return []
        if not q.phrases:
            return self.scorer.search(q.terms, limit, department, scale=COORDINATION)
        return self.whoosh_search(q, limit, department)

    def doc_freq(self, term: str) -> int:
        """How many chunks hold ``term`` (an index term, as ``terms`` makes them)."""
        return self.scorer.doc_freq(term)

    @property
    def size(self) -> int:
        """Chunks in the index."""
        return self.scorer.n

    def whoosh_search(self, q: KeywordQuery, limit: int = 100, department: str | None = None) -> list[tuple[int, float]]:
        """The same search through Whoosh's own matchers (slow; needed for phrases)."""
        flt = wq.Term("department", department) if department else None
        with self._lock:
            results = self._searcher.search(q.whoosh(), limit=limit, filter=flt, terms=False)
            return [(int(hit["chunk"]), float(hit.score)) for hit in results]

    def close(self) -> None:
        self._searcher.close()
        self.ix.close()
