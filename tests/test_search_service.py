"""SearchService on the bundled index: one result per article family, paging over families, logging."""

from __future__ import annotations

import pytest

from kb import KB
from kb.config import PROJECT_ROOT, Config
from search.documents import Hit
from search.handle import IndexHandle
from search.query import MAX_QUERY_CHARS
from search.searcher import IndexMissingError
from search.service import SearchService, preferred

LEAVE = "people/parental-leave.md"
LEAVE_JA = "people/parental-leave.ja.md"


@pytest.fixture(scope="module")
def service(bundled_index, models):
    config = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index)
    svc = KB(config, models=models).search
    yield svc
    svc.index.close()


def articles(page) -> list[str]:
    return [h.article for h in page.hits]


def test_a_family_found_in_two_languages_is_one_hit(service):
    en = service.search("parental leave weeks")
    assert en.hits[0].article == LEAVE and en.hits[0].family == LEAVE
    assert [h.article for h in en.hits[0].also_in] == [LEAVE_JA]
    assert LEAVE_JA not in articles(en)
    # Asked in Japanese, the Japanese version shows, in the family's place, whatever the interface language.
    ja = service.search("育児休業は何週間取れますか", reader_lang="en")
    assert ja.language == "ja"
    assert ja.hits[0].article == LEAVE_JA and ja.hits[0].family == LEAVE
    assert [(h.article, h.lang) for h in ja.hits[0].also_in] == [(LEAVE, "en")]


def test_the_readers_language_when_the_query_language_has_no_version(service):
    # A Korean question: the policy has no Korean version, the reader reads Japanese.
    page = service.search("육아휴직은 몇 주인가요", reader_lang="ja")
    assert page.language == "ko"
    top = next(h for h in page.hits if h.family == LEAVE)
    assert top.article == LEAVE_JA and [h.article for h in top.also_in] == [LEAVE]
    # Without a reader language, the English original stands for the family.
    plain = service.search("육아휴직은 몇 주인가요")
    assert next(h for h in plain.hits if h.family == LEAVE).article == LEAVE


def test_with_no_version_in_the_readers_language_the_original_stands_for_the_family(service):
    # Japanese shares its kanji with the Chinese translation, which outranks the
    # English original; a Japanese reader is shown the original.
    lost, lost_zh = "it-security/lost-or-stolen-device.md", "it-security/lost-or-stolen-device.zh.md"
    ranked = service.index.get().search("ノートパソコンを紛失しました", limit=50).ranked
    assert ranked.index(lost_zh) < ranked.index(lost)  # the case this is about
    for reader in (None, "ja"):
        page = service.search("ノートパソコンを紛失しました", reader_lang=reader)
        top = next(h for h in page.hits if h.family == lost)
        assert top.article == lost and [h.article for h in top.also_in] == [lost_zh]
    # A Chinese reader still gets the Chinese version.
    page = service.search("ノートパソコンを紛失しました", reader_lang="zh")
    assert next(h for h in page.hits if h.family == lost).article == lost_zh


def test_a_korean_reader_of_a_japanese_original_is_shown_its_english_translation():
    def version(article: str, lang: str) -> Hit:
        return Hit(article, "", "", "", "", 0.0, "people", lang, family="people/tokyo.ja.md")

    ja, en, zh = (version("people/tokyo.ja.md", "ja"), version("people/tokyo.md", "en"),
                  version("people/tokyo.zh.md", "zh"))
    assert preferred([zh, ja, en], ["ko", "ko"]) is en  # nobody's language: the common one
    assert preferred([zh, ja], ["ko", None]) is ja  # no English: the original
    assert preferred([zh], ["ko", None]) is zh
    assert preferred([zh, ja, en], ["ko", "zh"]) is zh  # the reader's own first


def test_a_regional_reader_language_finds_its_version(service):
    # `kb search --lang ja-JP`: articles' languages are stored without the region ("ja").
    for tag in ("ja-JP", "ja_jp", " JA "):
        page = service.search("육아휴직은 몇 주인가요", reader_lang=tag)
        assert next(h for h in page.hits if h.family == LEAVE).article == LEAVE_JA


def test_total_counts_families_not_articles(service):
    page = service.search("policy")
    ranked = service.index.get().search("policy", limit=1000).ranked
    families = {service.index.get().family_of(a) for a in ranked}
    assert page.total == len(families) < len(ranked)  # bundled translations are folded in
    assert page.pages == (page.total + 9) // 10


def test_page_two_continues_page_one(service):
    one = service.search("policy", page=1, page_size=5)
    two = service.search("policy", page=2, page_size=5)
    everything = service.search("policy", page=1, page_size=1000)
    assert len(one.hits) == len(two.hits) == 5 and two.page == 2
    assert [h.family for h in one.hits + two.hits] == [h.family for h in everything.hits[:10]]
    assert not {h.family for h in one.hits} & {h.family for h in two.hits}
    assert one.total == two.total == everything.total == len(everything.hits)
    past = service.search("policy", page=one.pages + 1, page_size=5)
    assert past.hits == [] and past.total == one.total


def test_the_hook_sees_the_first_page_of_recorded_searches(bundled_index, models):
    seen = []
    svc = SearchService(IndexHandle(bundled_index, models), on_search=seen.append)
    try:
        first = svc.search("expense receipts", record=True)
        assert seen == [first] and first.hits
        svc.search("expense receipts", page=2, record=True)
        svc.search("expense receipts")  # not typed by a person: a warm-up, an eval run
        assert seen == [first]
        nothing = svc.search(" ?!… ", record=True)
        assert not nothing.has_words and nothing.hits == [] and nothing.total == 0
        assert seen == [first]
    finally:
        svc.index.close()


def test_an_overlong_query_is_cut_and_said_so(service):
    raw = "vpn   setup " + "x" * (2 * MAX_QUERY_CHARS)
    page = service.search(raw)
    assert page.truncated and len(page.query) <= MAX_QUERY_CHARS
    assert page.query.startswith("vpn setup x")  # whitespace collapsed
    short = service.search("  vpn\tsetup ")
    assert short.query == "vpn setup" and not short.truncated and short.has_words


def test_suggest_and_a_missing_index(service, tmp_path, models):
    assert any(s["article"] == LEAVE for s in service.suggest("parental"))
    svc = SearchService(IndexHandle(tmp_path / "none", models))
    with pytest.raises(IndexMissingError):
        svc.search("vpn")
