"""The evidence a search's rankings give on whether the handbook answers (``Evidence``).

A ranking always has a first result, so "the top hit" says nothing about
whether the handbook answers. The evidence is on scales that
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
  The fitted rule weighs the two against each other (+8.0 rare, -4.6 common):
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
match, so it gets its own model, on its similarity alone; one the bridge
translated into the index's English (``bridged``) its own again (search/answer.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .analysis import terms
from .bridge import lang_group
from .documents import Chunk
from .embedders import Profile
from .fusion import Ranking
from .postings import idf
from .query import QueryInfo

COVERAGE_CHUNKS = 3  # keyword chunks whose terms are checked against the query (and each model's, for missing_any)
AGREE_DEPTH = 3  # top articles compared between the keyword side and a model
#: Below this share of chunks in the query's language group, the query's own words cannot be
#: expected in the index (a Korean question over an English handbook).
FOREIGN_SHARE = 0.05
MARGIN_RANK = 5  # the margin compares the best chunk's similarity with this rank's
#: From this share of the index's chunks in the query's language group, a query word the index
#: lacks counts in full; below it, less: the answer may well be in an article in another language.
FULL_SHARE = 0.5


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



def _rescaled(score: float, floor: float) -> float:
    return max(0.0, (score - floor) / max(1e-6, 1.0 - floor))


def read_evidence(
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
