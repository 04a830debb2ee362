"""Fuse the keyword ranking and the embedding rankings into one list of articles.

Why fuse by articles, with weights that depend on the query:

- Retrievers disagree about *which section* of an article answers but agree
  much more about *which article*. So each ranking is first collapsed to
  articles (an article's rank is that of its best chunk) and the article
  rankings are fused; the section shown is the chunk with the best fused
  chunk score within the winning article.
- Weighted reciprocal-rank fusion, ``sum(w / (K + rank))``, needs no score
  calibration between BM25 and cosine similarities, which live on unrelated
  scales and shift from corpus to corpus.
- The weights (see ``weights_for``) follow what each retriever is good at,
  as measured on the development sets in benchmarks/:
  * MiniLM only understands English: it votes only for an English query, and
    only on English chunks. Letting it vote on a Japanese query is what made
    naive three-way fusion fall from 0.89 to 0.64 on cross-lingual questions.
  * Multilingual USE is the only retriever that crosses languages, so it
    carries a query whose language differs from the chunk's.
  * BM25 is strongest on short keyword lookups, acronyms and exact terms and
    weakest on long paraphrased questions, so its weight falls as the query
    grows and rises for keyword-style queries.

What a model reads and how much its vote on a bridge-translated query weighs
come from its ``Profile`` (embedders.py), never from its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .embedders import Profile
from .query import QueryInfo

RRF_K = 5  # small K trusts the top of each list: best on both dev sets (k=5..60 measured)


@dataclass
class Ranking:
    """One retriever's chunks, best first, as (chunk position, score).

    ``lang`` is the language of the text this retriever was given: the query's,
    or another one for a query translated through the bridge.
    """

    name: str
    items: list[tuple[int, float]]
    lang: str | None = None


@dataclass
class Weights:
    keyword: float
    dense: dict[str, float] = field(default_factory=dict)  # embedder name -> weight on same-language chunks
    cross: dict[str, float] = field(default_factory=dict)  # embedder name -> weight on other-language chunks

    def of(self, name: str, same_lang: bool) -> float:
        if name == "keyword":
            return self.keyword
        return (self.dense if same_lang else self.cross).get(name, 0.0)


#: BM25's ranking of a query translated through the bridge ("keyword~"): a
#: helping vote, worth less than a reading of the query itself. A model's
#: ("minilm~") is its profile's ``bridge_weight``.
KEYWORD_BRIDGE_WEIGHT = 0.4


def weights_for(q: QueryInfo, embedders: dict[str, Profile]) -> Weights:
    """Weights for this query. ``embedders`` maps each model's name to its profile."""
    english = q.lang == "en"
    keyword = 1.0
    if q.keywordish:
        keyword = 1.4
    elif q.words >= 8:
        keyword = 0.7
    dense: dict[str, float] = {}
    cross: dict[str, float] = {}
    for name, profile in embedders.items():
        langs = profile.languages
        if langs is None:  # multilingual
            dense[name] = 1.0 if english else 1.3
            cross[name] = 1.6
        elif q.lang in langs:
            dense[name] = 1.0
            cross[name] = 0.0
        else:
            dense[name] = cross[name] = 0.0
    # A translated query matches chunks in its own (translated) language.
    dense["keyword~"] = KEYWORD_BRIDGE_WEIGHT
    for name, profile in embedders.items():
        if profile.bridge_weight > 0:
            dense[name + "~"] = profile.bridge_weight
    return Weights(keyword=keyword, dense=dense, cross=cross)


@dataclass
class Fused:
    article: str
    score: float
    best_chunk: int
    sources: dict[str, int]


def fuse(
    rankings: list[Ranking],
    weights: Weights,
    article_of: Callable[[int], str],
    same_lang: Callable[[int, str | None], bool],
    k: int = RRF_K,
) -> list[Fused]:
    article_score: dict[str, float] = {}
    chunk_score: dict[int, float] = {}
    sources: dict[str, dict[str, int]] = {}
    for ranking in rankings:
        seen: set[str] = set()
        article_rank = 0
        for chunk_rank, (pos, _score) in enumerate(ranking.items):
            w = weights.of(ranking.name, same_lang(pos, ranking.lang))
            if w <= 0:
                continue
            chunk_score[pos] = chunk_score.get(pos, 0.0) + w / (k + chunk_rank)
            art = article_of(pos)
            if art in seen:
                continue
            seen.add(art)
            article_score[art] = article_score.get(art, 0.0) + w / (k + article_rank)
            sources.setdefault(art, {})[ranking.name] = article_rank + 1
            article_rank += 1
    best: dict[str, int] = {}
    for pos, s in chunk_score.items():
        art = article_of(pos)
        if art not in best or s > chunk_score[best[art]]:
            best[art] = pos
    fused = [Fused(a, s, best[a], sources.get(a, {})) for a, s in article_score.items()]
    fused.sort(key=lambda f: f.score, reverse=True)
    return fused
