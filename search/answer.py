"""Whether a search answered the question, from calibrated evidence.

A ranking always has a first result, so "the top hit" says nothing about
whether the handbook answers. The evidence (``Evidence``) is on scales that
mean the same on every corpus (unlike BM25 scores, which grow with the
query's length and the corpus's statistics):

- ``similarity``: the best raw cosine between the query and a chunk, from the
  models that read the query's language, rescaled by each model's noise floor
  (its profile's ``min_similarity``) to 0..1; the rule then reads it relative to
  the usual similarity of answerable questions in the query's language (a
  Korean question's best cosine is about two thirds of an English one's:
  ``Rule.scales``, fitted, per language and native/foreign, not per corpus).
- ``coverage``: the share of the query's terms found in one of the keyword
  side's best three chunks; ``rare_coverage`` the same with each term weighted
  by its idf in the index. A near miss matches the common words and not the
  rare one: "pet insurance" finds "insurance" everywhere, "pet" in no top chunk.
  The fitted rule weighs the two against each other (+8.0 rare, -4.7 common):
  what counts is *which* words matched.
- ``unknown``: the idf-weighted share of the query's words the index has
  nowhere ("RSU", "WTFPL"); a misspelling counts as its correction. Where under
  half the index's chunks are in the query's language group it counts in
  proportion (``FULL_SHARE``): a Chinese question over an English handbook with
  a few Chinese pages is mostly answered by English ones, in other words.
- ``missing_any``: the rarity of the rarest query word the index has but none of
  any retriever's best three chunks has. Fitted *for* an answer (+1.1), not as
  the near-miss sign it was meant to be: a rare word the handbook has somewhere
  says the question is in its vocabulary (a near miss's word is mostly nowhere,
  which ``unknown`` counts).
- ``agree``: the keyword ranking and a model share an article in their top 3.

A question in a language the index (almost) lacks, under 5% of its chunks
(``foreign``: Korean over the English 18F handbook) has no words of its own to
match, so it gets its own model, on its similarity alone.

The decision (``Rule``) is two logistic models, native and foreign, fitted with
``fit`` (``RULE``: on all five dev corpora): every corpus weighs the same, then
the cut is moved so that at most 3% of each fitting corpus's answerable questions
are marked unanswered (the target is 5% on held-out ones; one pooled cap let 18F
and sustech-zh reach 7.3-7.5% held out). Held out (benchmarks/loo.py: each corpus's rule fitted on the other
four; 2026-12-04, 41-42 unanswerable questions each), caught / wrongly unanswered:
18F 0.14 / 0.000, GitLab-ja 0.40 / 0.010, bundled 0.63 / 0.017, skt-ko 0.44 /
0.025, sustech-zh 0.62 / 0.000 (the rule before, on the same questions: 0.10 / 0,
0.38 / 0, 0.66 / 0.075, 0.44 / 0.025, 0.55 / 0).

Most misses are questions in a language the index lacks (their cosines are those
of real cross-language questions). What was measured and not kept (the margin, the
models' agreement, keyword coverage of foreign questions): benchmarks/README.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from .analysis import terms
from .bridge import lang_group
from .documents import Chunk
from .embedders import Profile
from .fusion import Ranking
from .postings import idf
from .query import QueryInfo

NOTHING_MATCHED = "nothing_matched"
WEAK_MATCHES = "weak_matches"
COVERAGE_CHUNKS = 3  # keyword chunks whose terms are checked against the query (and each model's, for missing_any)
AGREE_DEPTH = 3  # top articles compared between the keyword side and a model
#: Below this share of chunks in the query's language group, the query's own words cannot be
#: expected in the index (a Korean question over an English handbook).
FOREIGN_SHARE = 0.05
MARGIN_RANK = 5  # the margin compares the best chunk's similarity with this rank's
#: From this share of the index's chunks in the query's language group, a query word the index
#: lacks counts in full; below it, less: the answer may well be in an article in another language.
FULL_SHARE = 0.5
#: Share of answerable questions the fit may mark unanswered on its own corpora.
FIT_MAX_WRONG = 0.03

MIN_CALIBRATION = 10  # answerable examples a language group needs for its own similarity scale
MIN_UNANSWERABLE = 5  # fewer unanswerable examples than this in a group: it is not fitted
CUT_SLACK = 0.005  # the fitted weights are rounded: the answerable example on the cut must stay answered


@dataclass(frozen=True)
class Evidence:
    similarity: float  # 0..1: best cosine above the model's floor, rescaled
    coverage: float  # 0..1: share of the query's terms in a top keyword chunk
    agree: bool
    rare_coverage: float = 1.0  # 0..1: the same share, each term weighted by its rarity (idf)
    unknown: float = 0.0  # 0..1: idf-weighted share of the query's terms the index lacks (times FULL_SHARE's scaling)
    margin: float = 0.0  # best minus 5th similarity of the model that matched best, rescaled
    models_agree: bool = False  # two models reading the query share a top-3 article
    cross: bool = False  # the best model match is in another script/language group than the query
    missing: float = 0.0  # 0..1: rarity of the rarest indexed query term no top keyword chunk has
    foreign: bool = False  # the index has few chunks in the query's language group
    bridge_agree: bool = False  # the bridge-translated keyword ranking shares a top-3 article with a model
    bridged: bool = False  # the query was translated through the bridge (there is a ``keyword~`` ranking)
    lang: str = ""  # the query's language: cosine scales differ by language (see ``Rule.scales``)
    missing_any: float = 0.0  # 0..1: rarity of the rarest indexed query term in no retriever's best chunks

    @property
    def group(self) -> str:
        """The calibration group: the query's language, and whether the index has it."""
        return f"{self.lang}/{'foreign' if self.foreign else 'native'}"


@dataclass(frozen=True)
class Decision:
    answered: bool
    reason: str | None = None  # NOTHING_MATCHED or WEAK_MATCHES when not answered


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
    # Once per term: a look-up of a term the index lacks may try a spelling correction.
    freq = {t: doc_freq(t) for t in wanted} if doc_freq is not None else None
    known = {t for t in wanted if freq is None or freq[t] > 0}
    weight = _rarity(wanted, freq, size)
    read = _Reader(chunks, set(wanted))
    kw = next((r for r in rankings if r.name == "keyword"), None)
    coverage, rare, missing = _keyword_side(kw, read, wanted, weight, known) if kw else (0.0, 0.0, 0.0)
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
    missing_any = _missing_anywhere([r for r in rankings if r.name == "keyword" or r.name in profiles], read, weight, known)
    # The query translated through the bridge, read by the keyword side: for a question in a
    # language the index lacks, the only keyword evidence there is.
    bridged = [_top_articles(r, chunks) for r in rankings if r.name == "keyword~"]
    bridge_agree = any(set(b) & set(top) for b in bridged for top in model_tops)
    models_agree = any(set(a) & set(b) for i, a in enumerate(model_tops) for b in model_tops[i + 1:])
    foreign = native_share < FOREIGN_SHARE
    # A query in a language the index barely has has no words in it: "unknown" says nothing then; where
    # it has a few articles in it (Chinese over an English handbook), a missing word says less.
    lacking = sum(w for t, w in weight.items() if t not in known) / (sum(weight.values()) or 1.0)
    unknown = 0.0 if foreign else lacking * min(1.0, native_share / FULL_SHARE)
    similarity, margin, cross = 0.0, 0.0, False
    if best is not None:
        similarity, margin = best[0], best[1]
        top = chunks[best[2].items[0][0]]
        cross = top is not None and lang_group(top.lang) != lang_group(info.lang)
    return Evidence(
        round(similarity, 4), round(coverage, 4), agree, round(rare, 4), round(unknown, 4),
        round(margin, 4), models_agree, cross, round(missing, 4), foreign, bridge_agree, bool(bridged), info.lang,
        round(missing_any, 4),
    )


class _Reader:
    """The query terms each chunk has, tokenized once per query (a model's best chunks are often the keyword side's)."""

    def __init__(self, chunks: Sequence[Chunk | None], wanted: set[str]) -> None:
        self.chunks, self.wanted = chunks, wanted
        self.seen: dict[int, set[str] | None] = {}

    def __call__(self, pos: int) -> set[str] | None:
        if pos not in self.seen:
            c = self.chunks[pos]
            self.seen[pos] = None if c is None else self.wanted & _chunk_terms(c)
        return self.seen[pos]


@lru_cache(maxsize=512)
def _chunk_terms(c: Chunk) -> frozenset[str]:
    # Kept across queries: the chunks that come first for one question often do for the next. Small:
    # each server process has its own, and 4096 chunks' terms took 75 MB on GitLab-ja's index.
    return frozenset(terms(f"{c.title} {c.heading} {c.text} {c.aliases}"))


def _keyword_side(
    r: Ranking, read: _Reader, wanted: list[str], weight: Mapping[str, float], known: set[str]
) -> tuple[float, float, float]:
    """Coverage, rarity-weighted coverage, and the rarity (0..1) of the rarest indexed query
    term that none of the keyword side's best chunks has."""
    coverage = rare = 0.0
    total = sum(weight.values()) or 1.0
    seen: set[str] = set()
    for pos, _ in r.items[:COVERAGE_CHUNKS]:
        have = read(pos)
        if have is not None and wanted:
            seen |= have
            coverage = max(coverage, len(have) / len(wanted))
            rare = max(rare, sum(weight.get(t, 0.0) for t in have) / total)
    top = max(weight.values(), default=1.0)
    rarest = max((weight.get(t, 0.0) for t in known - seen), default=0.0)
    return coverage, rare, rarest / top


def _missing_anywhere(rankings: Sequence[Ranking], read: _Reader, weight: Mapping[str, float], known: set[str]) -> float:
    """The rarity (0..1) of the rarest query term the index has but no retriever's best chunks do
    (why it counts *for* an answer: the module's docstring)."""
    unseen = set(known)
    # The keyword side's chunks first (already read): a model's chunk is only read while a word is unseen.
    for r in sorted(rankings, key=lambda r: r.name != "keyword"):
        for pos, _ in r.items[:COVERAGE_CHUNKS]:
            if not unseen:
                return 0.0
            unseen -= read(pos) or set()
    return max((weight.get(t, 0.0) for t in unseen), default=0.0) / max(weight.values(), default=1.0)


def _rarity(wanted: Sequence[str], freq: Mapping[str, int] | None, size: int) -> dict[str, float]:
    """Each query term's weight: its idf in the index, so a rare word counts for more than
    a common one; a word the index lacks weighs as the rarest."""
    if freq is None or size <= 0:
        return dict.fromkeys(wanted, 1.0)
    return {t: idf(freq[t], size) for t in wanted}


def _top_articles(r: Ranking, chunks: Sequence[Chunk | None]) -> list[str]:
    out: list[str] = []
    for pos, _ in r.items:
        c = chunks[pos]
        if c is not None and c.doc_id not in out:
            out.append(c.doc_id)
            if len(out) == AGREE_DEPTH:
                break
    return out


#: What the rule weighs for a question in the index's language, and for one in a language it lacks.
NATIVE_FEATURES = ("similarity", "coverage", "rare_coverage", "unknown", "agree", "missing_any")
FOREIGN_FEATURES = ("similarity",)


@dataclass(frozen=True)
class Model:
    """A linear score over some features: answered when it is at least 0."""

    weights: tuple[tuple[str, float], ...]
    bias: float

    def score(self, ev: Evidence) -> float:
        return self.bias + sum(w * _feature(ev, name) for name, w in self.weights)

    def __str__(self) -> str:
        return " ".join(f"{n}={w:+.2f}" for n, w in self.weights) + f" bias={self.bias:+.2f}"


@dataclass(frozen=True)
class Rule:
    """One model for questions in a language the index has, one for the others: their
    evidence differs in kind (a Korean question over an English handbook has no words of
    its own to match; only the bridge's translation does).

    ``scales``: per calibration group (``Evidence.group``), the median similarity of answerable
    questions; a similarity is read relative to it, because a Korean question's best cosine
    is about two thirds of an English one's for the same kind of match (0.34 against 0.52)."""

    native: Model
    foreign: Model
    scales: tuple[tuple[str, float], ...] = ()

    def answers(self, ev: Evidence) -> bool:
        ev = _calibrated(ev, dict(self.scales))
        return (self.foreign if ev.foreign else self.native).score(ev) >= 0

    def __str__(self) -> str:
        scales = " ".join(f"{g}={v:.2f}" for g, v in self.scales)
        return f"native: {self.native}; foreign: {self.foreign}; scales: {scales or '-'}"


ALWAYS = Model((), 1.0)  # what a group without unanswerable examples to fit on gets


def _feature(ev: Evidence, name: str) -> float:
    if name == "cross_similarity":
        return ev.similarity if ev.cross else 0.0
    if name == "bridge_disagree":  # the translation's keyword hits are elsewhere (0 without a bridge)
        return float(ev.bridged and not ev.bridge_agree)
    return float(getattr(ev, name))


#: Fitted with benchmarks/loo.py on the 18F, GitLab-ja, bundled, skt-ko and sustech-zh dev sets
#: (2026-12-04, 41-42 unanswerable questions each); see benchmarks/README.md.
RULE = Rule(
    native=Model(
        (("similarity", 2.107), ("coverage", -4.735), ("rare_coverage", 8.032), ("unknown", -1.597), ("agree", 0.807),
         ("missing_any", 1.113)),
        bias=-1.976,
    ),
    foreign=Model((("similarity", 3.193),), bias=-1.118),
    scales=(
        ("*/foreign", 0.34), ("*/native", 0.462), ("en/foreign", 0.359), ("en/native", 0.516), ("ja/foreign", 0.368),
        ("ja/native", 0.414), ("ko/foreign", 0.313), ("ko/native", 0.335), ("zh/foreign", 0.333), ("zh/native", 0.424),
    ),
)


def decide(ev: Evidence | None, rule: Rule | None = None) -> Decision:
    """Answered, or why not: nothing matched at all (no results are shown), or only weak matches."""
    if ev is None:
        return Decision(False, NOTHING_MATCHED)
    if (rule or RULE).answers(ev):
        return Decision(True)
    if ev.coverage == 0 and not ev.agree and not ev.bridge_agree and (not ev.foreign or ev.similarity == 0):
        # No word of the query (or of its translation) in the keyword side's best chunks,
        # and the models found nothing close: what they return is the nearest noise. A
        # question in a language the index lacks has no words to match, so for it only the
        # models can say "nothing": its closest articles stay, as possibly related.
        return Decision(False, NOTHING_MATCHED)
    return Decision(False, WEAK_MATCHES)


#: One fitting example: the evidence, whether the handbook answers, and which corpus it is from.
Example = tuple[Evidence, bool, str]


def fit_model(examples: Sequence[Example], names: Sequence[str], max_wrong: float = FIT_MAX_WRONG, ridge: float = 0.1,
              balance: bool = True, each: bool = True) -> Model:
    """A logistic regression on ``names``, its cut then moved so that on every corpus at most
    ``max_wrong`` of the answerable examples score below it.

    Each corpus weighs the same, and so do its answerable and its unanswerable examples:
    otherwise the biggest dev set (18F, 205 English questions) sets the rule for all."""
    if sum(1 for _, ok, _ in examples if not ok) < MIN_UNANSWERABLE or all(not ok for _, ok, _ in examples):
        return ALWAYS  # nothing to fit on, or no answerable example to keep answered
    x = np.array([[_feature(e, n) for n in names] + [1.0] for e, _, _ in examples])
    y = np.array([1.0 if ok else 0.0 for _, ok, _ in examples])
    counts: dict[tuple[str, bool], int] = {}
    counts_ok = {True: 0, False: 0}
    for _, ok, src in examples:
        counts[src, ok] = counts.get((src, ok), 0) + 1
        counts_ok[ok] += 1
    sample = np.array([1.0 / (counts[src, ok] if balance else counts_ok[ok]) for _, ok, src in examples])
    sample /= sample.sum()
    w = np.zeros(x.shape[1])
    penalty = ridge * np.eye(x.shape[1]) / len(y)
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(50):  # Newton steps: a handful of features converge in a few
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (sample * (p - y)) + penalty @ w
        hess = (x * (sample * p * (1 - p))[:, None]).T @ x + penalty + 1e-9 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    scores = x @ w
    cut = min(
        float(np.sort(scores[mask])[int(max_wrong * mask.sum())])
        for src in ({s for _, _, s in examples} if each else {None})
        if (mask := (y == 1) & np.array([src is None or s == src for _, _, s in examples])).any()
    )
    # A little below the cut: the weights are rounded, and the answerable example on it must stay answered.
    bias = round(float(w[-1] - cut) + CUT_SLACK, 3)
    return Model(tuple((n, round(float(v), 3)) for n, v in zip(names, w[:-1], strict=True)), bias)


def fit(
    examples: Iterable[tuple[Evidence | None, bool] | tuple[Evidence | None, bool, str]], max_wrong: float = FIT_MAX_WRONG,
    native: Sequence[str] = NATIVE_FEATURES, foreign: Sequence[str] = FOREIGN_FEATURES, calibrate: bool = True,
    balance: bool = True, each: bool = True,
) -> Rule:
    """The rule fitted on ``examples`` (evidence, answerable[, corpus]): the similarity scales
    first, then each group (native, foreign) on its own, held to ``max_wrong`` answerable
    examples marked unanswered on each corpus."""
    data: list[Example] = [(x[0], x[1], x[2] if len(x) > 2 else "") for x in examples if x[0] is not None]
    scales = _scales([e for e, ok, _ in data if ok]) if calibrate else {}
    data = [(_calibrated(e, scales), ok, src) for e, ok, src in data]
    return Rule(
        fit_model([x for x in data if not x[0].foreign], native, max_wrong, balance=balance, each=each),
        fit_model([x for x in data if x[0].foreign], foreign, max_wrong, balance=balance, each=each),
        tuple(sorted(scales.items())),
    )


def _calibrated(ev: Evidence, scales: Mapping[str, float]) -> Evidence:
    """``ev`` with its similarity relative to its group's scale (or, for a language not
    fitted, that of every language alike, native or foreign)."""
    scale = scales.get(ev.group) or scales.get(ev.group.replace(ev.lang, "*", 1))
    return replace(ev, similarity=ev.similarity / scale) if scale else ev


def _scales(answerable: Sequence[Evidence]) -> dict[str, float]:
    """The median similarity of answerable examples per calibration group with enough of them,
    and per native/foreign over every language ("*/native")."""
    groups: dict[str, list[float]] = {}
    for e in answerable:
        groups.setdefault(e.group, []).append(e.similarity)
        groups.setdefault(e.group.replace(e.lang, "*", 1), []).append(e.similarity)
    return {g: round(float(np.median(v)), 3) for g, v in groups.items() if len(v) >= MIN_CALIBRATION and np.median(v) > 0}
