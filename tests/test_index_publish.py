"""Incremental builds reuse the previous build's vectors; publishing builds into a shared directory and following
it: only changed files travel; hostile dirs refused."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from search.build import build_index
from search.documents import DocSection, Document
from search.layout import IndexLayout, Manifest
from search.publish import CHECKSUMS, follow_once, latest, publish_build
from search.searcher import Searcher
from search.shipping import ShippingError, export_build, import_build

from .test_search_index import docs

EDITED = Document("hr/leave.md", "Parental leave", "en", "hr", "Twenty weeks paid from 2027.",
                  sections=(DocSection("apply", ("How to apply",), "Ask your manager and file in Compass."),))


@pytest.fixture
def published(tmp_path, use_embedder):
    """A builder's index (tmp/a) with its build published in tmp/pub."""
    build_index(docs(), tmp_path / "a", [use_embedder])
    assert publish_build(tmp_path / "a", tmp_path / "pub") == IndexLayout(tmp_path / "a").current().dir.name
    return tmp_path / "pub"


def _files(build_dir):
    return sorted(p.relative_to(build_dir).as_posix() for p in build_dir.rglob("*") if p.is_file())


def test_a_follower_serves_the_published_build_and_then_takes_only_what_changed(tmp_path, published, use_embedder):
    first = follow_once(published, tmp_path / "b")
    live = IndexLayout(tmp_path / "b").current()
    source = IndexLayout(tmp_path / "a").current()
    assert first is not None and live.dir == first.build_dir and live.dir.name == source.dir.name
    assert first.linked == 0 and first.copied == len(_files(source.dir))
    assert Manifest.read(live.manifest) == Manifest.read(source.manifest)
    assert follow_once(published, tmp_path / "b") is None  # nothing new: nothing done
    assert publish_build(tmp_path / "a", published) is None  # already published

    build_index(docs(**{"hr/leave.md": EDITED}), tmp_path / "a", [use_embedder])
    new_id = publish_build(tmp_path / "a", published)
    assert latest(published) == new_id != live.dir.name
    second = follow_once(published, tmp_path / "b")
    now = IndexLayout(tmp_path / "b").current()
    assert now.dir == second.build_dir and now.dir.name == new_id
    # The edit changed some files (chunk table, vectors, manifest) and not the others (synonyms, ...).
    assert second.copied > 0 and second.linked > 0
    assert second.copied + second.linked == len(_files(IndexLayout(tmp_path / "a").current().dir))
    assert os.stat(now.synonyms).st_ino == os.stat(live.synonyms).st_ino  # linked, not copied
    for rel in _files(IndexLayout(tmp_path / "a").current().dir):
        assert (now.dir / rel).read_bytes() == (IndexLayout(tmp_path / "a").current().dir / rel).read_bytes()
    assert live.dir.is_dir()  # the old build stays until cleanup: a server may still read it
    searcher = Searcher(now, {"use-m3": use_embedder})
    try:
        assert searcher.search("twenty weeks 2027", limit=1).hits[0].article == "hr/leave.md"
    finally:
        searcher.close()
    # The publisher hard-linked its own unchanged files too.
    pub_old, pub_new = published / "builds" / live.dir.name, published / "builds" / new_id
    assert os.stat(pub_new / "synonyms.json").st_ino == os.stat(pub_old / "synonyms.json").st_ino


def test_a_followed_build_exports_and_imports_like_any_other(tmp_path, published):
    follow_once(published, tmp_path / "b")
    export_build(tmp_path / "b", tmp_path / "b.tar.gz")  # its checksum record is not exported twice
    assert import_build(tmp_path / "b.tar.gz", tmp_path / "c").files > 0


def _refused(published, tmp_path, message):
    before = IndexLayout(tmp_path / "b").current()
    with pytest.raises(ShippingError, match=message):
        follow_once(published, tmp_path / "b")
    after = IndexLayout(tmp_path / "b").current()
    assert (after.dir if after else None) == (before.dir if before else None)
    kept = {before.dir} if before else set()
    assert {b.dir for b in IndexLayout(tmp_path / "b").build_dirs()} == kept  # nothing left behind


def test_altered_files_links_and_bad_names_in_the_published_dir_are_refused(tmp_path, published):
    build = published / "builds" / latest(published)
    chunks = build / "chunks.json"
    original = chunks.read_bytes()
    chunks.write_bytes(original.replace(b"Compass", b"Kompas!"))
    _refused(published, tmp_path, "checksum mismatch")
    chunks.unlink()
    chunks.symlink_to("/etc/passwd")
    _refused(published, tmp_path, "outside the published build")
    chunks.unlink()
    chunks.symlink_to(build / "synonyms.json")  # a link, even to a file of the build, is not followed
    _refused(published, tmp_path, "plain file")
    chunks.unlink()
    chunks.write_bytes(original)
    sums = json.loads((build / CHECKSUMS).read_text())
    (build / CHECKSUMS).write_text(json.dumps({**sums, "../../evil": "0" * 64}))
    _refused(published, tmp_path, "refused entry")
    (build / CHECKSUMS).write_text(json.dumps(sums))
    assert follow_once(published, tmp_path / "b") is not None  # the same dir, repaired, is taken
    (published / "LATEST").write_text(json.dumps({"build": "../../etc"}))
    assert latest(published) is None and follow_once(published, tmp_path / "b") is None


def test_an_incremental_build_embeds_only_the_new_chunks_and_terms_even_without_the_cache(tmp_path, use_embedder):
    full = build_index(docs(), tmp_path / "a", [use_embedder])
    # Without the vector cache, only the previous build's own files can spare the embedding.
    IndexLayout(tmp_path / "a").vector_cache.unlink()
    again = build_index(docs(**{"hr/leave.md": EDITED}), tmp_path / "a", [use_embedder])
    assert again.mode == "incremental" and again.changed == ["hr/leave.md"]
    changed_chunks = sum(1 for c in json.loads(IndexLayout(tmp_path / "a").current().chunks.read_text())
                         if c and c["doc_id"] == "hr/leave.md")
    assert again.embedded["use-m3"] == changed_chunks < full.embedded["use-m3"]
    assert again.embedded["bridge"] < full.embedded["bridge"]
    # The same vectors as a build from scratch of the edited articles.
    scratch = build_index(docs(**{"hr/leave.md": EDITED}), tmp_path / "c", [use_embedder])
    a, c = IndexLayout(tmp_path / "a").current(), IndexLayout(tmp_path / "c").current()
    from search.bridge import Bridge
    from search.vectors import VectorIndex

    def by_text(build):
        table = json.loads(build.chunks.read_text())
        index = VectorIndex.load(build.vectors("use-m3")).index
        positions = np.load(build.positions("use-m3"))
        rows = zip(positions, index.reconstruct_n(0, index.ntotal), strict=True)
        return {json.dumps(table[p], sort_keys=True): v for p, v in rows}

    va, vc = by_text(a), by_text(c)
    assert va.keys() == vc.keys() and all(np.allclose(va[k], vc[k], atol=1e-5) for k in va)
    ba, bc = Bridge.load(a), Bridge.load(c)
    assert sorted(ba.terms) == sorted(bc.terms) and scratch.mode == "full"
    bridge_c = dict(zip(bc.terms, bc.vectors, strict=True))
    assert all(np.allclose(v, bridge_c[t], atol=1e-5) for t, v in zip(ba.terms, ba.vectors, strict=True))


def test_kb_index_follow_takes_no_build_options(tmp_path):
    from click.testing import CliRunner

    from kb.cli import main

    for extra in (["--full"], ["--export", str(tmp_path / "x.tar.gz")]):
        result = CliRunner().invoke(main, ["index", "--index", str(tmp_path / "b"), "--follow", str(tmp_path), *extra])
        assert result.exit_code == 2 and "build nothing" in result.output
    assert not (tmp_path / "b").exists()


def test_a_file_missing_from_the_previous_publication_or_the_live_build_is_copied_instead(tmp_path, published,
                                                                                         use_embedder):
    follow_once(published, tmp_path / "b")
    live = IndexLayout(tmp_path / "b").current()
    (published / "builds" / latest(published) / "synonyms.json").unlink()  # damaged: nothing to link from
    live.synonyms.unlink()
    build_index(docs(**{"hr/leave.md": EDITED}), tmp_path / "a", [use_embedder])
    new_id = publish_build(tmp_path / "a", published)
    report = follow_once(published, tmp_path / "b")
    now = IndexLayout(tmp_path / "b").current()
    assert now.dir.name == new_id and now.synonyms.read_bytes() == IndexLayout(tmp_path / "a").current().synonyms.read_bytes()
    assert report.linked > 0
