"""Fuse the keyword ranking and the embedding rankings into one list of articles.

The method: **score fusion on calibrated scores** (``fuse_calibrated``), the
default since the leave-one-corpus-out study (benchmarks/loo.py, numbers in
benchmarks/README.md). Each retriever gives each article the score of its
best chunk, on a scale that means the same on every corpus, and an article's
score is the **mean** of those weighted scores over the readers able to read it:

- a model's cosine similarity, rescaled by the model's noise floor
  (``(s - floor) / (1 - floor)``, floor from its ``Profile``): 0 is noise,
  and a clear match counts more than a near-tie;
- BM25F relative to the query's best keyword chunk, times the square root of
  the keyword *coverage* (the share of the query's terms found in one of the
  top keyword chunks, search/answer.py), times the keyword *margin*
  (``keyword_margin``: how far its best chunk stands above the weakest it
  listed). Without coverage the keyword side's first hit always scores 1.0,
  even when it matched one stray word of an English question over a Korean
  handbook (skt-ko English 0.75 hit@5 without it, 0.92 with it); the full
  coverage, instead of its square root, cut too deep into native CJK
  questions. Without the margin a flat BM25 list over common words outvoted
  two models that agreed elsewhere: with it, 18F English 0.946 -> 0.954
  (= MiniLM alone), GitLab-ja 0.867 -> 0.876, sustech-zh MRR 0.848 -> 0.879,
  skt-ko MRR 0.639 -> 0.660, and no corpus lost hit@5.

Why the mean over the readers that can read an article, not the sum: the
bridge readings (``keyword~``, ``minilm~``) and the English-only model reach
only English articles, so a sum gave an English article up to twice the
votes a Korean or Chinese one could ever get, and native-language articles
that the keyword side and USE both put first lost ("입사 첫해에는 연차가 며칠
생기나요" 7th, "为什么七月份到手工资变少了" 4th). The mean asks each article
only what its readers could say; on a one-language handbook every article has
the same readers, so the order is the sum's (18F, skt-ko, sustech-zh,
GitLab-ja unchanged by it). Bundled, with the bridge change below: 0.992/0.884
-> 1.000/0.919 hit@5/MRR (Korean 0.95 -> 1.00; the bridge change alone:
0.983/0.894, Korean 0.90). A model's reading is cross-language whenever the
languages differ (a Japanese question over a Chinese article too), not only
across keyword groups. The searcher also bridges only what the synonyms did
not cover: a handbook's own list ("年假 = annual leave = PTO") leads the
translation, so "年假有几天" no longer translates into "days" alone.

Why not the weighted reciprocal-rank fusion used before (``fuse``, kept for
the study): ranks throw away *how much* better the first article is, and its
weights were tuned on 18F and GitLab and did not transfer (bundled Korean
0.85 hit@5). ``weights_for`` still says who reads what (MiniLM votes only on
English, USE carries other languages); the scores do the rest.

Measured side by side and not kept (benchmarks/README.md): plain RRF (k=60);
RRF K=20; dividing by the square root of the reach (bundled 0.992/0.906) or
by Stouffer's root of the summed squared weights (bundled English 1.00 ->
0.983: a Seoul question about an English article); bridge votes only for articles the direct
readers have in their top 5 or 10 (18F Chinese 0.92 -> 0.76..0.80); a margin
on the bridge models too (18F Korean 0.80 -> 0.84 but Japanese 0.96 -> 0.92);
a margin on every model (skt-ko English 0.92 -> 0.75); the keyword margin
against its 10th or 20th chunk instead of the last (GitLab-ja 0.876 -> 0.848).
Why a bridge reading is capped at the multilingual model's confidence
(``bridge_caps``): over an English-only handbook asked in CJK (bundled-en, the
kind the blind handbook is) the bridge's MiniLM reading of a bag of translated
terms scored up to 0.66 where USE's best was 0.25, so a wrong translation
("日当" read as "payday") outvoted the model that made it: fused 0.911 / 0.812
hit@5 / MRR against USE alone 0.978 / 0.854. Capped, the bridge still reorders
USE's near-ties: bundled-en 0.933 / 0.830, 18F 0.932 / 0.809 -> 0.922 / 0.812
(Chinese 0.92 -> 0.84, which the re-ranker gives back held out: 0.941 / 0.812,
every language as before; bundled fused MRR 0.921 -> 0.911, re-ranked 0.951
-> 0.953), the one-language handbooks unchanged. Measured and not kept:
USE's best over its top 3 or 10 instead of its top, a softer (square-root)
cap, USE's i-th score given to the bridge's i-th article (18F Japanese 0.96
-> 0.92 fused), a pursuit translation in bridge.py (with the cap, held out:
18F Korean 0.92 -> 1.00 but Japanese 0.96 -> 0.88, Chinese 0.92 -> 0.88).
Where it still loses: bundled-en Chinese 0.938 held out against USE alone
1.00 (one question, "去上海出差 每天补贴多少", 6th: its translation is "each
payday, payday apply, shanghai receive...", USE has Per diem 3rd). Retrievers vote per article (an article's score is that of its best
chunk, never a sum over its chunks), so long pages gain nothing from length.

What the one fused number cannot say (which words matched, how many readers
agree, how far ahead each put an article) the re-ranker reads next
(rerank.py): ``fuse_calibrated`` keeps each reader's calibrated vote in
``Fused.votes`` for it. Held out it lifted 18F Korean 0.80 -> 0.88 (= USE
alone) and every corpus's MRR@10, and "ノートパソコンをなくしました" now puts
Lost or stolen device first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    #: each retriever's calibrated best-chunk score for this article (before its weight):
    #: what the re-ranker (rerank.py) reads besides the fused score
    votes: dict[str, float] = field(default_factory=dict)


def families(fused: Sequence[Fused], family_of: Callable[[str], str]) -> list[list[Fused]]:
    """The fused articles grouped by family, each group best first, in the order of each
    family's best-ranked article (the service's pages, the re-ranker's candidates)."""
    groups: dict[str, list[Fused]] = {}
    for f in fused:
        groups.setdefault(family_of(f.article), []).append(f)
    return list(groups.values())


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


def _read(
    ranking: Ranking, weights: Weights, article_of: Callable[[int], str], same_lang: Callable[[int, str | None], bool],
    keyword_scale: float, floors: dict[str, float], chunk_score: dict[int, float],
    sources: dict[str, dict[str, int]], votes: dict[str, dict[str, float]], caps: dict[str, float] | None = None,
) -> dict[str, float]:
    """One retriever's weighted, calibrated vote for each article it listed (its best chunk's);
    adds each chunk's vote to ``chunk_score``, and the article's rank and unweighted vote under
    the retriever's name to ``sources`` and ``votes``. ``caps``: the factor of each bridge
    reading's calibrated scores (``bridge_caps``)."""
    top = ranking.items[0][1]
    cap = (caps or {}).get(ranking.name, 1.0)
    best: dict[str, float] = {}
    for pos, raw in ranking.items:
        w = weights.of(ranking.name, same_lang(pos, ranking.lang))
        if w <= 0:
            continue
        calibrated = cap * _calibrated(ranking.name, raw, top, keyword_scale, floors)
        value = w * calibrated
        chunk_score[pos] = chunk_score.get(pos, 0.0) + value
        art = article_of(pos)
        if art not in best:
            sources.setdefault(art, {})[ranking.name] = len(best) + 1
            votes.setdefault(art, {})[ranking.name] = calibrated  # best first: its best chunk
        best[art] = max(best.get(art, 0.0), value)
    return best


def _calibrated(name: str, score: float, top: float, keyword_scale: float, floors: dict[str, float]) -> float:
    if name.rstrip("~") == "keyword":
        # The bridge's BM25 ranking ("keyword~") shares the query's coverage scale:
        # a question whose words the index lacks gets little from BM25 over its
        # translation too (unscaled: 18F 0.917, bundled 0.983 hit@5; scaled: 0.927, 0.992).
        return (score / top if top > 0 else 0.0) * keyword_scale
    floor = floors.get(name.rstrip("~"), 0.0)
    return max(0.0, (score - floor) / max(1e-6, 1.0 - floor))


def _best_sections(
    chunk_score: dict[int, float], article_of: Callable[[int], str], linkable: Callable[[int], bool]
) -> dict[str, int]:
    """Each article's best chunk, a linkable one first: the title card (summary and
    aliases) says the article is about the question, never where in it the answer is."""
    best: dict[str, int] = {}
    for pos, sc in chunk_score.items():
        art = article_of(pos)
        if art not in best or (linkable(pos), sc) > (linkable(best[art]), chunk_score[best[art]]):
            best[art] = pos
    return best


def bridge_caps(rankings: list[Ranking], weights: Weights, keyword_scale: float, floors: dict[str, float]
                ) -> dict[str, float]:
    """Each bridge reading's factor (``name~`` -> 0..1): its best calibrated score brought down
    to the best one of the multilingual models reading the question itself.

    The translation is made by a multilingual model (search/bridge.py): it can know no more
    about the question than that model does. A bag of translated terms, read by MiniLM, scores
    far above a real question (0.66 against USE's 0.25 for "ソウル出張の日当はいくら", whose
    translation went to "each payday, holiday pay...": 日当 read as day-pay), and its spread
    between articles outvoted USE's; capped at USE's own confidence, a bridge reading still
    reorders USE's near-ties but no longer overrides a question USE understood. Without a
    multilingual reader of the question (none in ``weights.cross``) nothing is capped.
    """
    direct = [r for r in rankings if not r.name.endswith("~") and weights.cross.get(r.name, 0.0) > 0]
    if not direct:
        return {}
    best = max((_calibrated(r.name, r.items[0][1], r.items[0][1], keyword_scale, floors) for r in direct if r.items),
               default=0.0)
    caps: dict[str, float] = {}
    for r in rankings:
        if r.name.endswith("~") and r.items:
            top = _calibrated(r.name, r.items[0][1], r.items[0][1], keyword_scale, floors)
            caps[r.name] = min(1.0, best / top) if top > 0 else 1.0
    return caps


def keyword_margin(rankings: list[Ranking]) -> float:
    """How far the keyword side's best chunk stands above the weakest it listed (0..1).

    BM25 has no absolute scale, so its best chunk always scores 1.0 relative to
    itself; a flat list (40, 38, 36, ... over common words) is the keyword side
    not knowing, and should not outvote two models that agree elsewhere
    (18F "get paid back for the bus and subway": both models put Transit
    benefit first, the flat keyword list pushed it to 6th). A single listed
    chunk has nothing to stand above: 1.
    """
    for r in rankings:
        if r.name == "keyword" and len(r.items) > 1 and r.items[0][1] > 0:
            return max(0.0, 1.0 - r.items[-1][1] / r.items[0][1])
    return 1.0


def fuse_calibrated(
    rankings: list[Ranking],
    weights: Weights,
    article_of: Callable[[int], str],
    same_lang: Callable[[int, str | None], bool],
    *,
    floors: dict[str, float],
    coverage: float,
    family_of: Callable[[str], str] = lambda a: a,
    linkable: Callable[[int], bool] = lambda p: True,
) -> list[Fused]:
    """Articles by the mean of the weighted, calibrated best-chunk scores of the
    retrievers able to read them.

    ``floors``: each model's similarity floor; ``coverage``: the keyword side's
    coverage of the query (0..1), which scales its scores by its square root.
    A retriever that found an article's translation found the article: each
    retriever gives a family the best score of its versions, families are
    ranked by that sum over the family's readers (the most any version had),
    and versions within a family by their own mean (the service then shows the
    version in the reader's language). ``linkable``: whether a chunk is a
    section a result can link to (not the title card); an article's
    ``best_chunk`` is its best linkable chunk when it has one.
    """
    keyword_scale = coverage**0.5 * keyword_margin(rankings)
    caps = bridge_caps(rankings, weights, keyword_scale, floors)
    own: dict[str, float] = {}
    family_score: dict[str, float] = {}
    chunk_score: dict[int, float] = {}
    sources: dict[str, dict[str, int]] = {}
    votes: dict[str, dict[str, float]] = {}
    for ranking in rankings:
        if not ranking.items:
            continue
        best = _read(ranking, weights, article_of, same_lang, keyword_scale, floors, chunk_score, sources, votes, caps)
        per_family: dict[str, float] = {}
        for art, value in best.items():
            own[art] = own.get(art, 0.0) + value
            fam = family_of(art)
            per_family[fam] = max(per_family.get(fam, 0.0), value)
        for fam, value in per_family.items():
            family_score[fam] = family_score.get(fam, 0.0) + value
    best_chunk = _best_sections(chunk_score, article_of, linkable)
    # Each article's score is the mean vote of the readers able to read it (see the
    # module docstring): the bridge and the cross-language weights reach only some
    # languages, so a plain sum favoured the articles more retrievers could read.
    reach = {a: sum(max(0.0, weights.of(r.name, same_lang(p, r.lang))) for r in rankings) for a, p in best_chunk.items()}
    family_reach: dict[str, float] = {}
    for a, value in reach.items():
        fam = family_of(a)
        family_reach[fam] = max(family_reach.get(fam, 0.0), value)
    mean_own = {a: sc / max(reach.get(a, 0.0), 1e-9) for a, sc in own.items()}
    fused = [
        Fused(a, family_score[family_of(a)] / max(family_reach[family_of(a)], 1e-9), best_chunk[a], sources.get(a, {}),
              votes.get(a, {}))
        for a, sc in own.items()
        if sc > 0
    ]
    fused.sort(key=lambda f: (f.score, mean_own[f.article]), reverse=True)
    return fused
