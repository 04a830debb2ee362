"""The analyzer, chunking, snippets, spelling and query analysis of search/."""

from __future__ import annotations

import pytest

from search.analysis import MultilingualTokenizer, terms
from search.chunking import chunk_document, split_long, synonym_cover, synonym_terms, units
from search.documents import DocSection, Document
from search.keyword import build_query
from search.query import analyze_query
from search.snippets import snippet
from search.spelling import Speller, edit_distance, vocabulary


def test_english_is_stemmed_and_stop_words_dropped():
    assert terms("Requesting the parental leaves") == ["request", "parent", "leav"]
    assert terms("request") == terms("requests") == terms("requested")


def test_cjk_runs_become_overlapping_bigrams():
    assert terms("育児休業") == ["育児", "児休", "休業"]
    assert terms("연말정산") == ["연말", "말정", "정산"]
    assert terms("报销") == ["报销"]  # a 2-character query is one bigram: it matches
    assert terms("休") == ["休"]  # a lone character stays a unigram
    # Mixed text: each script handled its own way, full-width Latin folded.
    assert terms("ＶＰＮの設定") == ["vpn", "の設", "設定"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Parental Leave", [("parental", "Parental"), ("leave", "Leave")]),  # ASCII
        ("café 育児", [("café", "café"), ("育児", "育児")]),  # already NFKC
        ("ＶＰＮの設定", [("vpn", "ＶＰＮ"), ("の設", "の設"), ("設定", "設定")]),  # NFKC changes it
        ("İstanbul office", [("istanbul", "İstanbul"), ("office", "office")]),  # lower() lengthens it
    ],
)
def test_character_offsets_point_into_the_original_text(text, expected):
    # Highlighting marks text[startchar:endchar], so offsets must survive normalisation.
    toks = [(t.text, text[t.startchar : t.endchar]) for t in MultilingualTokenizer(stem=False)(text, chars=True)]
    assert toks == expected


def test_two_character_queries_match_longer_text():
    indexed = set(terms("通勤手当の申請方法について"))
    assert set(terms("申請")) <= indexed
    assert set(terms("手当")) <= indexed


def doc(**kw) -> Document:
    base = dict(id="finance/expenses.md", title="Expense policy", lang="en", department="finance")
    base.update(kw)
    return Document(**base)


def test_chunks_keep_heading_path_and_anchor_and_title():
    d = doc(
        summary="What we reimburse.",
        aliases=("expense claim",),
        sections=(
            DocSection("", (), "Intro."),
            DocSection("receipts", ("Receipts",), "Keep receipts over $25."),
            DocSection("lost-receipts", ("Receipts", "Lost receipts?"), "Use the missing receipt form."),
            DocSection("empty", ("Empty",), ""),
        ),
    )
    chunks = chunk_document(d)
    assert [(c.kind, c.anchor, c.heading) for c in chunks] == [
        ("title", "", ""),
        ("section", "", ""),
        ("section", "receipts", "Receipts"),
        ("faq", "lost-receipts", "Receipts › Lost receipts?"),
    ]
    assert chunks[0].aliases == "expense claim"
    text = chunks[3].embedding_text()
    assert text.startswith("Expense policy › Receipts › Lost receipts?\n")


def test_long_sections_split_with_overlap():
    sentences = [f"Sentence number {i} talks about travel rules." for i in range(120)]
    pieces = split_long(" ".join(sentences), max_units=100, overlap=20)
    assert len(pieces) > 3
    assert all(units(p) <= 100 for p in pieces)
    for a, b in zip(pieces, pieces[1:], strict=False):
        assert a.split(". ")[-1].rstrip(".") in b  # the next piece repeats the end of the previous one


def test_cjk_length_is_measured_in_characters():
    assert units("a b c") == 3
    assert units("育児休業") == 2  # two CJK characters weigh about one word
    jp = "育児休業は最大十六週間取得できます。" * 60
    pieces = split_long(jp, max_units=100, overlap=10)
    assert len(pieces) >= 5 and all(units(p) <= 100 for p in pieces)


def test_synonyms_feed_the_title_chunk():
    groups = [["PTO", "paid time off", "休暇", "휴가"], ["laptop", "notebook"]]
    assert synonym_terms("How to request PTO", groups) == ["paid time off", "休暇", "휴가"]
    assert synonym_terms("ptolemy", groups) == []  # whole words only for Latin terms
    chunks = chunk_document(doc(title="PTO policy"), groups)
    assert "休暇" in chunks[0].aliases


def test_synonym_cover_leaves_the_bridge_only_what_no_group_covered():
    groups = [["PTO", "annual leave", "年假"], ["laptop", "ノートパソコン"]]
    assert synonym_cover("年假有几天", groups) == (["PTO", "annual leave"], "有几天")
    assert synonym_cover("ptolemy PTO days", groups) == (["annual leave", "年假"], "ptolemy days")  # whole words
    assert synonym_cover("ノートパソコン", groups) == (["laptop"], "")  # all covered: nothing left to translate
    assert synonym_cover("VPN", groups) == ([], "vpn")
    # Two terms of one group, one inside the other: both are cut, the longer first.
    assert synonym_cover("PTO and annual leave", [["PTO", "annual leave", "leave"]])[1] == "and"


def test_phrase_queries_never_fail_on_fields_without_positions():
    q = build_query('"parental leave" weeks')
    assert q.phrases == [["parent", "leav"]] and {"parent", "leav", "week"} <= q.all_terms()
    wq = repr(q.whoosh())
    assert "aliases" in wq and "Phrase" in wq


def test_snippet_marks_terms_and_escapes_html():
    text = "Intro <b>bold</b>. " + "filler words here. " * 30 + "Parental leave is 16 weeks. Request parental leave early."
    out = snippet(text, set(terms("parental leave request")))
    assert "<mark>Parental</mark> <mark>leave</mark>" in out
    assert "<b>" not in out
    assert out.startswith("…")  # the window moved to where the matches are
    assert "<mark>育児休業</mark>" in snippet("育児休業は16週間です", set(terms("育児休業")))


def test_spelling_suggestions_come_from_the_index_vocabulary():
    sp = Speller(vocabulary(["paternity leave policy", "reimbursement of travel expenses", "expenses"]))
    assert sp.correct("paternty leave") == "paternity leave"
    assert sp.correct("reimbursment") == "reimbursement"
    assert sp.correct("expenses") is None  # nothing to correct
    assert sp.correct("育児休業") is None
    assert edit_distance("teh", "the") == 1  # a transposition counts once


def test_query_analysis():
    assert analyze_query("育児休業は何週間ですか").lang == "ja"
    assert analyze_query("연차 휴가").lang == "ko"
    assert analyze_query("报销流程").lang == "zh"
    info = analyze_query("VPN")
    assert info.lang == "en" and info.keywordish and not info.question
    long = analyze_query("how do I submit my expenses after a trip to the Tokyo office?")
    assert long.question and not long.keywordish
    assert len(analyze_query("x" * 5000).text) == 500
