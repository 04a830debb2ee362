"""Re-rank the fused top articles with every signal the search already has.

Fusion (fusion.py) ranks by one number, the mean of the readers' calibrated
votes. What it cannot see: *which* words matched (a rare exact term such as a
vendor's name in an article's title, against common words everywhere), how
many readers agree, how far ahead each reader put an article, and that a long
page has more chances of one good chunk. The re-ranker scores each of the
fused top ``DEPTH`` families, and any other family a direct reader put in its
top ``READER_TOP``, with a linear model over ``FEATURES`` and reorders them;
everything below stays as fused, and a family's versions stay together in
their fused order (the service shows the reader's version).

Features of a family (the best over its versions): the fused score relative to
the first, 1/fused rank; per reader (``READERS``) its calibrated vote
(``Fused.votes``) and 1/its article rank (0 when it did not list it); how many
direct readers have it in their top 3; the idf-weighted share of the query's
terms in its title and aliases, and anywhere in it (the keyword postings), and
the rarest such term's idf relative to the query's rarest; whether a version is
in the query's language; log of its chunk count.

``RERANK`` is a pairwise logistic fit (each answering family against every
other candidate of its question; every corpus and every question weighs the
same), ridge chosen by leave-one-corpus-out within the fitting corpora, on
hit@5 + MRR@10 (benchmarks/rerank_fit.py). Held out (fitted on the other four;
2026-12-04, session 8, fusion with the bridge cap), fused -> re-ranked, hit@5 / MRR@10:

    18F        0.922 / 0.812 -> 0.941 / 0.812   (Korean 0.80 -> 0.88 = USE alone, Chinese 0.84 -> 0.92)
    GitLab-ja  0.876 / 0.735 -> 0.886 / 0.753   (Japanese 0.843 -> 0.857)
    bundled    1.000 / 0.911 -> 1.000 / 0.953
    skt-ko     0.950 / 0.660 -> 1.000 / 0.730
    sustech-zh 0.975 / 0.879 -> 1.000 / 0.896

Mean held-out gain +0.021 hit@5, +0.029 MRR@10 (reciprocal rank better for 66
questions, worse for 33: sign test p = 0.001); the largest loss is under one
question (noise is 1/n: 0.005 of 18F, 0.025 of
skt-ko, 0.04 of one 18F language). Measured and not kept (same table): without
the length feature +0.011 / +0.029 (18F Japanese loses a question, skt-ko MRR
0.732 -> 0.709: long pages win on coverage); weighing each pair by its change
of reciprocal rank (LambdaRank) -0.008 / +0.004 at ridge 0.001; pairs only
against the fused top 5 (-0.007 hit@5) or 10; depth 10 or 30; only the fused
score with the term features and agreement (+0.004 / +0.011); the share of the query's
terms in the linked section as well (+0.018 / +0.026: the same); the title and
body shares relative to the best candidate's (+0.017 / +0.014). A fixed ridge
from 0.0003 to 0.002 gives +0.005..+0.019 / +0.026..+0.030. Cost: 0.2-0.3 ms
per query (18F p50 / p95: a Python loop over about 20 families).

Measured and not kept, 2026-12-04 (session 8): ``cited``, how strongly the
other candidates link to a family (``_citations``; ``Lexicon.links``, filled
only by ``rerank_fit.py --links``). GitLab-ja's misses are per-country pages
ranked above the general policy each of them links to ("病気休暇は年間何日まで
有給で使えますか": Ireland, Israel, New Zealand... above Time Off types, 11th).
Held out it lifts GitLab-ja 0.876 / 0.748 -> 0.933 / 0.791 (Japanese 0.857 ->
0.914), sustech-zh MRR 0.895 -> 0.904, skt-ko 0.732 -> 0.736, but 18F loses two
questions at hit@5 (0.941 -> 0.932; Korean 0.88 -> 0.84, below USE alone), skt-ko
Korean MRR 0.778 -> 0.753 and bundled Japanese MRR 1.000 -> 0.975: a gain on one
corpus held out against a loss on another, so ``RERANK`` does not use it and the
build does not record links. Nor did features of an article's place in the tree
of pages (an index page with child pages, a page above or below another
candidate, siblings among the candidates, a title term no sibling's title has,
named by the question or not): every one lost a question somewhere held out
(benchmarks/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .analysis import terms
from .documents import Chunk
from .fusion import Fused, families
from .postings import PostingsScorer, idf
from .query import QueryInfo

DEPTH = 20  # families re-ranked; below them the fused order stays
#: A family one reader put this high is re-ranked too, wherever fusion left it: a rare exact
#: term only the keyword side found is diluted by the mean over readers that found nothing.
READER_TOP = 3
AGREE_TOP = 3  # a reader "agrees" on an article it has in its top 3
#: The retrievers whose votes and ranks are features (others are ignored: a model added
#: later has no fitted weight until the fit is rerun).
READERS = ("keyword", "minilm", "use-m3", "keyword~", "minilm~")
#: Every feature ``features`` computes, in the fit's order.
FEATURES = (
    "fused", "fused_rr", *(f"{n}{s}" for n in READERS for s in ("", "_rr")), "agree",
    "title_cover", "body_cover", "title_rarest", "body_rarest", "native", "length",
)
#: Computed too, but not in ``RERANK``: measured held out and not kept (the module docstring).
MEASURED = ("cited",)


class Lexicon:
    """What the re-ranker reads of the index besides the rankings: each article's title
    terms, language, and which articles hold a term anywhere (from the keyword postings)."""

    def __init__(self, chunks: Sequence[Chunk | None], doc_freq: Callable[[str], int], size: int,
                 postings: PostingsScorer | None = None, links: Mapping[str, frozenset[str]] | None = None) -> None:
        self.doc_freq = doc_freq
        self.size = size
        self.ids: dict[str, int] = {}
        self.title: dict[str, frozenset[str]] = {}
        self.lang: dict[str, str] = {}
        self.size_of: dict[str, int] = {}  # chunks per article
        article_of = np.full(len(chunks), -1, dtype=np.int32)
        for pos, c in enumerate(chunks):
            if c is None:
                continue
            idx = self.ids.setdefault(c.doc_id, len(self.ids))
            article_of[pos] = idx
            self.size_of[c.doc_id] = self.size_of.get(c.doc_id, 0) + 1
            if c.doc_id not in self.title or c.kind == "title":
                self.title[c.doc_id] = frozenset(terms(f"{c.title} {c.aliases if c.kind == 'title' else ''}"))
                self.lang[c.doc_id] = c.lang
        self._postings = postings
        #: article -> the articles it links to; only benchmarks/rerank_fit.py --links fills it
        #: (the build does not record links: ``cited`` is not in use)
        self.links: Mapping[str, frozenset[str]] = links or {}
        # Whoosh document number -> article number, for reading posting lists.
        self._doc_article = article_of[postings.position] if postings is not None else None

    def articles_with(self, term: str) -> np.ndarray:
        """The numbers (``ids``) of the articles with ``term`` in any chunk, any field."""
        p = self._postings
        if p is None or self._doc_article is None:
            return np.zeros(0, dtype=np.int32)
        i = p.vocab.get(term)
        if i is None:
            return np.zeros(0, dtype=np.int32)
        return self._doc_article[p.doc[p.start[i]:p.start[i + 1]]]

    def idf(self, term: str) -> float:
        return idf(self.doc_freq(term), self.size)


@dataclass(frozen=True)
class Model:
    """A linear score over named features; families are re-ranked by it."""

    weights: tuple[tuple[str, float], ...]

    def score(self, x: Mapping[str, float]) -> float:
        return sum(w * x.get(n, 0.0) for n, w in self.weights)


def candidates(groups: Sequence[list[Fused]], depth: int = DEPTH, reader_top: int = READER_TOP) -> list[int]:
    """Which families are re-ranked (their indices in ``groups``): the fused top ``depth``, and
    any other that one direct reader (not a bridge reading) has in its top ``reader_top``."""
    out = list(range(min(depth, len(groups))))
    for i in range(depth, len(groups)):
        if any(r <= reader_top for f in groups[i] for n, r in f.sources.items() if not n.endswith("~")):
            out.append(i)
    return out


def _query_terms(info: QueryInfo, lex: Lexicon) -> dict[str, float]:
    return {t: lex.idf(t) for t in dict.fromkeys(terms(info.text))}


def _in_bodies(groups: Sequence[list[Fused]], wanted: Mapping[str, float], lex: Lexicon) -> list[set[str]]:
    """The query terms each family holds anywhere: one pass over each term's postings through
    a mask of the candidates (no sort: a common bigram lists thousands of chunks)."""
    cand = {lex.ids[f.article]: i for i, g in enumerate(groups) for f in g if f.article in lex.ids}
    mask = np.zeros(len(lex.ids), dtype=bool)
    mask[list(cand)] = True
    out: list[set[str]] = [set() for _ in groups]
    for t in wanted:
        found = lex.articles_with(t)
        for a in set(found[mask[found]].tolist()):
            out[cand[a]].add(t)
    return out


def _readers(g: list[Fused], x: dict[str, float]) -> None:
    """Each reader's best vote and best article rank over the family's versions, and how many
    direct readers have the family in their top ``AGREE_TOP``."""
    votes: dict[str, float] = {}
    placed: dict[str, int] = {}
    for f in g:
        for n, v in f.votes.items():
            votes[n] = max(votes.get(n, 0.0), v)
        for n, r in f.sources.items():
            placed[n] = min(placed.get(n, r), r)
    for name in READERS:
        x[name] = votes.get(name, 0.0)
        x[name + "_rr"] = 1.0 / placed[name] if name in placed else 0.0
    x["agree"] = float(sum(1 for n, r in placed.items() if r <= AGREE_TOP and not n.endswith("~")))


def features(groups: Sequence[list[Fused]], info: QueryInfo, lex: Lexicon, ranks: Sequence[int] | None = None
             ) -> list[dict[str, float]]:
    """One feature dict per family of ``groups``; ``ranks``: each one's 0-based fused rank
    (default: their order)."""
    if not groups:
        return []
    wanted = _query_terms(info, lex)
    total = sum(wanted.values()) or 1.0
    top_idf = max(wanted.values(), default=1.0) or 1.0
    in_body = _in_bodies(groups, wanted, lex)
    best = groups[0][0].score or 1.0
    out = []
    for i, g in enumerate(groups):
        rank = ranks[i] if ranks is not None else i
        x: dict[str, float] = {"fused": g[0].score / best, "fused_rr": 1.0 / (rank + 1)}
        _readers(g, x)
        title = lex.title.get(g[0].article, frozenset()) if len(g) == 1 else frozenset().union(
            *(lex.title.get(f.article, frozenset()) for f in g))
        in_title = [wanted[t] for t in wanted if t in title]
        in_text = [wanted[t] for t in in_body[i]]
        x["title_cover"] = sum(in_title) / total
        x["body_cover"] = sum(in_text) / total
        x["title_rarest"] = max(in_title, default=0.0) / top_idf
        x["body_rarest"] = max(in_text, default=0.0) / top_idf
        x["native"] = float(any(lex.lang.get(f.article) == info.lang for f in g))
        x["length"] = math.log1p(max(lex.size_of.get(f.article, 0) for f in g)) / 4.0
        out.append(x)
    if lex.links:
        _citations(groups, lex, out)
    return out


def _citations(groups: Sequence[list[Fused]], lex: Lexicon, xs: list[dict[str, float]]) -> None:
    """``cited``: how strongly the other candidates link to a family, log(1 + the sum of the
    squared relative fused scores of the candidate families with a link to it). Per-country
    pages that outrank the general policy point to it ("GitLab Ireland Ltd" to Time Off types)."""
    family = {f.article: i for i, g in enumerate(groups) for f in g}
    citers: list[set[int]] = [set() for _ in groups]
    for i, g in enumerate(groups):
        for f in g:
            for target in lex.links.get(f.article, ()):
                j = family.get(target)
                if j is not None and j != i:
                    citers[j].add(i)
    for x, by in zip(xs, citers, strict=True):
        x["cited"] = math.log1p(sum(xs[j]["fused"] ** 2 for j in by)) / 2.0


def rerank(fused: list[Fused], info: QueryInfo, lex: Lexicon, family_of: Callable[[str], str],
           model: Model | None = None, depth: int = DEPTH) -> list[Fused]:
    """``fused`` with its top ``depth`` families reordered by ``model`` (default ``RERANK``).

    Scores stay best first on the fusion's scale: the family now at rank k gets the fused
    score rank k had (a result's score is what a reader and ``kb search`` see next to it)."""
    model = model or RERANK
    if not model.weights or len(fused) < 2:
        return fused
    groups = families(fused, family_of)
    picked = candidates(groups, depth)
    xs = features([groups[i] for i in picked], info, lex, picked)
    scores = [model.score(x) for x in xs]
    order = sorted(range(len(picked)), key=lambda k: (-scores[k], k))
    chosen = set(picked)
    ranked = [groups[picked[k]] for k in order] + [g for i, g in enumerate(groups) if i not in chosen]
    out = []
    for g, old in zip(ranked, groups, strict=True):
        at = old[0].score
        out += g if g[0].score == at else [replace(f, score=at) for f in g]
    return out


#: Fitted with benchmarks/rerank_fit.py on the 18F, GitLab-ja, bundled, skt-ko and sustech-zh dev sets
#: (2026-12-04, session 8, after the bridge cap in fusion.py; ridge 0.001, chosen by leave-one-corpus-out
#: within them on hit@5 + MRR@10); see benchmarks/README.md.
RERANK = Model((
    ("fused", 2.624), ("fused_rr", 0.742), ("keyword", 0.092), ("keyword_rr", -0.419), ("minilm", 0.279),
    ("minilm_rr", 0.710), ("use-m3", 1.062), ("use-m3_rr", 0.988), ("keyword~", 0.126), ("keyword~_rr", 0.523),
    ("minilm~", 0.405), ("minilm~_rr", 1.013), ("agree", 0.519), ("title_cover", 0.191), ("body_cover", 2.369),
    ("title_rarest", 1.456), ("body_rarest", 0.919), ("native", -0.693), ("length", -1.599),
))
