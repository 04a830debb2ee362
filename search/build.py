"""Build the index into a new directory and switch to it atomically.

The steps of ``build_index``: plan (what changed since the live build),
chunk (the new and changed articles), keyword (a new or updated Whoosh
index), embed (every live chunk, through the vector cache), bridge (the
cross-language terms), write (the other files, the manifest last), switch
(the ``current`` link) and clean up. Where each file goes is ``layout``'s.

A crash or Ctrl-C midway leaves ``current`` pointing at the previous build,
which keeps serving. An incremental build copies the previous keyword index,
deletes and re-adds only the changed articles' chunks, takes every other
chunk's vector (and every bridge term's) from the previous build's files, and
embeds only the new chunks and terms (through the cache): a one-article edit
of a 2,434-chunk handbook no longer looks 2 x 2,434 chunks and 10,000 terms
up in the vector cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import keyword
from .bridge import Bridge, extract_terms
from .chunking import chunk_document
from .documents import Chunk, Document
from .embedders import Embedder
from .layout import SCHEMA_VERSION, BuildLayout, IndexLayout, Manifest, ModelInfo
from .spelling import save_vocabulary, vocabulary
from .vector_cache import VectorCache, embed_with_cache
from .vectors import HNSW_THRESHOLD, VectorIndex

KEEP_BUILDS = 2  # the live one and the one before (a server may still be reading it)
COMPACT_RATIO = 0.3  # rebuild from scratch when this share of the chunk table is dead...
COMPACT_MIN = 500  # ...and it is this many chunks (small tables cost nothing to carry)

Progress = Callable[[str, int, int], None]


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


@dataclass
class _Plan:
    """What this build does: the chunk table carried over, and the articles to (re)chunk."""

    mode: str
    previous: BuildLayout | None
    hashes: dict[str, str]
    table: list[dict | None]
    added: list[str]
    changed: list[str]
    removed: list[str]

    @property
    def reuses(self) -> bool:
        return self.mode == "incremental"


def _config_hash(embedders: Sequence[Embedder], synonyms: list[list[str]]) -> str:
    models = [{"name": e.name, "languages": sorted(e.languages) if e.languages else None} for e in embedders]
    blob = json.dumps({"schema": SCHEMA_VERSION, "models": models, "synonyms": synonyms}, ensure_ascii=False)
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


def bridge_model(embedders: Sequence[Embedder]) -> Embedder | None:
    """The model whose space the bridge lives in: the first multilingual one."""
    return next((e for e in embedders if e.languages is None), None)


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


def _plan(docs: Sequence[Document], layout: IndexLayout, config_hash: str, full: bool) -> _Plan:
    previous = layout.current()
    old = Manifest.read(previous.manifest) if previous else None
    hashes = {d.id: _doc_hash(d) for d in docs}
    if len(hashes) != len(docs):
        raise ValueError("document ids must be unique")
    reusable = not full and old is not None and old.config_hash == config_hash and previous.keyword.dir.is_dir()
    old_hashes: dict[str, str] = old.articles if reusable and old else {}
    added = sorted(set(hashes) - set(old_hashes))
    removed = sorted(set(old_hashes) - set(hashes))
    changed = sorted(a for a in set(hashes) & set(old_hashes) if hashes[a] != old_hashes[a])
    if reusable and not (added or removed or changed):
        return _Plan("unchanged", previous, hashes, [], [], [], [])
    table: list[dict | None] = []
    if reusable:
        assert previous is not None
        dead = {*removed, *changed}
        table = [c if c is not None and c["doc_id"] not in dead else None for c in _read_table(previous)]
        dead_count = sum(1 for c in table if c is None)
        if dead_count >= COMPACT_MIN and dead_count / len(table) > COMPACT_RATIO:
            reusable = False
    if not reusable:
        return _Plan("full", previous, hashes, [], sorted(hashes), [], removed)
    return _Plan("incremental", previous, hashes, table, added, changed, removed)


def _read_table(build: BuildLayout) -> list[dict | None]:
    return json.loads(build.chunks.read_text(encoding="utf-8"))


def _chunk(plan: _Plan, docs: Sequence[Document], synonyms: list[list[str]]) -> list[tuple[int, Chunk]]:
    """Chunk the added and changed articles onto the end of the table; returns (position, chunk)."""
    by_id = {d.id: d for d in docs}
    new_positions: list[tuple[int, Chunk]] = []
    for doc_id in [*plan.added, *plan.changed]:
        for chunk in chunk_document(by_id[doc_id], synonyms):
            new_positions.append((len(plan.table), chunk))
            plan.table.append(asdict(chunk))
    return new_positions


def _keyword(plan: _Plan, build: BuildLayout, new_positions: list[tuple[int, Chunk]]) -> None:
    if plan.reuses:
        assert plan.previous is not None
        shutil.copytree(plan.previous.keyword.dir, build.keyword.dir)
        keyword.update(build.keyword, [*plan.changed, *plan.removed], new_positions)
    else:
        keyword.build(build.keyword, new_positions)


def _counting(progress: Progress | None, stage: str, total: int) -> Callable[[int], None]:
    """A tick(n) that reports ``stage`` as done/total to ``progress``."""
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(stage, done, total)

    return tick


def _previous_vectors(previous: BuildLayout | None, model: str) -> dict[int, np.ndarray]:
    """The previous build's vector of each chunk position for ``model`` (empty when there is none)."""
    if previous is None or not previous.vectors(model).exists():
        return {}
    index = VectorIndex.load(previous.vectors(model)).index
    positions = np.load(previous.positions(model), allow_pickle=False)
    return dict(zip(positions.tolist(), index.reconstruct_n(0, index.ntotal), strict=True))


def _embed(
    plan: _Plan,
    live_positions: list[int],
    embedders: Sequence[Embedder],
    build: BuildLayout,
    cache: VectorCache,
    progress: Progress | None,
    hnsw_threshold: int,
) -> dict[str, int]:
    """Embed every live chunk each model reads and write its vectors; returns vectors computed per model."""
    build.vectors_dir.mkdir()
    embedded: dict[str, int] = {}
    table = plan.table
    for emb in embedders:
        # An English-only model gets only the chunks it can read: embedding
        # Japanese text with MiniLM costs minutes and never wins a vote.
        positions = [i for i in live_positions if emb.understands(table[i]["lang"])]
        # An incremental build keeps every unchanged chunk at its position, and the config
        # hash (models included) is the previous build's: its vectors are these chunks' vectors.
        known = _previous_vectors(plan.previous, emb.name) if plan.reuses else {}
        todo = [i for i in positions if i not in known]
        tick = _counting(progress, f"embedding ({emb.name})", len(todo))
        fresh, embedded[emb.name] = embed_with_cache(emb, [Chunk(**table[i]).embedding_text() for i in todo], cache, tick)
        rows = dict(zip(todo, fresh, strict=True))
        vectors = np.asarray([known[i] if i in known else rows[i] for i in positions], dtype=np.float32)
        if len(positions):
            VectorIndex.build(vectors, hnsw_threshold).save(build.vectors(emb.name))
        np.save(build.positions(emb.name), np.asarray(positions, dtype=np.int64))
    return embedded


def _bridge(live: list[dict], model: Embedder, build: BuildLayout, cache: VectorCache, progress: Progress | None,
            previous: Bridge | None = None) -> int:
    """Embed the corpus's vocabulary terms with ``model`` and write the bridge; returns vectors computed.

    Built even for a one-language corpus: the readers may not share its language. ``previous``: the
    bridge of the build this one updates (same model), whose terms need no embedding again.
    """
    terms = extract_terms((f"{c['title']}\n{c['heading']}\n{c['text']}", c["lang"]) for c in live)
    known = dict(zip(previous.terms, previous.vectors, strict=True)) if previous is not None else {}
    todo = [t for t, _ in terms if t not in known]
    tick = _counting(progress, "embedding (bridge terms)", len(todo))
    fresh, computed = embed_with_cache(model, todo, cache, tick)
    known.update(zip(todo, fresh, strict=True))
    vectors = np.asarray([known[t] for t, _ in terms], dtype=np.float32).reshape(len(terms), model.dim)
    Bridge([t for t, _ in terms], [lang for _, lang in terms], vectors).save(build)
    return computed


def _previous_bridge(plan: _Plan, model: Embedder) -> Bridge | None:
    """The bridge of the build an incremental one updates, when it lives in ``model``'s space."""
    if not plan.reuses or plan.previous is None:
        return None
    if Manifest.read(plan.previous.manifest).bridge_model != model.name:
        return None
    return Bridge.load(plan.previous)


def _write(build: BuildLayout, plan: _Plan, docs: Sequence[Document], synonyms: list[list[str]], manifest: Manifest) -> None:
    live = [c for c in plan.table if c is not None]
    save_vocabulary(vocabulary(c["title"] + " " + c["heading"] + " " + c["text"] for c in live), build.vocab)
    build.chunks.write_text(json.dumps(plan.table, ensure_ascii=False), encoding="utf-8")
    build.synonyms.write_text(json.dumps(synonyms, ensure_ascii=False), encoding="utf-8")
    build.suggest.write_text(json.dumps(_suggestions(docs), ensure_ascii=False), encoding="utf-8")
    # The manifest is written last: a build dir without one is unfinished.
    manifest.write(build.manifest)


def _cleanup(layout: IndexLayout, keep: BuildLayout) -> None:
    dirs = layout.build_dirs()
    finished = [b.dir.resolve() for b in dirs if b.finished]
    keep_set = {keep.dir.resolve(), *finished[:KEEP_BUILDS]}
    for b in dirs:
        if b.dir.resolve() not in keep_set:
            shutil.rmtree(b.dir, ignore_errors=True)


def _make(
    plan: _Plan,
    build: BuildLayout,
    layout: IndexLayout,
    docs: Sequence[Document],
    embedders: Sequence[Embedder],
    synonyms: list[list[str]],
    progress: Progress | None,
    hnsw_threshold: int,
) -> tuple[dict[str, int], int]:
    """Fill ``build`` from ``plan``; returns vectors computed per model and the live chunk count."""
    _keyword(plan, build, _chunk(plan, docs, synonyms))
    live_positions = [i for i, c in enumerate(plan.table) if c is not None]
    bridge = bridge_model(embedders)
    cache = VectorCache(layout.vector_cache)
    try:
        embedded = _embed(plan, live_positions, embedders, build, cache, progress, hnsw_threshold)
        if bridge is not None:
            embedded["bridge"] = _bridge([plan.table[i] for i in live_positions], bridge, build, cache, progress,
                                         _previous_bridge(plan, bridge))
    finally:
        cache.close()
    manifest = Manifest(
        config_hash=_config_hash(embedders, synonyms),
        models=[ModelInfo(e.name, e.dim, sorted(e.languages) if e.languages else None) for e in embedders],
        articles=plan.hashes,
        families={d.id: d.family for d in docs if d.family and d.family != d.id},
        languages=sorted({d.lang for d in docs}),
        chunks=len(live_positions),
        bridge_model=bridge.name if bridge else None,
    )
    _write(build, plan, docs, synonyms, manifest)
    return embedded, len(live_positions)


def build_index(
    docs: Sequence[Document],
    index_dir: Path,
    embedders: Sequence[Embedder],
    *,
    synonyms: list[list[str]] | None = None,
    full: bool = False,
    progress: Progress | None = None,
    hnsw_threshold: int = HNSW_THRESHOLD,
) -> BuildReport:
    """Bring the index at ``index_dir`` up to date with ``docs``.

    ``progress(stage, done, total)`` is called while embedding.
    """
    started = time.monotonic()
    layout = IndexLayout(Path(index_dir))
    layout.root.mkdir(parents=True, exist_ok=True)
    synonyms = synonyms or []
    with _Lock(layout.lock):
        plan = _plan(docs, layout, _config_hash(embedders, synonyms), full)
        if plan.mode == "unchanged":
            assert plan.previous is not None
            # Under the lock, a dir without a manifest is a build that was killed: gone on every run.
            _cleanup(layout, plan.previous)
            return BuildReport(plan.previous.dir, "unchanged", len(docs), seconds=time.monotonic() - started)
        build = layout.new_build()
        try:
            embedded, chunks = _make(plan, build, layout, docs, embedders, synonyms, progress, hnsw_threshold)
            layout.switch(build)
        except BaseException:
            shutil.rmtree(build.dir, ignore_errors=True)
            raise
        _cleanup(layout, build)
        return BuildReport(
            build.dir, plan.mode, len(docs), plan.added, plan.changed, plan.removed, chunks, embedded, time.monotonic() - started
        )
