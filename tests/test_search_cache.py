"""Repeated searches are served from the page cache, still logged, and never outlive their index build."""

from __future__ import annotations

from search.build import build_index
from search.cache import PageCache
from search.documents import Document
from search.embedders import EmbedderPool
from search.handle import IndexHandle
from search.service import SearchService

DOCS = [
    Document("hr/leave.md", "Parental leave", "en", "hr", "Sixteen weeks of paid parental leave."),
    Document("it/vpn.md", "Connecting to the VPN", "en", "it", "Use the VPN on public Wi-Fi."),
]
PRINTERS = Document("it/printers.md", "Printers", "en", "it", "How to add a printer on each floor.")


def service(tmp_path, use_embedder, seen, size=10):
    handle = IndexHandle(tmp_path / "index", EmbedderPool(lambda spec: use_embedder), check_every=0)
    return SearchService(handle, on_search=seen.append, cache_size=size)


def test_a_repeated_search_is_the_same_page_from_the_cache_and_logged_again(tmp_path, use_embedder):
    build_index(DOCS, tmp_path / "index", [use_embedder])
    seen = []
    svc = service(tmp_path, use_embedder, seen)
    try:
        first = svc.search("parental leave", record=True)
        again = svc.search("parental leave", record=True)
        assert (svc.cache.misses, svc.cache.hits) == (1, 1)
        assert [h.article for h in again.hits] == [h.article for h in first.hits] == ["hr/leave.md"]
        assert again.hits[0] is first.hits[0] and again.hits is not first.hits  # shared hits, own list
        assert seen == [first, again] and seen[1] is not seen[0]  # every search a person typed is logged
        svc.search("parental leave", page=2)
        svc.search("parental leave", reader_lang="ja")
        assert svc.cache.misses == 3  # another page or reader language is another entry
    finally:
        svc.index.close()


def test_a_new_build_empties_the_cache(tmp_path, use_embedder):
    build_index(DOCS, tmp_path / "index", [use_embedder])
    svc = service(tmp_path, use_embedder, [])
    try:
        before = svc.search("add a printer")
        assert "it/printers.md" not in [h.article for h in before.hits]
        build_index([*DOCS, PRINTERS], tmp_path / "index", [use_embedder])
        after = svc.search("add a printer")
        assert after.hits[0].article == "it/printers.md"
        assert svc.cache.hits == 0 and len(svc.cache) == 1
    finally:
        svc.index.close()


def test_the_least_recently_used_page_goes_first_and_size_zero_keeps_nothing():
    cache: PageCache[str] = PageCache(2)
    owner = object()
    made = []

    def make(k):
        return lambda: made.append(k) or k

    for k in ("a", "b", "a", "c", "a", "b"):
        cache.get(owner, k, make(k))
    assert made == ["a", "b", "c", "b"]  # "b" was the least recent when "c" came in
    off: PageCache[str] = PageCache(0)
    off.get(owner, "a", make("a"))
    off.get(owner, "a", make("a"))
    assert made[-2:] == ["a", "a"] and len(off) == 0
