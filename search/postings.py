"""BM25F over the Whoosh index's postings, scored as whole arrays.

Whoosh walks posting lists one document at a time in Python: a Japanese
question becomes 20-40 (field, bigram) matchers and took 100-300 ms on the
GitLab handbook. The same postings, exported once per build as
term-ordered arrays, score a query with two ``numpy.bincount`` calls in
about a millisecond.

The scores are Whoosh's own: per-field BM25 with Whoosh's idf
(``log(N / (df + 1)) + 1``), its per-field ``B``, its byte-quantised field
lengths, the field boosts of the query, and the coordination bonus of an
``Or(..., scale=...)`` (Whoosh's ``CoordMatcher``). ``tests/test_search_postings.py``
checks the two agree on real queries, so fusion weights measured with one
hold for the other. Phrase queries still go to Whoosh, which keeps positions.

The export is written next to the Whoosh segment files (``KeywordLayout``)
and rewritten by every full or incremental build; for an index built before
the export existed, the same arrays are collected in memory when it is opened.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from whoosh.reading import IndexReader

from .layout import KeywordLayout


def idf(doc_freq: int, size: int) -> float:
    """A term's rarity in an index of ``size`` chunks, as the answer evidence and the re-ranker
    weigh query words (smoothed: a term the index lacks is the rarest, never infinite)."""
    return math.log(1.0 + size / (doc_freq + 1.0))

VERSION = 1  # of the export's layout


def exported(files: KeywordLayout) -> bool:
    """Whether ``files`` holds an export this code can read."""
    try:
        meta = json.loads(files.postings_terms.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return meta.get("version") == VERSION and files.postings.exists()


@dataclass
class Export:
    """The postings of some fields as arrays (``arrays``) and their terms and departments (``meta``)."""

    arrays: dict[str, np.ndarray]
    meta: dict


@dataclass(frozen=True)
class Params:
    """BM25F parameters: ``K1``, the default ``B``, and ``B`` per field."""

    k1: float
    b: float
    field_b: Mapping[str, float]

    def b_for(self, field: str) -> float:
        return self.field_b.get(field, self.b)


def collect(reader: IndexReader, fields: tuple[str, ...]) -> Export:
    """Every posting of ``fields`` as term-ordered arrays."""
    n = reader.doc_count_all()
    vocab: dict[str, int] = {}
    arrays: dict[str, np.ndarray] = {}
    # Segment by segment: a multi-segment reader (after an incremental update)
    # looks every term up in every segment, three times slower.
    leaves = reader.leaf_readers()
    for field in fields:
        arrays.update(_field_arrays(reader, leaves, field, vocab))
    stored = [reader.stored_fields(d) for d in range(n)]
    departments = sorted({s.get("department", "-") for s in stored})
    arrays["position"] = np.asarray([int(s["chunk"]) for s in stored], dtype=np.int32)
    arrays["department"] = np.asarray([departments.index(s.get("department", "-")) for s in stored], dtype=np.int32)
    terms = sorted(vocab, key=vocab.__getitem__)
    return Export(arrays, {"version": VERSION, "terms": terms, "departments": departments})


def _field_arrays(reader: IndexReader, leaves: list, field: str, vocab: dict[str, int]) -> dict[str, np.ndarray]:
    term_ids: list[int] = []
    docs: list[int] = []
    tfs: list[float] = []
    dfs: dict[int, int] = {}
    for leaf, offset in leaves:
        for btext, info in leaf.iter_field(field):
            tid = vocab.setdefault(btext.decode("utf-8"), len(vocab))
            # Whoosh's document frequency still counts deleted documents until a
            # merge drops them; the postings below no longer list them.
            dfs[tid] = dfs.get(tid, 0) + info.doc_frequency()
            m = leaf.postings(field, btext)
            while m.is_active():
                term_ids.append(tid)
                docs.append(m.id() + offset)
                tfs.append(m.weight())
                m.next()
    # Whoosh scores with the byte-quantised length (default 1), and the exact total.
    lengths = [leaf.doc_field_length(d, field, 1) for leaf, _ in leaves for d in range(leaf.doc_count_all())]
    return {
        f"{field}.term": np.asarray(term_ids, dtype=np.int32),
        f"{field}.doc": np.asarray(docs, dtype=np.int32),
        f"{field}.tf": np.asarray(tfs, dtype=np.float32),
        f"{field}.lexicon": np.asarray(list(dfs), dtype=np.int32),
        f"{field}.df": np.asarray(list(dfs.values()), dtype=np.float64),
        f"{field}.length": np.asarray(lengths, dtype=np.float32),
        f"{field}.total": np.asarray(reader.field_length(field), dtype=np.float64),
    }


def export(reader: IndexReader, fields: tuple[str, ...], files: KeywordLayout) -> None:
    """Write every posting of ``fields`` as term-ordered arrays beside the Whoosh index."""
    data = collect(reader, fields)
    # Each file written aside and renamed into place: a Searcher may be loading
    # the export of the build it serves.
    tmp = files.dir / f".{files.postings.name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **data.arrays)
    os.replace(tmp, files.postings)
    # Written last: ``exported()`` only trusts an export whose metadata made it to disk.
    meta = files.dir / f".{files.postings_terms.name}.{os.getpid()}.tmp"
    meta.write_text(json.dumps(data.meta, ensure_ascii=False), encoding="utf-8")
    os.replace(meta, files.postings_terms)


def load(files: KeywordLayout) -> Export:
    """An export as written by ``export``."""
    meta = json.loads(files.postings_terms.read_text(encoding="utf-8"))
    with np.load(files.postings) as z:
        return Export({k: z[k] for k in z.files}, meta)


class PostingsScorer:
    """Scores bag-of-words queries (term -> query weight) like Whoosh's BM25F."""

    def __init__(self, data: Export, boosts: Mapping[str, float], params: Params) -> None:
        self.vocab = {t: i for i, t in enumerate(data.meta["terms"])}
        self.departments = {d: i for i, d in enumerate(data.meta["departments"])}
        z = data.arrays
        self.position = z["position"]
        self.department = z["department"]
        n = len(self.position)
        v = len(self.vocab)
        terms, docs, weights = [], [], []
        #: in how many fields each term occurs (Whoosh counts one matcher per field)
        self.fields_with = np.zeros(v, dtype=np.int32)
        #: chunks holding each term in its commonest field: a lower bound of its chunk
        #: frequency, read by the answerability evidence (a union over fields would
        #: cost a sort of every posting at load time)
        self.df = np.zeros(v, dtype=np.int32)
        for field, boost in boosts.items():
            t, d, tf = z[f"{field}.term"], z[f"{field}.doc"], z[f"{field}.tf"]
            df = np.zeros(v)
            df[z[f"{field}.lexicon"]] = z[f"{field}.df"]
            idf = np.log(n / (df + 1.0)) + 1.0
            avgfl = float(z[f"{field}.total"]) / (n or 1) or 1.0
            fl = z[f"{field}.length"][d]
            b = params.b_for(field)
            w = idf[t] * (tf * (params.k1 + 1)) / (tf + params.k1 * ((1 - b) + b * fl / avgfl)) * boost
            terms.append(t)
            docs.append(d)
            weights.append(w.astype(np.float32))
            self.fields_with += (df > 0).astype(np.int32)
            np.maximum(self.df, df.astype(np.int32), out=self.df)
        term = np.concatenate(terms) if terms else np.zeros(0, dtype=np.int32)
        order = np.argsort(term, kind="stable")
        self.doc = np.concatenate(docs)[order] if docs else np.zeros(0, dtype=np.int32)
        self.weight = np.concatenate(weights)[order] if weights else np.zeros(0, dtype=np.float32)
        self.start = np.searchsorted(term[order], np.arange(v + 1)).astype(np.int64)
        self.n = len(self.position)

    def doc_freq(self, term: str) -> int:
        """How many chunks hold ``term`` (in its commonest field; 0: the index lacks it)."""
        i = self.vocab.get(term)
        return 0 if i is None else int(self.df[i])

    def search(
        self, query: Mapping[str, float], limit: int, department: str | None = None, scale: float | None = None
    ) -> list[tuple[int, float]]:
        """(chunk position, score) of the best ``limit`` chunks, best first."""
        ids = [(self.vocab[t], w) for t, w in query.items() if t in self.vocab]
        if not ids:
            return []
        spans = [(int(self.start[i]), int(self.start[i + 1]), w) for i, w in ids]
        docs = np.concatenate([self.doc[a:b] for a, b, _ in spans])
        weights = np.concatenate([self.weight[a:b] * w for a, b, w in spans])
        scores = np.bincount(docs, weights=weights, minlength=self.n)
        matched = np.bincount(docs, minlength=self.n)
        # Whoosh's CoordMatcher ("SQR" short-query ranking): favour chunks that
        # match more of the query's (field, term) pairs. With a single pair Whoosh
        # scores every chunk 0; plain BM25 ranks them better.
        count = int(sum(self.fields_with[i] for i, _ in ids))
        if scale is not None and count > 1:
            scores = (scores + (matched - 1) / (count - scale) ** 2) * ((count - 1) / count)
        ok = matched > 0  # postings never list deleted documents
        if department is not None:
            ok &= self.department == self.departments.get(department, -1)
        candidates = np.flatnonzero(ok)
        if len(candidates) > limit:
            candidates = candidates[np.argpartition(-scores[candidates], limit - 1)[:limit]]
        best = candidates[np.lexsort((candidates, -scores[candidates]))]
        return [(int(self.position[d]), float(scores[d])) for d in best]
