"""Cross-language query expansion through the multilingual embedding space.

Only multilingual USE understands both a Korean question and an English
policy; BM25 and MiniLM, which are better at telling close English passages
apart, cannot read the question at all. The bridge gives them something to
read: the index's own vocabulary (words and two-word phrases of English text,
Kanji/Katakana/Hangul terms of CJK text) is embedded with USE at build time,
and a query is "translated" into the vocabulary terms nearest to it in that
space, in the other languages of the corpus. "在华盛顿办公室怎么预订会议室"
becomes "conference room, washington, reserve, office...", which the English
retrievers can then rank.

On the 18F development set this lifts cross-lingual hit@5 from 0.85 to 0.92
(benchmarks/README.md).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from .analysis import STOP_WORDS, normalize
from .layout import BuildLayout

MAX_TERMS = 20_000
_LATIN = re.compile(r"[a-z][a-z0-9]*(?:[-'][a-z0-9]+)*")
_CJK_TERM = re.compile(r"[\u4e00-\u9fff]{2,6}|[\u30a0-\u30ff]{3,12}|[\uac00-\ud7af]{2,8}")
_KANA = re.compile(r"[\u3040-\u30ff]")


def lang_group(lang: str) -> str:
    """Languages whose text the same keyword terms can match."""
    return "cjk-han" if lang in ("ja", "zh") else lang


def extract_terms(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Vocabulary terms with their language from (text, lang) pairs, most frequent first."""
    latin: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    cjk: Counter[tuple[str, str]] = Counter()
    for text, lang in items:
        norm = normalize(text)
        words = _LATIN.findall(norm)
        latin.update(w for w in words if len(w) > 2 and w not in STOP_WORDS)
        pairs.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False) if a not in STOP_WORDS and b not in STOP_WORDS)
        for m in _CJK_TERM.findall(norm):
            term_lang = "ko" if "\uac00" <= m[0] <= "\ud7af" else ("ja" if _KANA.search(m) or lang == "ja" else lang)
            cjk[(m, term_lang)] += 1
    terms: list[tuple[int, str, str]] = []
    terms += [(c, w, "en") for w, c in latin.items() if c >= 2]
    terms += [(c, p, "en") for p, c in pairs.items() if c >= 3]
    terms += [(c, t, lang) for (t, lang), c in cjk.items() if c >= 3]
    terms.sort(key=lambda x: -x[0])
    return [(t, lang) for _, t, lang in terms[:MAX_TERMS]]


class Bridge:
    def __init__(self, terms: Sequence[str], langs: Sequence[str], vectors: np.ndarray) -> None:
        groups = np.asarray([lang_group(x) for x in langs], dtype=str)
        # Each language group as one contiguous block, so translating into a group
        # reads a view of its rows and copies nothing.
        order = np.argsort(groups, kind="stable")
        self.terms = [terms[i] for i in order]
        self.langs = groups[order]
        self.vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[order])
        self._blocks: dict[str, tuple[int, int]] = {}
        for g in dict.fromkeys(self.langs.tolist()):
            rows = np.flatnonzero(self.langs == g)
            self._blocks[g] = (int(rows[0]), int(rows[-1]) + 1)

    def save(self, build: BuildLayout) -> None:
        build.bridge_terms.write_text(
            json.dumps({"terms": self.terms, "langs": self.langs.tolist()}, ensure_ascii=False), encoding="utf-8"
        )
        np.save(build.bridge_vectors, self.vectors)

    @classmethod
    def load(cls, build: BuildLayout) -> Bridge | None:
        if not build.bridge_terms.exists():
            return None
        meta = json.loads(build.bridge_terms.read_text(encoding="utf-8"))
        return cls(meta["terms"], meta["langs"], np.load(build.bridge_vectors))

    def languages(self) -> set[str]:
        return set(self._blocks)

    def translate(
        self, query_vec: np.ndarray, query_lang: str, n: int = 10, into: Iterable[str] | None = None
    ) -> dict[str, list[str]]:
        """The ``n`` nearest terms in each language group other than the query's
        (only those in ``into``, when given)."""
        wanted = self.languages() - {lang_group(query_lang)}
        if into is not None:
            wanted &= set(into)
        out: dict[str, list[str]] = {}
        q = query_vec.astype(np.float32)
        for group in sorted(wanted):
            start, end = self._blocks[group]
            sims = self.vectors[start:end] @ q
            k = min(n, len(sims))
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.argsort(-sims[top])]
            out[group] = [self.terms[start + i] for i in top]
        return out
