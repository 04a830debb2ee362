"""Whether a search answered the question, from calibrated evidence.

A ranking always has a first result, so "the top hit" says nothing about
whether the handbook answers. Three signals do, and each is on a scale that
means the same on every corpus (unlike BM25 scores, which grow with the
query's length and the corpus's statistics):

- ``similarity``: the best raw cosine similarity between the query and a
  chunk, from the models that read the query's language, rescaled by each
  model's noise floor (its profile's ``min_similarity``) to 0..1.
- ``coverage``: the share of the query's own terms found in one of the
  keyword side's best chunks. "pet insurance" over a benefits handbook finds
  "insurance" but never "pet": coverage 0.5.
- ``agree``: the keyword ranking and a model's ranking share an article in
  their top 3: two unrelated ways of reading agree on where the answer is.

The decision is a small rule with three thresholds, fitted leave-one-corpus-out
(benchmarks/loo.py) to catch as many unanswerable questions as possible while
marking at most ~3% of answerable ones unanswered on the fitting corpora
(the target is 5% on held-out ones). ``THRESHOLDS`` is the fit on every measured dev corpus.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

from .analysis import terms
from .bridge import lang_group
from .documents import Chunk
from .embedders import Profile
from .fusion import Ranking
from .query import QueryInfo

NOTHING_MATCHED = "nothing_matched"
WEAK_MATCHES = "weak_matches"
COVERAGE_CHUNKS = 3  # keyword chunks whose terms are checked against the query
AGREE_DEPTH = 3  # top articles compared between the keyword side and a model
#: Below this share of chunks in the query's language group, the query's own words cannot be
#: expected in the index (a Korean question over an English handbook).
FOREIGN_SHARE = 0.1
MARGIN_RANK = 5  # the margin compares the best chunk's similarity with this rank's
#: Share of answerable questions the fit may mark unanswered on its own corpora.
FIT_MAX_WRONG = 0.03


@dataclass(frozen=True)
class Evidence:
    similarity: float  # 0..1: best cosine above the model's floor, rescaled
    coverage: float  # 0..1: share of the query's terms in a top keyword chunk
    agree: bool
    rare_coverage: float = 1.0  # 0..1: the same share, each term weighted by its rarity (idf)
    unknown: float = 0.0  # 0..1: idf-weighted share of the query's terms the index lacks entirely
    margin: float = 0.0  # best minus 5th similarity of the model that matched best, rescaled
    models_agree: bool = False  # two models reading the query share a top-3 article
    cross: bool = False  # the best model match is in another script/language group than the query
    missing: float = 0.0  # 0..1: rarity of the rarest indexed query term no top keyword chunk has
    foreign: bool = False  # the index has few chunks in the query's language group


@dataclass(frozen=True)
class Thresholds:
    strong: float  # this similarity alone answers
    weak: float  # this similarity answers when the keyword side agrees or covers the query
    coverage: float

    def __str__(self) -> str:
        return f"strong={self.strong:.2f} weak={self.weak:.2f} coverage={self.coverage:.2f}"


@dataclass(frozen=True)
class Decision:
    answered: bool
    reason: str | None = None  # NOTHING_MATCHED or WEAK_MATCHES when not answered


#: Fitted with benchmarks/loo.py on the 18F, bundled, skt-ko and sustech-zh dev sets (GitLab-ja not
#: measured: its index did not finish building on the shared machine); see benchmarks/README.md.
THRESHOLDS = Thresholds(strong=0.22, weak=0.14, coverage=0.50)


def _rescaled(score: float, floor: float) -> float:
    return max(0.0, (score - floor) / max(1e-6, 1.0 - floor))


def evidence(
    info: QueryInfo, rankings: Sequence[Ranking], chunks: Sequence[Chunk | None], profiles: Mapping[str, Profile],
    doc_freq: Callable[[str], int] | None = None, size: int = 0, native_share: float = 1.0,
) -> Evidence:
    """The evidence in one query's rankings (the query as read, not bridge translations).

    ``doc_freq``/``size``: the keyword index's chunk frequency of a term and its chunk count
    (without them every term weighs the same and none counts as unknown); ``native_share``: the
    share of the index's chunks in the query's language group."""
    wanted = list(dict.fromkeys(terms(info.text)))
    weight = _rarity(wanted, doc_freq, size)
    known = {t for t in wanted if doc_freq is None or doc_freq(t) > 0}
    kw = next((r for r in rankings if r.name == "keyword"), None)
    coverage, rare, missing = _keyword_side(kw, chunks, wanted, weight, known) if kw else (0.0, 0.0, 0.0)
    keyword_top = _top_articles(kw, chunks) if kw else []
    best: tuple[float, float, Ranking] | None = None  # similarity, margin, ranking
    model_tops: list[list[str]] = []
    for r in rankings:
        if r.name in profiles and r.items:
            floor = profiles[r.name].min_similarity
            sim = _rescaled(r.items[0][1], floor)
            fifth = _rescaled(r.items[min(MARGIN_RANK, len(r.items)) - 1][1], floor)
            if best is None or sim > best[0]:
                best = (sim, sim - fifth, r)
            model_tops.append(_top_articles(r, chunks))
    agree = any(set(keyword_top) & set(top) for top in model_tops)
    models_agree = any(set(a) & set(b) for i, a in enumerate(model_tops) for b in model_tops[i + 1:])
    foreign = native_share < FOREIGN_SHARE
    # A query in a language the index barely has has no words in it: "unknown" says nothing then.
    unknown = 0.0 if foreign else sum(w for t, w in weight.items() if t not in known) / (sum(weight.values()) or 1.0)
    similarity, margin, cross = 0.0, 0.0, False
    if best is not None:
        similarity, margin = best[0], best[1]
        top = chunks[best[2].items[0][0]]
        cross = top is not None and lang_group(top.lang) != lang_group(info.lang)
    return Evidence(
        round(similarity, 4), round(coverage, 4), agree, round(rare, 4), round(unknown, 4),
        round(margin, 4), models_agree, cross, round(missing, 4), foreign,
    )


def _keyword_side(
    r: Ranking, chunks: Sequence[Chunk | None], wanted: list[str], weight: Mapping[str, float], known: set[str]
) -> tuple[float, float, float]:
    """Coverage, rarity-weighted coverage, and the rarity (0..1) of the rarest indexed query
    term that none of the keyword side's best chunks has."""
    coverage = rare = 0.0
    total = sum(weight.values()) or 1.0
    seen: set[str] = set()
    for pos, _ in r.items[:COVERAGE_CHUNKS]:
        c = chunks[pos]
        if c is not None and wanted:
            have = set(wanted) & set(terms(f"{c.title} {c.heading} {c.text} {c.aliases}"))
            seen |= have
            coverage = max(coverage, len(have) / len(wanted))
            rare = max(rare, sum(weight[t] for t in have) / total)
    top = max(weight.values(), default=1.0)
    rarest = max((weight[t] for t in known - seen), default=0.0)
    return coverage, rare, rarest / top if known - seen else 0.0


def _rarity(wanted: Sequence[str], doc_freq: Callable[[str], int] | None, size: int) -> dict[str, float]:
    """Each query term's weight: its idf in the index, so a rare word counts for more than
    a common one; a word the index lacks weighs as the rarest."""
    if doc_freq is None or size <= 0:
        return dict.fromkeys(wanted, 1.0)
    return {t: math.log(1.0 + size / (doc_freq(t) + 1.0)) for t in wanted}


def _top_articles(r: Ranking, chunks: Sequence[Chunk | None]) -> list[str]:
    out: list[str] = []
    for pos, _ in r.items:
        c = chunks[pos]
        if c is not None and c.doc_id not in out:
            out.append(c.doc_id)
            if len(out) == AGREE_DEPTH:
                break
    return out


#: The features a ``Model`` may weigh, each 0..1 (booleans as 0/1).
FEATURES = (
    "similarity", "coverage", "rare_coverage", "unknown", "margin", "agree", "models_agree", "cross", "cross_similarity",
    "missing", "foreign", "foreign_similarity",
)


@dataclass(frozen=True)
class Model:
    """A linear score over some features: answered when it is at least 0."""

    weights: tuple[tuple[str, float], ...]
    bias: float

    def score(self, ev: Evidence) -> float:
        return self.bias + sum(w * _feature(ev, name) for name, w in self.weights)

    def __str__(self) -> str:
        return " ".join(f"{n}={w:+.2f}" for n, w in self.weights) + f" bias={self.bias:+.2f}"


def _feature(ev: Evidence, name: str) -> float:
    if name == "cross_similarity":
        return ev.similarity if ev.cross else 0.0
    if name == "foreign_similarity":
        return ev.similarity if ev.foreign else 0.0
    return float(getattr(ev, name))


def decide(ev: Evidence | None, t: Thresholds = THRESHOLDS, model: Model | None = None) -> Decision:
    """Answered, or why not: nothing matched at all (no results are shown), or only weak matches."""
    if ev is None:
        return Decision(False, NOTHING_MATCHED)
    if model is not None:
        if model.score(ev) >= 0:
            return Decision(True)
    elif ev.similarity >= t.strong:
        return Decision(True)
    elif ev.similarity >= t.weak and (ev.agree or ev.coverage >= t.coverage):
        return Decision(True)
    if ev.coverage == 0 and not ev.agree:
        # No word of the query in the keyword side's best chunks, and the models
        # found nothing close: what they return is the nearest noise.
        return Decision(False, NOTHING_MATCHED)
    return Decision(False, WEAK_MATCHES)


def fit_model(
    examples: Iterable[tuple[Evidence | None, bool]], names: Sequence[str], max_wrong: float = FIT_MAX_WRONG,
    ridge: float = 0.1,
) -> Model:
    """A logistic regression on ``names`` (classes weighed equally, a little ridge), its
    cut then moved so that at most ``max_wrong`` of the answerable examples score below it."""
    data = [(e, ok) for e, ok in examples if e is not None]
    x = np.array([[_feature(e, n) for n in names] + [1.0] for e, _ in data])
    y = np.array([1.0 if ok else 0.0 for _, ok in data])
    sample = np.where(y == 1, 0.5 / max(1, y.sum()), 0.5 / max(1, (1 - y).sum()))
    w = np.zeros(x.shape[1])
    penalty = ridge * np.eye(x.shape[1]) / len(y)
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(50):  # Newton steps: a handful of features converge in a few
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (sample * (p - y)) + penalty @ w
        hess = (x * (sample * p * (1 - p))[:, None]).T @ x + penalty + 1e-9 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    scores = np.sort(x[y == 1] @ w)
    cut = scores[int(max_wrong * len(scores))] if len(scores) else 0.0
    return Model(tuple((n, round(float(v), 4)) for n, v in zip(names, w[:-1], strict=True)), round(float(w[-1] - cut), 4))


def fit(examples: Iterable[tuple[Evidence | None, bool]], max_wrong: float = FIT_MAX_WRONG) -> Thresholds:
    """The thresholds that catch most unanswerable examples while marking at most
    ``max_wrong`` of the answerable ones unanswered (ties: fewer wrong, then lower thresholds)."""
    data = list(examples)
    answerable = [e for e, ok in data if ok]
    unanswerable = [e for e, ok in data if not ok]
    grid = [i / 100 for i in range(0, 81, 2)]
    best: tuple[float, float, Thresholds] | None = None
    for strong, weak, cov in product(grid, grid, (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.01)):
        if weak > strong:
            continue
        t = Thresholds(strong, weak, cov)
        wrong = sum(1 for e in answerable if not decide(e, t).answered) / max(1, len(answerable))
        if wrong > max_wrong:
            continue
        caught = sum(1 for e in unanswerable if not decide(e, t).answered) / max(1, len(unanswerable))
        key = (caught, -wrong, t)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else THRESHOLDS
