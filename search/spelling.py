"""'Did you mean': corrections drawn from the words of the index itself.

A symmetric-delete dictionary (as in SymSpell): every vocabulary word is
stored under each form with one character deleted, so candidates within two
edits are found with a handful of dictionary lookups instead of comparing the
query word with every word in the index.

A correction is offered only when it helps (``Speller.correct`` and
``clearly_better``): a word the index knows in any inflection ("taxi" next to
"taxis", "vesting" next to "vested"), or that the handbook lists as a synonym or
alias ("computer", "quit"), is spelled right even when a neighbour is commoner;
and the corrected query must read closer to the handbook than the typed one for
every model that reads it, which a real typo does ("reimbursment" -> "reimbursement":
MiniLM's best match 0.24 -> 0.53) and a right word "corrected" into another does
not ("masters degree" -> "matters decree": USE 0.18 -> 0.16).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .analysis import CJK_CHAR, STOP_WORDS, normalize, stem

_WORD = re.compile(r"[a-z][a-z0-9'’-]*[a-z0-9]|[a-z]")
_LETTERS = re.compile(r"[a-z]+")
MIN_LEN = 4  # shorter words are too often acronyms; correcting them annoys
#: A word the index has is still corrected when it is this rare and its
#: correction this many times commoner: a typo in the handbook itself.
RARE_COUNT = 1
RARE_RATIO = 100
#: How much closer the corrected query's best match must be, for at least one model.
MIN_GAIN = 0.02
#: Endings that make another form of the same word: "taxi" is known from "taxis",
#: "vesting" from "vested". Not any shared stem: "reimbursment" (a typo) and
#: "reimbursement" share Porter's "reimburs".
INFLECTIONS = frozenset({"", "e", "s", "es", "d", "ed", "ing", "er", "ers"})


def _inflected(word: str) -> str | None:
    """The stem ``word`` is an inflection of, or None if it ends otherwise."""
    st = stem(word)
    return st if word.startswith(st) and word[len(st) :] in INFLECTIONS else None


def vocabulary(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w in _WORD.findall(normalize(text)) if len(w) >= 3)
    return counts


def save_vocabulary(counts: dict[str, int], path: Path) -> None:
    """What ``Speller.load`` reads: a build writes its vocabulary without building the speller's index."""
    path.write_text(json.dumps(counts, ensure_ascii=False), encoding="utf-8")


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


def listed_words(phrases: Iterable[str]) -> set[str]:
    """The Latin words of synonyms and aliases: never "corrected"."""
    return {w for p in phrases for w in _LETTERS.findall(normalize(p))}


def keep_case(typed: str, word: str) -> str:
    """``word`` capitalised the way the reader typed ``typed``."""
    if len(typed) > 1 and typed.isupper():
        return word.upper()
    if typed[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def clearly_better(before: dict[str, float], after: dict[str, float]) -> bool:
    """Whether a correction reads closer to the handbook than the typed query.

    ``before``/``after``: each model's best similarity for the typed and the
    corrected query (the model's floor where nothing passed it). No model may
    find the correction further from every chunk, and one must find it
    ``MIN_GAIN`` closer. Without models to ask, a correction is trusted.
    """
    if not before:
        return True
    gains = [after.get(name, value) - value for name, value in before.items()]
    return min(gains) >= 0 and max(gains) >= MIN_GAIN


class Speller:
    def __init__(self, counts: dict[str, int], protected: Iterable[str] = ()) -> None:
        """``protected``: words never corrected (the handbook's synonyms and aliases)."""
        self.protected = frozenset(protected)
        # Listed words are corrections too: "paternty" -> "paternity" (an alias),
        # not to "patent" (in the text).
        self.counts = {**{w: 1 for w in self.protected}, **counts}
        self._vocabulary = counts
        # Known words by stem, parts of hyphenated words included: "vesting" is
        # known from "vested", "year" from "year-end".
        self._stems: Counter[str] = Counter()
        for w, n in counts.items():
            for part in {w, *_LETTERS.findall(w)}:
                st = _inflected(part)
                if st:
                    self._stems[st] += n
        self._index: dict[str, list[str]] = {}
        for w in self.counts:
            if len(w) < MIN_LEN - 1:
                continue
            for d in _deletes(w) | {w}:
                self._index.setdefault(d, []).append(w)

    def save(self, path: Path) -> None:
        save_vocabulary(self._vocabulary, path)

    @classmethod
    def load(cls, path: Path, protected: Iterable[str] = ()) -> Speller:
        return cls(json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}, protected)

    def _known_form(self, word: str) -> int:
        """How often the index has other forms of ``word``: "vesting" (from "vested"),
        "taxi" (from "taxis"); not "leav", a stem but no word."""
        st = _inflected(word)
        if not st:
            return 0
        if word == st and not any(word + end in self.counts for end in INFLECTIONS - {"", "e"}):
            return 0
        return self._stems.get(st, 0)

    def correct_word(self, word: str) -> str | None:
        """A likelier spelling of ``word`` (lower case), or None when it is spelled right."""
        if len(word) < MIN_LEN or word in self.protected or not word.isascii() or not word.isalpha():
            return None
        known = max(self.counts.get(word, 0), self._known_form(word))
        if known > RARE_COUNT:
            return None
        candidates: set[str] = set()
        for d in _deletes(word) | {word}:
            candidates.update(self._index.get(d, ()))
            for d2 in _deletes(d):
                candidates.update(self._index.get(d2, ()))
        candidates.discard(word)  # a rare indexed word competes only with commoner ones
        best = None
        best_key = None
        for c in candidates:
            dist = edit_distance(word, c)
            if dist > 2 or (dist == 2 and len(word) < 6):
                continue
            key = (dist, -self.counts[c])
            if best_key is None or key < best_key:
                best, best_key = c, key
        if best is not None and known and self.counts[best] < RARE_RATIO * known:
            return None
        return best

    def knows(self, word: str) -> bool:
        """Whether ``word`` (lower case) is one the index has, in some form, or lists."""
        return (
            len(word) < 3 or word in STOP_WORDS or word in self.counts or word in self.protected or self._known_form(word) > 0
        )

    def correct(self, query: str) -> str | None:
        """The query with unknown words replaced, in the reader's capitals, or None
        when nothing changes, or when a word would stay unknown: then the query is
        about something the handbook does not cover, and bending its other words
        towards the handbook's ("RSU vesting" -> "RSU testing" on 18F) misleads."""
        if CJK_CHAR.search(query):
            return None
        changed = False
        unknown = False

        def fix(m: re.Match[str]) -> str:
            nonlocal changed, unknown
            word = m.group(0)
            low = word.lower()
            if low in STOP_WORDS:
                return word
            better = self.correct_word(low)
            if better and better != low:
                changed = True
                return keep_case(word, better)
            unknown = unknown or not self.knows(low)
            return word

        fixed = re.sub(r"[A-Za-z]+", fix, query)
        return fixed if changed and not unknown else None
