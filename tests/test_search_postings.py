"""The array BM25F scorer gives Whoosh's own BM25F scores, and follows incremental updates."""

from __future__ import annotations

import shutil

import pytest

from search import keyword
from search.keyword import KeywordIndex, build_query
from search.layout import IndexLayout, KeywordLayout

QUERIES = [
    "parental leave",
    "how do I get reimbursed for a taxi to the airport",
    "laptop stolen",
    "expenses",
    "育児休業は何週間",
    "연차 휴가",
    "住房公积金",
    "vpn password mfa phishing email",
]


def whoosh_scores(kw: KeywordIndex, q: keyword.KeywordQuery, department: str | None = None) -> dict[int, float]:
    """Every live chunk Whoosh's matcher scores for ``q``, walked one document at a time."""
    s = kw._searcher
    reader = s.reader()
    m = q.whoosh().normalize().matcher(s, s.context())
    out: dict[int, float] = {}
    while m.is_active():
        doc = m.id()
        fields = reader.stored_fields(doc)
        if not reader.is_deleted(doc) and department in (None, fields["department"]):
            out[int(fields["chunk"])] = m.score()
        m.next()
    return out


@pytest.fixture
def bundled_keyword(bundled_index, tmp_path):
    path = tmp_path / "keyword"
    shutil.copytree(IndexLayout(bundled_index).current().keyword.dir, path)
    return KeywordLayout(path)


def assert_same(kw: KeywordIndex, q: keyword.KeywordQuery, department: str | None = None) -> None:
    expected = whoosh_scores(kw, q, department)
    got = dict(kw.search(q, limit=10**6, department=department))
    assert expected, f"the query finds nothing, so it proves nothing: {q}"
    assert got.keys() == expected.keys()
    for pos, score in expected.items():
        assert got[pos] == pytest.approx(score, rel=1e-5), pos


@pytest.mark.parametrize("text", QUERIES)
def test_scores_equal_whooshs_bm25f(bundled_keyword, text):
    kw = KeywordIndex(bundled_keyword)
    assert_same(kw, build_query(text))


def test_synonym_weights_and_department_filter_match_whoosh(bundled_keyword):
    kw = KeywordIndex(bundled_keyword)
    q = build_query("PTO request", expansions=["paid time off", "vacation"])
    assert q.terms["vacat"] == keyword.SYNONYM_WEIGHT and q.terms["pto"] == 1.0
    assert_same(kw, q)
    assert_same(kw, build_query("reimbursement receipts"), department="finance")


def test_best_first_and_limited(bundled_keyword):
    kw = KeywordIndex(bundled_keyword)
    hits = kw.search(build_query("expense receipts deadline"), limit=5)
    assert len(hits) == 5
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    everything = kw.search(build_query("expense receipts deadline"), limit=10**6)
    assert hits == everything[:5]


def test_phrases_go_to_whoosh(bundled_keyword):
    kw = KeywordIndex(bundled_keyword)
    q = build_query('"parental leave" weeks')
    assert q.phrases
    assert kw.search(q, limit=10) == kw.whoosh_search(q, limit=10)


def test_unknown_words_find_nothing(bundled_keyword):
    kw = KeywordIndex(bundled_keyword)
    assert kw.search(build_query("zzyzx qwxv"), limit=10) == []
    assert kw.search(build_query(""), limit=10) == []


def test_an_incremental_update_is_exported_too(bundled_keyword):
    kw = KeywordIndex(bundled_keyword)
    before = kw.search(build_query("vpn"), limit=100)
    removed = "it-security/vpn.md"
    vpn_positions = {int(f["chunk"]) for f in kw._searcher.reader().all_stored_fields() if f["article"] == removed}
    assert vpn_positions & {p for p, _ in before}
    kw.close()
    keyword.update(bundled_keyword, [removed], [])
    kw = KeywordIndex(bundled_keyword)
    after = kw.search(build_query("vpn"), limit=100)
    assert after and not vpn_positions & {p for p, _ in after}
    # Whoosh keeps deleted documents in its statistics until segments merge; so do we.
    assert_same(kw, build_query("vpn meridian client"))


def test_an_index_from_before_the_export_is_scored_without_writing(bundled_keyword):
    from search import postings

    exported = KeywordIndex(bundled_keyword)
    expected = {text: exported.search(build_query(text), limit=100) for text in QUERIES}
    exported.close()
    bundled_keyword.postings_terms.unlink()
    bundled_keyword.postings.unlink()
    assert not postings.exported(bundled_keyword)
    files = {p: p.stat().st_mtime_ns for p in bundled_keyword.dir.iterdir()}
    kw = KeywordIndex(bundled_keyword)
    # Opening for reading writes nothing: the arrays are collected in memory...
    assert {p: p.stat().st_mtime_ns for p in bundled_keyword.dir.iterdir()} == files
    assert not postings.exported(bundled_keyword)
    # ...and score exactly as the exported ones do.
    assert {text: kw.search(build_query(text), limit=100) for text in QUERIES} == expected
    assert_same(kw, build_query("parental leave"))
