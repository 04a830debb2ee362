"""Answer queries from a built index: keyword + embeddings, fused per article, the top re-ranked.

One ``Searcher`` serves one build; ``IndexHandle`` (handle.py) swaps in a new
Searcher when ``kb index`` switches the index, so a running server needs no restart.
Embedding models come from the process's ``EmbedderPool`` and are shared
across swaps. Grouping articles into families, paging and logging are the
``SearchService``'s (service.py); ``Searcher.search`` ranks articles.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import answer, keyword, rerank
from .analysis import normalize, stem, terms
from .bridge import Bridge, lang_group
from .chunking import synonym_cover
from .documents import Chunk, Hit, SearchResult
from .embedders import Embedder, Profile
from .evidence import Evidence, read_evidence
from .fusion import Fused, Ranking, fuse_calibrated, weights_for
from .layout import BuildLayout, Manifest
from .query import QueryInfo, analyze_query, clean_query, query_language
from .snippets import snippet
from .spelling import Speller, clearly_better, listed_words
from .timing import Timings, timed
from .vectors import VectorIndex

DEPTH = 100  # chunks taken from each retriever before fusion
ENCODER_THREADS = 2  # query encodings at once: one per model of the default pair
BRIDGE_TERMS = 10  # terms a query is translated into, per other language (8-12 measured alike)
BRIDGE_MIN_SHARE = 0.3  # translate into English only where English is at least this share of chunks
#: Spelling is checked against the index's own (Latin-script) words, so only where
#: it has some: an English question over a Chinese handbook has no typos, just
#: words the handbook does not use, and "correcting" them to the odd English name
#: in it hurt (xquad-en2zh). Latin words per chunk: 18F 76, bundled 43, GitLab-ja 9
#: (English terms inside Japanese text), XQuAD-R zh 1.3, JSQuAD 0.7.
SPELL_MIN_LATIN_PER_CHUNK = 3.0


class IndexMissingError(RuntimeError):
    """No finished index in the index dir: run ``kb index``."""


@dataclass
class _Vectors:
    index: VectorIndex
    positions: np.ndarray


@dataclass
class Retrieval:
    """Every article a query found, fused and best first, before hits are made."""

    info: QueryInfo
    fused: list[Fused] = field(default_factory=list)
    terms: set[str] = field(default_factory=set)  # what snippets mark
    did_you_mean: str | None = None
    corrected: bool = False
    #: Whether the handbook answers (search/answer.py); not answered with
    #: NOTHING_MATCHED: ``fused`` is empty (nothing worth showing).
    decision: answer.Decision = field(default_factory=lambda: answer.Decision(False, answer.NOTHING_MATCHED))


class Searcher:
    def __init__(
        self, build: BuildLayout, embedders: Mapping[str, Embedder], *, encoders: ThreadPoolExecutor | None = None
    ) -> None:
        """``encoders``: the threads that encode queries (by default the Searcher's own)."""
        self.build = build
        self.manifest = Manifest.read(build.manifest)
        table = json.loads(build.chunks.read_text(encoding="utf-8"))
        self.chunks: list[Chunk | None] = [Chunk(**c) if c else None for c in table]
        self.keyword = keyword.KeywordIndex(build.keyword)
        self.synonyms: list[list[str]] = json.loads(build.synonyms.read_text(encoding="utf-8"))
        listed = [t for g in self.synonyms for t in g] + [c.aliases for c in self.chunks if c and c.aliases]
        self.speller = Speller.load(build.vocab, protected=listed_words(listed))
        self._suggest = json.loads(build.suggest.read_text(encoding="utf-8"))
        self._load_vectors(embedders)
        self.articles = set(self.manifest.articles)
        # Per chunk position, for fusing hundreds of ranked chunks per query.
        self._article_of = [c.doc_id if c else "" for c in self.chunks]
        self._lang_of = [c.lang if c else "" for c in self.chunks]
        self._linkable = [c is not None and c.kind != "title" for c in self.chunks]
        self.bridge = Bridge.load(build)
        self.lexicon = rerank.Lexicon(self.chunks, self.keyword.doc_freq, self.keyword.size, self.keyword.scorer)
        live = [c for c in self.chunks if c is not None]
        groups = Counter(lang_group(c.lang) for c in live)
        #: Share of chunks per language group (answerability: is the query's language in the index).
        self.lang_share = {g: n / max(1, len(live)) for g, n in groups.items()}
        english = self.lang_share.get("en", 0.0)
        self.spell_checks = sum(self.speller.counts.values()) >= SPELL_MIN_LATIN_PER_CHUNK * len(live)
        # Translating into English is what helps (CJK questions over 18F: 0.85 -> 0.92
        # hit@5); translating into Japanese did not help on the GitLab set, and
        # translating into a language the index barely has only adds noise.
        self.bridge_targets = {"en"} if english >= BRIDGE_MIN_SHARE else set()
        bridge_model = self.manifest.bridge_model
        self.bridge_model = bridge_model if bridge_model in self.embedders else None
        self._own_encoders = encoders is None
        self._encoders = encoders or ThreadPoolExecutor(ENCODER_THREADS, thread_name_prefix="kb-encode")

    def _load_vectors(self, embedders: Mapping[str, Embedder]) -> None:
        self.embedders: dict[str, Embedder] = {}
        self.vectors: dict[str, _Vectors] = {}
        for model in self.manifest.models:
            name = model.name
            if name not in embedders or not self.build.vectors(name).exists():
                continue
            self.embedders[name] = embedders[name]
            self.vectors[name] = _Vectors(VectorIndex.load(self.build.vectors(name)), np.load(self.build.positions(name)))

    def close(self) -> None:
        self.keyword.close()
        if self._own_encoders:
            self._encoders.shutdown(wait=False)

    def family_of(self, article: str) -> str:
        return self.manifest.family_of(article)

    # --- retrieval ------------------------------------------------------
    def _chunk(self, pos: int) -> Chunk:
        c = self.chunks[pos]
        assert c is not None
        return c

    def _dense(self, name: str, vec: np.ndarray, department: str | None, depth: int) -> list[tuple[int, float]]:
        k = depth * 3 if department else depth
        scores, ids = self.vectors[name].index.search(vec, k)
        floor = self.embedders[name].profile.min_similarity
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
        self, text: str, department: str | None = None, depth: int = DEPTH, lang: str | None = None,
        timings: Timings | None = None,
    ) -> tuple[list[Ranking], set[str]]:
        """Each retriever's chunk ranking for ``text`` (already normalised), and the terms to mark."""
        clock = timings or Timings()
        lang = lang or analyze_query(text).lang
        expansions, rest = synonym_cover(text, self.synonyms)
        readers = {n: e for n, e in self.embedders.items() if e.understands(lang)}  # MiniLM cannot read Korean
        # The models encode in worker threads (torch and numpy release the GIL)
        # while BM25 runs here: on two cores the query costs the slowest part,
        # not the sum of them.
        futures = {name: self._encoders.submit(timed, emb.encode_query, text) for name, emb in readers.items()}
        # Only into the corpus's other languages: an English question over an English
        # handbook has nothing to translate, and must not pay for an encoding of it.
        targets = (self.bridge_targets & self.bridge.languages()) - {lang_group(lang)} if self.bridge else set()
        bridging = bool(targets) and self.bridge_model in readers
        # What the synonyms did not cover is all the bridge has to translate (one more
        # encoding, in parallel with the others, and only when a synonym matched).
        rest_future = None
        if bridging and expansions and rest and rest != text:
            rest_future = self._encoders.submit(self.embedders[self.bridge_model].encode_query, rest)
        with clock.stage("keyword"):
            q = keyword.build_query(text, expansions)
            marked = q.all_terms()
            out: list[Ranking] = [Ranking("keyword", self.keyword.search(q, depth, department), lang)]
        vectors = {}
        for name, f in futures.items():
            vectors[name], seconds = f.result()
            clock.add(f"embed:{name}", seconds)
        with clock.stage("vectors"):
            for name in readers:
                out.append(Ranking(name, self._dense(name, vectors[name], department, depth), lang))
        if bridging:
            with clock.stage("bridge"):
                rest_vec = rest_future.result() if rest_future is not None else vectors[self.bridge_model]
                out += self._bridged(rest_vec if rest else None, lang, targets, department, depth, expansions)
        marked.update(t for e in expansions for t in terms(e))
        return out, marked

    def _bridged(
        self, vec: np.ndarray | None, lang: str, targets: set[str], department: str | None, depth: int,
        expansions: list[str],
    ) -> list[Ranking]:
        """Rankings of the query translated through the bridge, by the retrievers that
        read the translation (``keyword~``, and every model with a bridge weight).

        ``vec``: the encoding of what the synonyms did not cover (None: they covered it
        all); the synonyms' own terms in a target language lead its translation."""
        assert self.bridge is not None
        out: list[Ranking] = []
        found = self.bridge.translate(vec, lang, BRIDGE_TERMS, into=targets) if vec is not None else {}
        for group in sorted(targets):
            own = [e for e in expansions if lang_group(query_language(normalize(e))) == group]
            words = list(dict.fromkeys([*own, *found.get(group, [])]))
            if not words:
                continue
            translated = " ".join(words)
            t_lang = "en" if group == "en" else ("ja" if group == "cjk-han" else group)
            t_readers = {n: e for n, e in self.embedders.items() if e.profile.bridge_weight > 0 and e.understands(t_lang)}
            t_futures = {n: self._encoders.submit(e.encode_query, translated) for n, e in t_readers.items()}
            tq = keyword.build_query(translated)
            if tq:
                out.append(Ranking("keyword~", self.keyword.search(tq, depth, department), t_lang))
            for name, f in t_futures.items():
                out.append(Ranking(name + "~", self._dense(name, f.result(), department, depth), t_lang))
        return out

    def retrieve(self, raw_query: str, *, department: str | None = None, timings: Timings | None = None) -> Retrieval:
        """Every article found for ``raw_query``, best first (nothing for a query without words).

        ``timings``: filled with the seconds of each stage (search/timing.py)."""
        t = timings or Timings()
        with t.stage("analyze"):
            info = analyze_query(raw_query)
        found = Retrieval(info)
        if not info.has_words:
            return found
        found.fused, found.terms, found.decision, rankings = self._fused(info, department, t)
        # Corrected as typed, not normalised: the reader's capitals stay.
        with t.stage("spelling"):
            suggestion = self.speller.correct(clean_query(raw_query)[0]) if self.spell_checks else None
        if suggestion:
            alt, alt_terms, alt_decision, alt_rankings = self._fused(analyze_query(suggestion), department, t)
            # Only when the correction reads clearly closer: otherwise the typed words were not typos.
            if clearly_better(self._closeness(rankings), self._closeness(alt_rankings)):
                found.did_you_mean = suggestion
                if not any("keyword" in f.sources for f in found.fused) and any("keyword" in f.sources for f in alt):
                    # No word of the query as typed is in the index: show results for the
                    # correction, whose words are.
                    found.fused, found.terms, found.corrected, found.decision = alt, alt_terms, True, alt_decision
        if found.decision.reason == answer.NOTHING_MATCHED:
            found.fused = []  # gibberish or off-topic: the closest chunks are noise
        return found

    def _closeness(self, rankings: list[Ranking]) -> dict[str, float]:
        """Each model's best similarity for the query itself (its floor if nothing passed)."""
        return {
            r.name: r.items[0][1] if r.items else self.embedders[r.name].profile.min_similarity
            for r in rankings
            if r.name in self.embedders
        }

    def embedder_profiles(self) -> dict[str, Profile]:
        return {n: e.profile for n, e in self.embedders.items()}

    def evidence(self, info: QueryInfo, rankings: list[Ranking]) -> Evidence:
        """What the rankings say about whether the handbook answers (search/answer.py)."""
        return read_evidence(
            info, rankings, self.chunks, self.embedder_profiles(), self._doc_freq, self.keyword.size,
            self.lang_share.get(lang_group(info.lang), 0.0),
        )

    def _doc_freq(self, term: str) -> int:
        """A term's chunk frequency; a misspelling counts as its correction ("parentel" as
        "parental"), so a typo is not a word the handbook lacks."""
        df = self.keyword.doc_freq(term)
        if df or not self.spell_checks:
            return df
        fixed = self.speller.correct_word(term)
        return self.keyword.doc_freq(stem(fixed)) if fixed else 0

    def fuse(self, rankings: list[Ranking], info: QueryInfo, ev: Evidence | None = None,
             reranked: bool = True) -> list[Fused]:
        """The articles of one query's rankings, best first: fused (fusion.py), then the top
        ones re-ranked (rerank.py) unless ``reranked`` is false."""
        profiles = self.embedder_profiles()
        ev = ev or self.evidence(info, rankings)
        # A model's reading is cross-language whenever the languages differ (a Japanese
        # question over a Chinese article too), not only across keyword groups.
        fused = fuse_calibrated(
            rankings,
            weights_for(info, profiles),
            article_of=self._article_of.__getitem__,
            same_lang=lambda p, lang: self._lang_of[p] == (lang or info.lang),
            floors={n: p.min_similarity for n, p in profiles.items()},
            coverage=ev.coverage,
            family_of=self.family_of,
            linkable=self._linkable.__getitem__,
        )
        return rerank.rerank(fused, info, self.lexicon, self.family_of) if reranked else fused

    def _fused(self, info: QueryInfo, department: str | None, timings: Timings | None = None
               ) -> tuple[list[Fused], set[str], answer.Decision, list[Ranking]]:
        t = timings or Timings()
        rankings, marked = self.rankings(info.text, department, lang=info.lang, timings=t)
        with t.stage("answer"):
            ev = self.evidence(info, rankings)
        with t.stage("fuse"):
            fused = self.fuse(rankings, info, ev)
        with t.stage("answer"):
            decision = answer.decide(ev)
        return fused, marked, decision, rankings

    def hit(self, f: Fused, marked: set[str]) -> Hit:
        """The result for one fused article: its best section, with a snippet."""
        c = self._chunk(f.best_chunk)
        text = c.text if c.kind != "title" or c.text else c.aliases
        return Hit(
            article=c.doc_id,
            anchor=c.anchor,
            title=c.title,
            heading=c.heading,
            snippet=snippet(text, marked),
            score=round(f.score, 6),
            department=c.department,
            lang=c.lang,
            sources=f.sources,
            family=self.family_of(c.doc_id),
        )

    def search(self, raw_query: str, *, department: str | None = None, limit: int = 10,
               timings: Timings | None = None) -> SearchResult:
        """The best ``limit`` articles, each on its own (translations are separate articles here)."""
        started = time.perf_counter()
        t = timings or Timings()
        found = self.retrieve(raw_query, department=department, timings=t)
        result = SearchResult(query=raw_query, hits=[], language=found.info.lang)
        result.did_you_mean, result.corrected = found.did_you_mean, found.corrected
        result.answered, result.reason = found.decision.answered, found.decision.reason
        result.total = len(found.fused)
        result.ranked = [f.article for f in found.fused]
        if found.fused:  # a stage that did not run is not reported
            with t.stage("snippets"):
                result.hits = [self.hit(f, found.terms) for f in found.fused[:limit]]
        result.took_ms = (time.perf_counter() - started) * 1000
        return result

    def suggest(self, prefix: str, limit: int = 8, lang: str | None = None) -> list[dict]:
        """Titles and aliases that start with (or have a word starting with) ``prefix``:
        those of articles in ``lang`` (the reader's) first, then the others, each
        group with the labels that start with ``prefix`` first."""
        p = normalize(prefix).strip()
        if not p:
            return []
        found: list[tuple[bool, bool, int, dict]] = []
        seen = set()
        for s in self._suggest:
            label = normalize(s["label"])
            key = (s["label"], s["article"])
            if key in seen:
                continue
            starts = label.startswith(p)
            if starts or f" {p}" in f" {label}" or (not p.isascii() and p in label):
                seen.add(key)
                # Before: "parental l" offered the Japanese article first to an English reader.
                found.append((bool(lang) and s["lang"] != lang, not starts, len(found), s))
        found.sort(key=lambda item: item[:3])
        return [item[3] for item in found[:limit]]
