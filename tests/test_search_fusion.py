"""Fusion: query-dependent weights, collapsing chunks to articles."""

from __future__ import annotations

import pytest

from search.embedders import MODELS, Profile
from search.fusion import KEYWORD_BRIDGE_WEIGHT, Ranking, Weights, bridge_caps, fuse, fuse_calibrated, weights_for
from search.query import analyze_query

EMBEDDERS = {"minilm": MODELS["minilm"].profile, "use-m3": MODELS["use-m3"].profile}


def test_english_only_model_gets_no_vote_on_other_languages():
    w = weights_for(analyze_query("育児休業は何週間"), EMBEDDERS)
    assert w.of("minilm", True) == 0 and w.of("minilm", False) == 0
    assert w.of("use-m3", False) > w.of("use-m3", True) > 0  # USE carries cross-language queries
    en = weights_for(analyze_query("parental leave weeks"), EMBEDDERS)
    assert en.of("minilm", True) > 0 and en.of("minilm", False) == 0


def test_profiles_carry_what_fusion_needs():
    # The values every dev-set number was measured with.
    assert EMBEDDERS["minilm"] == Profile(languages=frozenset({"en"}), min_similarity=0.15, bridge_weight=0.8)
    assert EMBEDDERS["use-m3"] == Profile(languages=None, min_similarity=0.10, bridge_weight=0.0)
    w = weights_for(analyze_query("育児休業は何週間"), EMBEDDERS)
    assert w.dense["minilm~"] == 0.8 and w.dense["keyword~"] == KEYWORD_BRIDGE_WEIGHT == 0.4
    assert "use-m3~" not in w.dense  # the multilingual model reads the query itself
    # A new model is one profile: no name is looked up anywhere.
    other = {**EMBEDDERS, "e5-ja": Profile(languages=frozenset({"ja"}), bridge_weight=0.5)}
    w = weights_for(analyze_query("育児休業は何週間"), other)
    assert w.of("e5-ja", True) == 1.0 and w.of("e5-ja", False) == 0.0 and w.dense["e5-ja~"] == 0.5


def test_keyword_weight_follows_query_shape():
    short = weights_for(analyze_query("FMLA"), EMBEDDERS).keyword
    normal = weights_for(analyze_query("how do I ask for leave"), EMBEDDERS).keyword
    long = weights_for(analyze_query("what should I do if my father is sick and I have run out of sick days"), EMBEDDERS).keyword
    assert short > normal > long


CHUNKS = {0: "a.md", 1: "a.md", 2: "b.md", 3: "c.md", 4: "b.md"}


def run(rankings, weights=None, same=lambda p, lang: True):
    weights = weights or Weights(keyword=1.0, dense={"dense": 1.0}, cross={"dense": 1.0})
    return fuse(rankings, weights, CHUNKS.__getitem__, same, k=5)


def test_chunks_collapse_to_articles_with_their_best_section():
    out = run([Ranking("keyword", [(1, 9.0), (2, 5.0), (0, 4.0)]), Ranking("dense", [(0, 0.9), (4, 0.8), (1, 0.5)])])
    assert [f.article for f in out] == ["a.md", "b.md"]
    a = out[0]
    assert a.score == pytest.approx(1 / 5 + 1 / 5)  # rank 1 article in both lists
    assert a.best_chunk in (0, 1)
    assert a.sources == {"keyword": 1, "dense": 1}
    # b.md: keyword rank 2 (article rank 2), dense rank 2
    assert out[1].score == pytest.approx(1 / 6 + 1 / 6)


def test_a_zero_weight_retriever_cannot_promote_anything():
    out = run(
        [Ranking("keyword", [(3, 1.0)]), Ranking("dense", [(2, 0.9)])],
        weights=Weights(keyword=1.0, dense={"dense": 0.0}, cross={"dense": 0.0}),
    )
    assert [f.article for f in out] == ["c.md"]


def test_cross_language_weights_apply_per_chunk():
    same = lambda p, lang: p != 2  # noqa: E731 - chunk 2 is in another language
    w = Weights(keyword=1.0, dense={"dense": 0.0}, cross={"dense": 2.0})
    out = run([Ranking("dense", [(0, 0.9), (2, 0.8)])], weights=w, same=same)
    assert [f.article for f in out] == ["b.md"]


# --- the re-ranker (search/rerank.py) ------------------------------------------------


def _chunk(pos: int, doc: str, title: str, text: str, kind: str = "section", lang: str = "en", aliases: str = ""):
    from search.documents import Chunk

    return Chunk(f"{doc}#{pos}", doc, "", "", title, lang, "it", kind, text, aliases)


@pytest.fixture
def lexicon(tmp_path):
    """A real keyword index over five small articles, and the re-ranker's view of it."""
    from search import keyword
    from search.layout import KeywordLayout
    from search.rerank import Lexicon

    chunks = [
        _chunk(0, "laptop.md", "Laptop security", "", kind="title"),
        _chunk(1, "laptop.md", "Laptop security", "Lock your laptop screen and keep the disk encrypted."),
        _chunk(2, "laptop.md", "Laptop security", "Laptops travel with you: never leave one in a car."),
        _chunk(3, "coupa.md", "Coupa FAQ", "", kind="title", aliases="procurement tool"),
        _chunk(4, "coupa.md", "Coupa FAQ", "We moved purchasing to the tool in 2019."),
        _chunk(5, "travel.md", "Travel", "Book your trip and keep your laptop with you."),
        _chunk(6, "travel.ja.md", "出張", "出張の手配", lang="ja"),
        _chunk(7, "pay.md", "Pay", "Paydays are every second Friday."),
    ]
    files = KeywordLayout(tmp_path / "kw")
    keyword.build(files, list(enumerate(chunks)))
    kw = keyword.KeywordIndex(files)
    yield Lexicon(chunks, kw.doc_freq, kw.size, kw.scorer)
    kw.close()


def _fused(article: str, score: float, sources: dict[str, int], votes: dict[str, float]):
    from search.fusion import Fused

    return Fused(article, score, 0, sources, votes)


def _families(fused):
    from search.rerank import families

    return families(fused, lambda a: a.replace(".ja.md", ".md"))


def test_rerank_features_count_the_query_words_an_article_has(lexicon):
    from search.rerank import features

    groups = _families([
        _fused("laptop.md", 0.5, {"use-m3": 1, "keyword": 2}, {"use-m3": 0.5, "keyword": 0.6}),
        _fused("coupa.md", 0.4, {"keyword": 1}, {"keyword": 1.0}),
        _fused("travel.md", 0.3, {"use-m3": 2}, {"use-m3": 0.4}),
        _fused("travel.ja.md", 0.3, {"use-m3": 5}, {"use-m3": 0.3}),
    ])
    assert [len(g) for g in groups] == [1, 1, 2]  # a translation is one family with its original
    laptop, coupa, travel = features(groups, analyze_query("coupa laptop"), lexicon)
    idf = {t: lexicon.idf(t) for t in ("coupa", "laptop")}
    assert idf["coupa"] > idf["laptop"]  # in one chunk against four
    share = idf["coupa"] / sum(idf.values())
    assert coupa["title_cover"] == pytest.approx(share) and coupa["title_rarest"] == 1.0
    assert laptop["title_cover"] == pytest.approx(1 - share) and laptop["body_cover"] == pytest.approx(1 - share)
    assert travel["title_cover"] == 0 and travel["body_cover"] == pytest.approx(1 - share)
    assert (laptop["fused"], coupa["fused"], laptop["fused_rr"], coupa["fused_rr"]) == (1.0, 0.8, 1.0, 0.5)
    assert laptop["agree"] == 2 and coupa["agree"] == 1 and travel["agree"] == 1  # readers with it in their top 3
    assert coupa["keyword"] == 1.0 and coupa["keyword_rr"] == 1.0 and coupa["use-m3"] == 0 == coupa["use-m3_rr"]
    assert travel["use-m3"] == 0.4 and travel["use-m3_rr"] == 0.5  # the family's best version
    assert laptop["length"] > coupa["length"] > 0  # three chunks against two
    assert laptop["native"] == 1.0
    (ja,) = features(groups[2:], analyze_query("出張の手配"), lexicon)
    assert ja["native"] == 1.0 and ja["body_cover"] == pytest.approx(1.0)


def test_a_candidate_with_the_rare_query_word_in_its_title_is_lifted(lexicon):
    """GitLab "when did GitLab start using Coupa": only the keyword side found the Coupa FAQ,
    first, and the mean over the readers that found nothing put it 58th (re-ranked, held out: 18th)."""
    from search.rerank import rerank

    fused = [
        _fused("laptop.md", 0.50, {"use-m3": 1, "minilm": 1}, {"use-m3": 0.5, "minilm": 0.5}),
        _fused("travel.md", 0.45, {"use-m3": 2, "minilm": 2}, {"use-m3": 0.45, "minilm": 0.45}),
        *[_fused(f"other{i}.md", 0.4 - i / 100, {"use-m3": 3 + i}, {"use-m3": 0.4}) for i in range(30)],
        # The same votes, one rank apart: only the Coupa FAQ has the query's rare word.
        _fused("pay.md", 0.2, {"keyword": 1}, {"keyword": 0.6}),
        _fused("coupa.md", 0.2, {"keyword": 2}, {"keyword": 0.6}),
    ]
    query = analyze_query("when did we start using coupa")
    out = [f.article for f in rerank(fused, query, lexicon, lambda a: a)]
    assert out.index("coupa.md") < out.index("pay.md")
    assert out.index("coupa.md") < 20 < [f.article for f in fused].index("coupa.md")
    assert sorted(out) == sorted(f.article for f in fused)  # nothing lost, nothing twice


def test_re_ranked_scores_stay_best_first_on_the_fused_scale(lexicon):
    from search.rerank import Model, rerank

    fused = [
        _fused("pay.md", 0.6, {}, {}),
        _fused("travel.md", 0.5, {}, {}),
        _fused("coupa.md", 0.4, {"keyword": 1}, {"keyword": 1.0}),
    ]
    out = rerank(fused, analyze_query("coupa"), lexicon, lambda a: a, model=Model((("title_cover", 1.0),)))
    assert [(f.article, f.score) for f in out] == [("coupa.md", 0.6), ("pay.md", 0.5), ("travel.md", 0.4)]
    assert [f.score for f in fused] == [0.6, 0.5, 0.4]  # the fused list itself is left as it was


def test_rerank_candidates_are_the_top_and_what_a_direct_reader_put_first():
    from search.rerank import candidates

    groups = [[_fused(f"a{i}.md", 1 - i / 100, {"use-m3": i + 1}, {})] for i in range(40)]
    groups[30] = [_fused("kw.md", 0.1, {"keyword": 2}, {})]
    groups[35] = [_fused("bridge.md", 0.1, {"keyword~": 1}, {})]  # a reading of a translation: not direct
    assert candidates(groups, depth=20, reader_top=3) == [*range(20), 30]


def test_an_unfitted_model_keeps_the_fused_order(lexicon):
    from search.rerank import Model, rerank

    fused = [_fused("travel.md", 0.5, {}, {}), _fused("coupa.md", 0.4, {"keyword": 1}, {"keyword": 1.0})]
    assert rerank(fused, analyze_query("coupa"), lexicon, lambda a: a, model=Model(())) == fused
    lifted = rerank(fused, analyze_query("coupa"), lexicon, lambda a: a, model=Model((("title_cover", 1.0),)))
    assert [f.article for f in lifted] == ["coupa.md", "travel.md"]


def test_a_family_stays_together_when_re_ranked(lexicon):
    from search.rerank import Model, rerank

    fused = [
        _fused("pay.md", 0.6, {}, {}),
        _fused("travel.ja.md", 0.5, {}, {}),
        _fused("travel.md", 0.5, {}, {}),
    ]
    out = rerank(fused, analyze_query("出張の手配"), lexicon, lambda a: a.replace(".ja.md", ".md"),
                 model=Model((("native", 1.0),)))
    assert [f.article for f in out] == ["travel.ja.md", "travel.md", "pay.md"]


def test_cited_counts_the_other_candidates_that_link_to_a_family(lexicon):
    """GitLab "病気休暇は年間何日まで有給で使えますか": per-country pages outrank the general
    Time Off page they each link to. ``cited`` (measured, not in ``RERANK``) reads that."""
    import math

    from search.rerank import Model, features, rerank

    fused = [
        _fused("laptop.md", 0.5, {"use-m3": 1}, {"use-m3": 0.5}),
        _fused("travel.md", 0.4, {"use-m3": 2}, {"use-m3": 0.4}),
        _fused("pay.md", 0.3, {"use-m3": 3}, {"use-m3": 0.3}),
        _fused("travel.ja.md", 0.3, {"use-m3": 4}, {"use-m3": 0.3}),
    ]
    query = analyze_query("pay")
    assert "cited" not in features(_families(fused), query, lexicon)[0]  # no links: not computed
    # Both link to pay.md; the translation's link to its original is within one family.
    lexicon.links = {"laptop.md": frozenset({"pay.md"}), "travel.md": frozenset({"pay.md", "laptop.md"}),
                     "travel.ja.md": frozenset({"travel.md"}), "coupa.md": frozenset({"pay.md"})}
    laptop, travel, pay = features(_families(fused), query, lexicon)
    assert pay["cited"] == pytest.approx(math.log1p(1.0 + 0.8**2) / 2)  # each citer by its relative fused score
    assert laptop["cited"] == pytest.approx(math.log1p(0.8**2) / 2)
    assert travel["cited"] == 0  # coupa.md is no candidate; travel.ja.md is travel's own family
    out = rerank(fused, query, lexicon, lambda a: a.replace(".ja.md", ".md"), model=Model((("cited", 1.0),)))
    assert [f.article for f in out][0] == "pay.md"


# --- the bridge's readings, capped at the multilingual model's confidence ---------------------
def _bridged(use_scores, bridge_scores, cross=None):
    """A Japanese question over an English-only handbook: USE reads the question, MiniLM
    (``minilm~``) the bridge's translation of it."""
    arts = ["per-diem", "pay-schedule"]
    w = weights_for(analyze_query("ソウル出張の日当はいくら"), EMBEDDERS)
    if cross is not None:
        w.cross = cross
    rankings = [Ranking("keyword", [], "ja"), Ranking("use-m3", use_scores, "ja"), Ranking("minilm~", bridge_scores, "en")]
    floors = {n: p.min_similarity for n, p in EMBEDDERS.items()}
    fused = fuse_calibrated(rankings, w, article_of=arts.__getitem__, same_lang=lambda p, lang: lang == "en",
                            floors=floors, coverage=0.0)
    return [f.article for f in fused], bridge_caps(rankings, w, 0.0, floors)


def test_a_translation_cannot_outvote_the_model_that_understood_the_question():
    # USE puts Per diem clearly first; the translation ("each payday, holiday pay...") scores
    # Pay schedule twice as high as USE's best. Uncapped the bridge's spread won (0.87 vs 0.82).
    order, caps = _bridged([(0, 0.40), (1, 0.30)], [(1, 0.70), (0, 0.45)])
    assert order == ["per-diem", "pay-schedule"]
    assert caps["minilm~"] == pytest.approx((0.40 - 0.10) / 0.90 / ((0.70 - 0.15) / 0.85))


def test_the_bridge_still_breaks_the_multilingual_models_near_ties():
    order, caps = _bridged([(0, 0.301), (1, 0.300)], [(1, 0.50), (0, 0.30)])
    assert order == ["pay-schedule", "per-diem"]
    # A translation scoring below USE's confidence is not raised to it.
    _, low = _bridged([(0, 0.60), (1, 0.30)], [(1, 0.40), (0, 0.30)])
    assert low["minilm~"] == 1.0


def test_without_a_multilingual_reader_nothing_is_capped():
    _, caps = _bridged([(0, 0.40), (1, 0.30)], [(1, 0.70), (0, 0.45)], cross={})
    assert caps == {}
