"""Index lifecycle: incremental updates, atomic switch, crash safety, live reload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from search.build import IndexBusyError, _Lock, build_index
from search.documents import DocSection, Document
from search.embedders import EmbedderPool
from search.handle import IndexHandle
from search.layout import BuildLayout, IndexLayout, Manifest
from search.searcher import IndexMissingError, Searcher


def current_build(index_dir):
    build = IndexLayout(index_dir).current()
    return build.dir if build else None


def docs(**overrides):
    base = {
        "hr/leave.md": Document("hr/leave.md", "Parental leave", "en", "hr", "Sixteen weeks paid.",
                                sections=(DocSection("apply", ("How to apply",), "Ask your manager and file in Compass."),)),
        "it/vpn.md": Document("it/vpn.md", "Connecting to the VPN", "en", "it", "Use the VPN on public Wi-Fi.",
                              sections=(DocSection("install", ("Install",), "Install the meridian-vpn client."),)),
        "fin/expenses.md": Document("fin/expenses.md", "Expense policy", "en", "finance", "Receipts over $25.",
                                    sections=(DocSection("deadline", ("Deadline",), "Submit expenses within 30 days."),)),
    }
    base.update(overrides)
    return [d for d in base.values() if d is not None]


def top(index_dir, use_embedder, query):
    s = Searcher(IndexLayout(index_dir).current(), {"use-m3": use_embedder})
    try:
        return [h.article for h in s.search(query, limit=3).hits]
    finally:
        s.close()


def test_incremental_update_touches_only_what_changed(tmp_path, use_embedder):
    index_dir = tmp_path / "index"
    first = build_index(docs(), index_dir, [use_embedder])
    assert first.mode == "full" and first.embedded["use-m3"] == first.chunks
    again = build_index(docs(), index_dir, [use_embedder])
    assert again.mode == "unchanged" and again.build_dir == first.build_dir

    edited = Document("hr/leave.md", "Parental leave", "en", "hr", "Twenty weeks paid from 2027.",
                      sections=(DocSection("apply", ("How to apply",), "Ask your manager and file in Compass."),))
    report = build_index(docs(**{"hr/leave.md": edited}), index_dir, [use_embedder])
    assert report.mode == "incremental" and report.changed == ["hr/leave.md"]
    # Only the changed chunk (the title card with the new summary) was embedded again.
    assert report.embedded["use-m3"] == 1
    assert report.build_dir != first.build_dir
    assert "hr/leave.md" in top(index_dir, use_embedder, "twenty weeks")

    gone = build_index(docs(**{"it/vpn.md": None}), index_dir, [use_embedder])
    assert gone.removed == ["it/vpn.md"] and gone.mode == "incremental"
    for query in ("VPN", "meridian-vpn client install"):
        assert "it/vpn.md" not in top(index_dir, use_embedder, query)
    manifest = Manifest.read(IndexLayout(index_dir).current().manifest)
    assert set(manifest.articles) == {"hr/leave.md", "fin/expenses.md"}


def test_interrupted_build_leaves_the_live_index_serving(tmp_path, use_embedder):
    index_dir = tmp_path / "index"
    live = build_index(docs(), index_dir, [use_embedder]).build_dir

    def interrupt(stage, done, total):
        raise KeyboardInterrupt  # Ctrl-C in the middle of embedding

    new = docs(**{"it/new.md": Document("it/new.md", "Printers", "en", "it", "How to add a printer.")})
    with pytest.raises(KeyboardInterrupt):
        build_index(new, index_dir, [use_embedder], progress=interrupt, full=True)
    assert current_build(index_dir) == live
    assert [p for p in (index_dir / "builds").iterdir()] == [live]  # the half-built dir is gone
    assert "it/vpn.md" in top(index_dir, use_embedder, "VPN")


def test_killed_build_leaves_the_live_index_serving(tmp_path, use_embedder):
    index_dir = tmp_path / "index"
    live = build_index(docs(), index_dir, [use_embedder]).build_dir
    # A second process builds and is killed (SIGKILL: no cleanup runs) while embedding.
    script = textwrap.dedent(f"""
        import sys, threading
        from search.build import build_index
        from search.documents import Document
        from search.embedders import USEEmbedder
        d = [Document("x{{}}.md".format(i), "Doc {{}}".format(i), "en", "x", "text {{}}".format(i)) for i in range(50)]
        def progress(stage, done, total):
            print("EMBEDDING", flush=True)
            threading.Event().wait()  # hold here until killed
        build_index(d, {str(index_dir)!r}, [USEEmbedder()], progress=progress, full=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        assert proc.stdout.readline().strip() == "EMBEDDING"
        partial = [p for p in (index_dir / "builds").iterdir() if p != live]
        assert partial and not (partial[0] / "manifest.json").exists()
    finally:
        proc.kill()
        proc.wait()
    assert current_build(index_dir) == live
    assert "it/vpn.md" in top(index_dir, use_embedder, "VPN")
    # The next run cleans up the abandoned directory, even when nothing changed.
    report = build_index(docs(), index_dir, [use_embedder])
    assert report.mode == "unchanged" and current_build(index_dir) == live
    assert not any(p.exists() for p in partial)


def test_only_one_build_at_a_time(tmp_path, use_embedder):
    index_dir = tmp_path / "index"
    with _Lock(index_dir / ".lock"):
        with pytest.raises(IndexBusyError):
            build_index(docs(), index_dir, [use_embedder])


def test_handle_picks_up_a_new_index_without_restart(tmp_path, use_embedder):
    index_dir = tmp_path / "index"
    handle = IndexHandle(index_dir, EmbedderPool(lambda spec: use_embedder), check_every=0)
    with pytest.raises(IndexMissingError):
        handle.get()
    build_index(docs(), index_dir, [use_embedder])
    first = handle.get()
    assert [h.article for h in first.search("printer", limit=5).hits if h.article == "it/printers.md"] == []
    printers = Document("it/printers.md", "Printers", "en", "it", "How to add a printer on each floor.")
    build_index(docs(**{"it/printers.md": printers}), index_dir, [use_embedder])
    second = handle.get()
    assert second is not first
    assert second.search("add a printer", limit=3).hits[0].article == "it/printers.md"


def test_manifest_records_schema_models_and_hashes(tmp_path, use_embedder):
    report = build_index(docs(), tmp_path / "index", [use_embedder])
    manifest = json.loads((report.build_dir / "manifest.json").read_text())
    assert manifest["schema"] >= 1
    assert [m["name"] for m in manifest["models"]] == ["use-m3"]
    assert len(manifest["articles"]) == 3 and all(len(h) == 64 for h in manifest["articles"].values())


def test_typos_are_corrected_only_against_a_vocabulary_in_the_querys_language(tmp_path, use_embedder):
    english = build_index(docs(), tmp_path / "en", [use_embedder]).build_dir
    s = Searcher(BuildLayout(english), {"use-m3": use_embedder})
    typo = s.search("expnse deadlne", limit=3)
    assert typo.did_you_mean == "expense deadline" and typo.corrected
    assert typo.hits[0].article == "fin/expenses.md"
    s.close()
    # A Chinese handbook that mentions a few English names: an English question
    # is not misspelt Chinese ("paid" is one letter from "raid"), and its results
    # must not be replaced by a "correction".
    zh = [
        Document("hr/leave.zh.md", "育儿假", "zh", "hr", "员工可享受十六周带薪育儿假。请在 Compass 系统中申请。"),
        Document("it/vpn.zh.md", "连接 VPN", "zh", "it", "在公共无线网络上请使用 meridian 客户端连接 VPN。服务器磁盘使用 RAID 保护。"),
        Document("fin/expenses.zh.md", "费用报销", "zh", "finance", "收据须在三十天内提交。超过二十五美元需要收据。"),
    ]
    s = Searcher(BuildLayout(build_index(zh, tmp_path / "zh", [use_embedder]).build_dir), {"use-m3": use_embedder})
    result = s.search("how many weeks of paid parental leave", limit=3)
    assert result.did_you_mean is None and not result.corrected
    assert result.hits[0].article == "hr/leave.zh.md"
    s.close()
