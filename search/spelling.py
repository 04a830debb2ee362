"""'Did you mean': corrections drawn from the words of the index itself.

A symmetric-delete dictionary (as in SymSpell): every vocabulary word is
stored under each form with one character deleted, so candidates within two
edits are found with a handful of dictionary lookups instead of comparing the
query word with every word in the index.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .analysis import CJK_CHAR, STOP_WORDS, normalize

_WORD = re.compile(r"[a-z][a-z0-9'’-]*[a-z0-9]|[a-z]")
MIN_LEN = 4  # shorter words are too often acronyms; correcting them annoys


def vocabulary(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w in _WORD.findall(normalize(text)) if len(w) >= 3)
    return counts


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, capped at ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
        if min(prev) >= limit:
            return limit
    return min(prev[-1], limit)


class Speller:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self._index: dict[str, list[str]] = {}
        for w in counts:
            if len(w) < MIN_LEN - 1:
                continue
            for d in _deletes(w) | {w}:
                self._index.setdefault(d, []).append(w)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.counts, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Speller:
        return cls(json.loads(path.read_text(encoding="utf-8")) if path.exists() else {})

    def correct_word(self, word: str) -> str | None:
        if len(word) < MIN_LEN or word in self.counts or not word.isascii() or not word.isalpha():
            return None
        candidates: set[str] = set()
        for d in _deletes(word) | {word}:
            candidates.update(self._index.get(d, ()))
            for d2 in _deletes(d):
                candidates.update(self._index.get(d2, ()))
        best = None
        best_key = None
        for c in candidates:
            dist = edit_distance(word, c)
            if dist > 2 or (dist == 2 and len(word) < 6):
                continue
            key = (dist, -self.counts[c])
            if best_key is None or key < best_key:
                best, best_key = c, key
        return best

    def correct(self, query: str) -> str | None:
        """The query with unknown words replaced, or None when nothing changes."""
        if CJK_CHAR.search(query):
            return None
        changed = False

        def fix(m: re.Match[str]) -> str:
            nonlocal changed
            word = m.group(0)
            low = word.lower()
            if low in STOP_WORDS:
                return word
            better = self.correct_word(low)
            if better and better != low:
                changed = True
                return better
            return word

        fixed = re.sub(r"[A-Za-z]+", fix, query)
        return fixed if changed else None
