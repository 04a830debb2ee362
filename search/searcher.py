"""Answer queries from a built index: keyword + embeddings, fused, per article.

One ``Searcher`` serves one build; ``IndexHandle`` swaps in a new Searcher
when ``kb index`` switches the index, so a running server needs no restart.
Embedding models are loaded once per process and shared across swaps.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import keyword
from .analysis import normalize
from .bridge import Bridge, lang_group
from .build import current_build, read_manifest
from .chunking import synonym_terms
from .documents import Chunk, Hit, SearchResult
from .embedders import Embedder
from .fusion import Ranking, fuse, weights_for
from .query import analyze_query
from .snippets import snippet
from .spelling import Speller
from .vectors import VectorIndex

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kb-encode")
DEPTH = 100  # chunks taken from each retriever before fusion
BRIDGE_TERMS = 10  # terms a query is translated into, per other language (8-12 measured alike)
BRIDGE_MIN_SHARE = 0.3  # translate into English only where English is at least this share of chunks
#: Spelling is checked against the index's own (Latin-script) words, so only where
#: it has some: an English question over a Chinese handbook has no typos, just
#: words the handbook does not use, and "correcting" them to the odd English name
#: in it hurt (xquad-en2zh). Latin words per chunk: 18F 76, bundled 43, GitLab-ja 9
#: (English terms inside Japanese text), XQuAD-R zh 1.3, JSQuAD 0.7.
SPELL_MIN_LATIN_PER_CHUNK = 3.0
#: Below these cosine similarities a chunk found only by embeddings is noise,
#: not an answer (calibrated on the dev sets: unrelated queries score below).
MIN_SIMILARITY = {"use-m3": 0.10, "minilm": 0.15}
DEFAULT_MIN_SIMILARITY = 0.15
_HAS_WORD = re.compile(r"\w", re.UNICODE)


class IndexMissingError(RuntimeError):
    """No finished index in the index dir: run ``kb index``."""


@dataclass
class _Vectors:
    index: VectorIndex
    positions: np.ndarray


class Searcher:
    def __init__(self, build_dir: Path, embedders: dict[str, Embedder]) -> None:
        self.build_dir = build_dir
        self.manifest = read_manifest(build_dir)
        table = json.loads((build_dir / "chunks.json").read_text(encoding="utf-8"))
        self.chunks: list[Chunk | None] = [Chunk(**c) if c else None for c in table]
        self.keyword = keyword.KeywordIndex(build_dir / "keyword")
        self.speller = Speller.load(build_dir / "vocab.json")
        self.synonyms: list[list[str]] = json.loads((build_dir / "synonyms.json").read_text(encoding="utf-8"))
        self._suggest = json.loads((build_dir / "suggest.json").read_text(encoding="utf-8"))
        self.embedders: dict[str, Embedder] = {}
        self.vectors: dict[str, _Vectors] = {}
        for model in self.manifest["models"]:
            name = model["name"]
            if name not in embedders or not (build_dir / "vectors" / f"{name}.faiss").exists():
                continue
            self.embedders[name] = embedders[name]
            self.vectors[name] = _Vectors(
                VectorIndex.load(build_dir / "vectors" / f"{name}.faiss"),
                np.load(build_dir / "vectors" / f"{name}.pos.npy"),
            )
        self.articles = set(self.manifest["articles"])
        # Per chunk position, for fusing hundreds of ranked chunks per query.
        self._article_of = [c.doc_id if c else "" for c in self.chunks]
        self._group_of = [lang_group(c.lang) if c else "" for c in self.chunks]
        self.bridge = Bridge.load(build_dir)
        live = [c for c in self.chunks if c is not None]
        english = sum(1 for c in live if c.lang == "en") / max(1, len(live))
        self.spell_checks = sum(self.speller.counts.values()) >= SPELL_MIN_LATIN_PER_CHUNK * len(live)
        # Translating into English is what helps (CJK questions over 18F: 0.85 -> 0.92
        # hit@5); translating into Japanese did not help on the GitLab set, and
        # translating into a language the index barely has only adds noise.
        self.bridge_targets = {"en"} if english >= BRIDGE_MIN_SHARE else set()
        self.bridge_model = next((n for n, e in self.embedders.items() if e.languages is None), None)

    def close(self) -> None:
        self.keyword.close()

    # --- retrieval ------------------------------------------------------
    def _chunk(self, pos: int) -> Chunk:
        c = self.chunks[pos]
        assert c is not None
        return c

    def _dense(self, name: str, vec: np.ndarray, department: str | None, depth: int) -> list[tuple[int, float]]:
        k = depth * 3 if department else depth
        scores, ids = self.vectors[name].index.search(vec, k)
        floor = MIN_SIMILARITY.get(name, DEFAULT_MIN_SIMILARITY)
        items = []
        for s, i in zip(scores, ids, strict=True):
            pos = int(self.vectors[name].positions[i])
            if s < floor:
                break
            if department and self._chunk(pos).department != department:
                continue
            items.append((pos, float(s)))
            if len(items) >= depth:
                break
        return items

    def rankings(
        self, text: str, department: str | None = None, depth: int = DEPTH, lang: str | None = None
    ) -> tuple[list[Ranking], set[str]]:
        """Each retriever's chunk ranking for ``text`` (already normalised)."""
        lang = lang or analyze_query(text).lang
        expansions = synonym_terms(text, self.synonyms)
        readers = {n: e for n, e in self.embedders.items() if e.understands(lang)}  # MiniLM cannot read Korean
        # The models encode in worker threads (torch and numpy release the GIL)
        # while BM25 runs here: on two cores the query costs the slowest part,
        # not the sum of them.
        futures = {name: _POOL.submit(emb.encode_query, text) for name, emb in readers.items()}
        q = keyword.build_query(text, expansions)
        terms = q.all_terms()
        out: list[Ranking] = [Ranking("keyword", self.keyword.search(q, depth, department), lang)]
        vectors = {name: f.result() for name, f in futures.items()}
        for name in readers:
            out.append(Ranking(name, self._dense(name, vectors[name], department, depth), lang))
        if self.bridge is not None and self.bridge_targets and self.bridge_model in vectors:
            translations = self.bridge.translate(vectors[self.bridge_model], lang, BRIDGE_TERMS, into=self.bridge_targets)
            for group, words in translations.items():
                translated = " ".join(words)
                t_lang = "en" if group == "en" else ("ja" if group == "cjk-han" else group)
                t_readers = {n: e for n, e in self.embedders.items() if e.languages is not None and e.understands(t_lang)}
                t_futures = {n: _POOL.submit(e.encode_query, translated) for n, e in t_readers.items()}
                tq = keyword.build_query(translated)
                if tq:
                    out.append(Ranking("keyword~", self.keyword.search(tq, depth, department), t_lang))
                for name, f in t_futures.items():
                    out.append(Ranking(name + "~", self._dense(name, f.result(), department, depth), t_lang))
        terms.update(t for e in expansions for t in keyword.query_terms(e))
        return out, terms

    def search(self, raw_query: str, *, department: str | None = None, limit: int = 10, offset: int = 0) -> SearchResult:
        started = time.perf_counter()
        info = analyze_query(raw_query)
        result = SearchResult(query=raw_query, hits=[], language=info.lang)
        if not _HAS_WORD.search(info.text):
            result.took_ms = (time.perf_counter() - started) * 1000
            return result
        fused, terms = self._fused(info.text, info, department)
        suggestion = self.speller.correct(info.text) if self.spell_checks else None
        if suggestion and not any("keyword" in f.sources for f in fused):
            # No word of the query as typed is in the index: show results for the
            # correction, if its words are.
            alt_info = analyze_query(suggestion)
            alt, alt_terms = self._fused(alt_info.text, alt_info, department)
            if any("keyword" in f.sources for f in alt):
                fused, terms, result.corrected = alt, alt_terms, True
        result.did_you_mean = suggestion
        result.total = len(fused)
        result.ranked = [f.article for f in fused]
        for f in fused[offset : offset + limit]:
            c = self._chunk(f.best_chunk)
            text = c.text if c.kind != "title" or c.text else c.aliases
            result.hits.append(
                Hit(
                    article=c.doc_id,
                    anchor=c.anchor,
                    title=c.title,
                    heading=c.heading,
                    snippet=snippet(text, terms),
                    score=round(f.score, 6),
                    department=c.department,
                    lang=c.lang,
                    sources=f.sources,
                )
            )
        result.took_ms = (time.perf_counter() - started) * 1000
        return result

    def _fused(self, text: str, info, department: str | None):  # noqa: ANN001, ANN202
        rankings, terms = self.rankings(text, department, lang=info.lang)
        weights = weights_for(info, {n: e.languages for n, e in self.embedders.items()})
        groups = {lang: lang_group(lang or info.lang) for lang in {r.lang for r in rankings}}
        fused = fuse(
            rankings,
            weights,
            article_of=self._article_of.__getitem__,
            same_lang=lambda p, lang: self._group_of[p] == groups[lang],
        )
        return fused, terms

    def suggest(self, prefix: str, limit: int = 8) -> list[dict]:
        """Titles and aliases that start with (or have a word starting with) ``prefix``."""
        p = normalize(prefix).strip()
        if not p:
            return []
        starts, contains, seen = [], [], set()
        for s in self._suggest:
            label = normalize(s["label"])
            key = (s["label"], s["article"])
            if key in seen:
                continue
            if label.startswith(p):
                starts.append(s)
                seen.add(key)
            elif f" {p}" in f" {label}" or (not p.isascii() and p in label):
                contains.append(s)
                seen.add(key)
        return (starts + contains)[:limit]


class IndexHandle:
    """The live Searcher for an index dir, replaced whole when a new build appears."""

    def __init__(self, index_dir: Path, embedder_factory: Callable[[str], Embedder], check_every: float = 1.0) -> None:
        self.index_dir = Path(index_dir)
        self.factory = embedder_factory
        self.check_every = check_every
        self._embedders: dict[str, Embedder] = {}
        self._searcher: Searcher | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def _embedders_for(self, names: Sequence[str]) -> dict[str, Embedder]:
        for n in names:
            if n not in self._embedders:
                self._embedders[n] = self.factory(n)
        return {n: self._embedders[n] for n in names}

    def get(self) -> Searcher:
        now = time.monotonic()
        if self._searcher is not None and now - self._checked < self.check_every:
            return self._searcher
        with self._lock:
            build = current_build(self.index_dir)
            self._checked = time.monotonic()
            if build is None:
                if self._searcher is not None:
                    return self._searcher
                raise IndexMissingError(f"no search index in {self.index_dir}: run `kb index`")
            if self._searcher is None or self._searcher.build_dir != build:
                names = [m["name"] for m in read_manifest(build)["models"]]
                # The old Searcher is dropped, not closed: a request in another
                # thread may still be using it; its files close when it is collected.
                self._searcher = Searcher(build, self._embedders_for(names))
            return self._searcher
