"""Shipping an index: `kb index --export` on one host, `--import` on others; hostile tarballs refused."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from search.build import build_index
from search.layout import IndexLayout, Manifest
from search.searcher import Searcher
from search.shipping import ShippingError, export_build, import_build

from .test_search_index import docs


@pytest.fixture
def exported(tmp_path, use_embedder) -> Path:
    build_index(docs(), tmp_path / "a", [use_embedder])
    out = tmp_path / "build.tar.gz"
    export_build(tmp_path / "a", out)
    return out


def test_export_then_import_serves_the_same_build(tmp_path, exported, use_embedder):
    source = IndexLayout(tmp_path / "a").current()
    report = import_build(exported, tmp_path / "b")
    live = IndexLayout(tmp_path / "b").current()
    assert live is not None and live.dir == report.build_dir and live.dir.parent == tmp_path / "b" / "builds"
    assert Manifest.read(live.manifest) == Manifest.read(source.manifest)
    searcher = Searcher(live, {"use-m3": use_embedder})
    try:
        assert searcher.search("meridian-vpn client", limit=1).hits[0].article == "it/vpn.md"
    finally:
        searcher.close()
    # Importing again makes a new build and switches to it; the old one stays (a server may still read it).
    again = import_build(exported, tmp_path / "b")
    assert again.build_dir != report.build_dir and IndexLayout(tmp_path / "b").current().dir == again.build_dir
    assert report.build_dir.is_dir()


def test_an_imported_index_builds_incrementally_without_embedding_again(tmp_path, exported, use_embedder):
    # The tarball has the vectors, not the vector cache: import puts them into the local cache,
    # so a replica that reindexes itself (kb serve --watch) embeds only what changed.
    report = import_build(exported, tmp_path / "b")
    assert report.cached > 0
    from search.documents import DocSection, Document

    edited = Document("hr/leave.md", "Parental leave", "en", "hr", "Twenty weeks paid from 2027.",
                      sections=(DocSection("apply", ("How to apply",), "Ask your manager and file in Compass."),))
    again = build_index(docs(**{"hr/leave.md": edited}), tmp_path / "b", [use_embedder])
    assert again.mode == "incremental" and again.embedded["use-m3"] == 1


def test_export_without_a_build_is_a_clear_error(tmp_path):
    with pytest.raises(ShippingError, match="no finished build"):
        export_build(tmp_path / "empty", tmp_path / "x.tar.gz")


def _rewrite(src: Path, dest: Path, change) -> Path:
    """Copy the tarball member by member through ``change(info, data) -> [(info, data)]``."""
    with tarfile.open(src) as tin, tarfile.open(dest, "w:gz") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isfile() else None
            for info, payload in change(m, data):
                tout.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return dest


def _extra(kind: str):
    def change(m, data):
        yield m, data
        if m.name != "build/manifest.json":
            return
        info = tarfile.TarInfo({"abs": "/tmp/evil", "dotdot": "build/../../evil", "outside": "other/file",
                                "dup": "build/manifest.json"}.get(kind, "build/evil"))
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, "build/manifest.json"
        elif kind == "device":
            info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
        elif kind == "fifo":
            info.type = tarfile.FIFOTYPE
        else:
            info.size = 1
            yield info, b"x"
            return
        yield info, None
    return change


@pytest.mark.parametrize("kind", ["abs", "dotdot", "outside", "dup", "symlink", "hardlink", "device", "fifo"])
def test_hostile_members_are_refused_and_nothing_changes(tmp_path, exported, kind):
    good = import_build(exported, tmp_path / "b").build_dir
    bad = _rewrite(exported, tmp_path / f"{kind}.tar.gz", _extra(kind))
    with pytest.raises(ShippingError):
        import_build(bad, tmp_path / "b")
    layout = IndexLayout(tmp_path / "b")
    assert layout.current().dir == good
    assert [b.dir for b in layout.build_dirs()] == [good]  # the refused import left no dir behind
    assert not Path("/tmp/evil").exists() and not (tmp_path / "evil").exists()


def test_altered_file_fails_its_checksum(tmp_path, exported):
    def change(m, data):
        if m.name == "build/chunks.json":
            data = data.replace(b"Compass", b"Kompas!")
            m.size = len(data)
        yield m, data
    bad = _rewrite(exported, tmp_path / "altered.tar.gz", change)
    with pytest.raises(ShippingError, match="checksum"):
        import_build(bad, tmp_path / "b")
    assert IndexLayout(tmp_path / "b").current() is None


def test_wrong_schema_and_junk_are_refused(tmp_path, exported):
    def change(m, data):
        if m.name == "build/manifest.json":
            data = json.dumps({**json.loads(data), "schema": 99}).encode()
            m.size = len(data)
        if m.name == "build/checksums.json":
            return  # re-added below with the new manifest's sum
        yield m, data

    altered = _rewrite(exported, tmp_path / "schema.tar.gz", change)
    import hashlib
    with tarfile.open(altered) as tin:
        members = [(m, tin.extractfile(m).read()) for m in tin.getmembers()]
    sums = {m.name.removeprefix("build/"): hashlib.sha256(d).hexdigest() for m, d in members}
    with tarfile.open(tmp_path / "schema2.tar.gz", "w:gz") as tout:
        data = json.dumps(sums).encode()
        info = tarfile.TarInfo("build/checksums.json")
        info.size = len(data)
        tout.addfile(info, io.BytesIO(data))
        for m, d in members:
            tout.addfile(m, io.BytesIO(d))
    with pytest.raises(ShippingError, match="schema 99"):
        import_build(tmp_path / "schema2.tar.gz", tmp_path / "b")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    with pytest.raises(ShippingError):
        import_build(junk, tmp_path / "b")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(exported.read_bytes()[: exported.stat().st_size // 2])
    with pytest.raises(ShippingError):
        import_build(truncated, tmp_path / "b")
    assert IndexLayout(tmp_path / "b").current() is None
