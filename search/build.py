"""Build the index into a new directory and switch to it atomically.

Layout of an index dir::

    current -> builds/20261123-081500-ab12   (symlink, replaced atomically)
    builds/<id>/manifest.json                (schema, models, per-article hashes)
    builds/<id>/chunks.json                  (chunk table; a position is a chunk's id)
    builds/<id>/keyword/                     (Whoosh)
    builds/<id>/vectors/<model>.faiss, .pos.npy
    builds/<id>/vocab.json, synonyms.json, suggest.json
    cache/vectors.sqlite                     (embeddings by model and text hash)
    .lock

A crash or Ctrl-C midway leaves ``current`` pointing at the previous build,
which keeps serving. An incremental build copies the previous keyword index,
deletes and re-adds only the changed articles' chunks, and takes every other
vector from the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import keyword
from .bridge import Bridge, extract_terms
from .chunking import chunk_document
from .documents import Chunk, Document
from .embedders import Embedder, VectorCache, embed_with_cache
from .spelling import Speller, vocabulary
from .vectors import HNSW_THRESHOLD, VectorIndex

SCHEMA_VERSION = 4
KEEP_BUILDS = 2  # the live one and the one before (a server may still be reading it)
COMPACT_RATIO = 0.3  # rebuild from scratch when this share of the chunk table is dead...
COMPACT_MIN = 500  # ...and it is this many chunks (small tables cost nothing to carry)


class IndexBusyError(RuntimeError):
    """Another build holds the lock."""


@dataclass
class BuildReport:
    build_dir: Path | None
    mode: str  # "full", "incremental" or "unchanged"
    articles: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks: int = 0
    embedded: dict[str, int] = field(default_factory=dict)  # model -> vectors computed
    seconds: float = 0.0


def current_build(index_dir: Path) -> Path | None:
    link = Path(index_dir) / "current"
    try:
        target = os.readlink(link)
    except OSError:
        return None
    path = (Path(index_dir) / target).resolve()
    return path if (path / "manifest.json").exists() else None


def read_manifest(build_dir: Path) -> dict:
    return json.loads((build_dir / "manifest.json").read_text(encoding="utf-8"))


def _chunk_dict(c: Chunk) -> dict:
    return asdict(c)


def _config_hash(embedders: Sequence[Embedder], synonyms: list[list[str]]) -> str:
    blob = json.dumps({"schema": SCHEMA_VERSION, "models": [e.name for e in embedders], "synonyms": synonyms}, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _doc_hash(d: Document) -> str:
    blob = json.dumps(asdict(d), ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _suggestions(docs: Sequence[Document]) -> list[dict]:
    out = []
    for d in docs:
        out.append({"label": d.title, "article": d.id, "title": d.title, "lang": d.lang})
        for alias in d.aliases:
            out.append({"label": alias, "article": d.id, "title": d.title, "lang": d.lang})
    return out


class _Lock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> _Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise IndexBusyError(f"another build is running on {self.path.parent}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


def _switch(index_dir: Path, build_dir: Path) -> None:
    tmp = index_dir / f".current-{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(build_dir, index_dir), tmp)
    os.replace(tmp, index_dir / "current")  # atomic on POSIX


def _cleanup(index_dir: Path, keep: Path) -> None:
    builds = index_dir / "builds"
    if not builds.is_dir():
        return
    dirs = sorted((p for p in builds.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    finished = [p for p in dirs if (p / "manifest.json").exists()]
    keep_set = {keep.resolve()} | {p.resolve() for p in finished[:KEEP_BUILDS]}
    for p in dirs:
        if p.resolve() not in keep_set:
            shutil.rmtree(p, ignore_errors=True)


def build_index(
    docs: Sequence[Document],
    index_dir: Path,
    embedders: Sequence[Embedder],
    *,
    synonyms: list[list[str]] | None = None,
    full: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    hnsw_threshold: int = HNSW_THRESHOLD,
) -> BuildReport:
    """Bring the index at ``index_dir`` up to date with ``docs``.

    ``progress(stage, done, total)`` is called while embedding.
    """
    started = time.monotonic()
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    synonyms = synonyms or []
    with _Lock(index_dir / ".lock"):
        previous = current_build(index_dir)
        old_manifest = read_manifest(previous) if previous else None
        config_hash = _config_hash(embedders, synonyms)
        hashes = {d.id: _doc_hash(d) for d in docs}
        if len(hashes) != len(docs):
            raise ValueError("document ids must be unique")
        reusable = (
            not full
            and old_manifest is not None
            and old_manifest.get("config_hash") == config_hash
            and (previous / "keyword").is_dir()
        )
        old_hashes: dict[str, str] = old_manifest["articles"] if reusable else {}
        added = sorted(set(hashes) - set(old_hashes))
        removed = sorted(set(old_hashes) - set(hashes))
        changed = sorted(a for a in set(hashes) & set(old_hashes) if hashes[a] != old_hashes[a])
        if reusable and not (added or removed or changed):
            return BuildReport(previous, "unchanged", len(docs), seconds=time.monotonic() - started)

        table: list[dict | None] = []
        if reusable:
            table = json.loads((previous / "chunks.json").read_text(encoding="utf-8"))
            dead = {*removed, *changed}
            table = [c if c is not None and c["doc_id"] not in dead else None for c in table]
            live = sum(1 for c in table if c is not None)
            dead_count = len(table) - live
            if dead_count >= COMPACT_MIN and dead_count / len(table) > COMPACT_RATIO:
                reusable = False
        if not reusable:
            table, added, changed, removed = [], sorted(hashes), [], sorted(set(old_hashes) - set(hashes))
        mode = "incremental" if reusable else "full"

        by_id = {d.id: d for d in docs}
        new_positions: list[tuple[int, Chunk]] = []
        for doc_id in [*added, *changed]:
            for chunk in chunk_document(by_id[doc_id], synonyms):
                new_positions.append((len(table), chunk))
                table.append(_chunk_dict(chunk))

        build_dir = index_dir / "builds" / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        build_dir.mkdir(parents=True)
        try:
            if reusable:
                shutil.copytree(previous / "keyword", build_dir / "keyword")
                keyword.update(build_dir / "keyword", [*changed, *removed], new_positions)
            else:
                keyword.build(build_dir / "keyword", new_positions)

            live_positions = [i for i, c in enumerate(table) if c is not None]
            (build_dir / "vectors").mkdir()
            cache = VectorCache(index_dir / "cache" / "vectors.sqlite")
            embedded: dict[str, int] = {}
            try:
                for emb in embedders:
                    # An English-only model gets only the chunks it can read: embedding
                    # Japanese text with MiniLM costs minutes and never wins a vote.
                    positions = [i for i in live_positions if emb.understands(table[i]["lang"])]
                    texts = [Chunk(**table[i]).embedding_text() for i in positions]
                    done = 0

                    def tick(n: int, name: str = emb.name, total: int = len(texts)) -> None:
                        nonlocal done
                        done += n
                        if progress:
                            progress(f"embedding ({name})", done, total)

                    vectors, computed = embed_with_cache(emb, texts, cache, tick)
                    embedded[emb.name] = computed
                    if len(positions):
                        VectorIndex.build(vectors, hnsw_threshold).save(build_dir / "vectors" / f"{emb.name}.faiss")
                    np.save(build_dir / "vectors" / f"{emb.name}.pos.npy", np.asarray(positions, dtype=np.int64))
                bridge_model = next((e for e in embedders if e.languages is None), None)
                live = [table[i] for i in live_positions]
                if bridge_model is not None:
                    # Built even for a one-language corpus: the readers may not share its language.
                    terms = extract_terms((f"{c['title']}\n{c['heading']}\n{c['text']}", c["lang"]) for c in live)
                    counted = 0

                    def tick_terms(n: int) -> None:
                        nonlocal counted
                        counted += n
                        if progress:
                            progress("embedding (bridge terms)", counted, len(terms))

                    vectors, computed = embed_with_cache(bridge_model, [t for t, _ in terms], cache, tick_terms)
                    embedded["bridge"] = computed
                    Bridge([t for t, _ in terms], [lang for _, lang in terms], vectors).save(build_dir)
            finally:
                cache.close()

            live_chunks = [table[i] for i in live_positions]
            Speller(vocabulary(c["title"] + " " + c["heading"] + " " + c["text"] for c in live_chunks)).save(build_dir / "vocab.json")
            (build_dir / "chunks.json").write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
            (build_dir / "synonyms.json").write_text(json.dumps(synonyms, ensure_ascii=False), encoding="utf-8")
            (build_dir / "suggest.json").write_text(json.dumps(_suggestions(docs), ensure_ascii=False), encoding="utf-8")
            manifest = {
                "schema": SCHEMA_VERSION,
                "config_hash": config_hash,
                "models": [{"name": e.name, "dim": e.dim, "languages": sorted(e.languages) if e.languages else None} for e in embedders],
                "articles": hashes,
                "languages": sorted({d.lang for d in docs}),
                "chunks": len(live_positions),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            # The manifest is written last: a build dir without one is unfinished.
            tmp = build_dir / "manifest.json.tmp"
            tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, build_dir / "manifest.json")
            _switch(index_dir, build_dir)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
        _cleanup(index_dir, build_dir)
        return BuildReport(
            build_dir, mode, len(docs), added, changed, removed, len(live_positions), embedded, time.monotonic() - started
        )
