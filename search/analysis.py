"""Text analysis shared by indexing and querying.

One analyzer for every language kb serves: runs of Latin letters and digits
become lower-cased, Porter-stemmed words; runs of Han, Kana and Hangul become
overlapping character bigrams ("育児休業" -> 育児 児休 休業), so two-character
Japanese, Chinese and Korean queries match without a dictionary. A lone CJK
character is kept as a unigram.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from whoosh.analysis import Token, Tokenizer
from whoosh.lang.porter import stem as porter_stem

# Han (incl. ext. A, compatibility), Hiragana, Katakana (+ phonetic ext., halfwidth), Hangul.
_CJK = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
    "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
)
_TOKEN = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>[^\W_{_CJK}]+(?:['’][^\W_{_CJK}]+)*)", re.UNICODE)
CJK_CHAR = re.compile(rf"[{_CJK}]")

STOP_WORDS = frozenset(
    """a an and are as at be but by for from has have i if in into is it its me my of on or our
    so that the their then there these they this to was we were what when where which who will
    with you your do does did can could should would how""".split()
)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return porter_stem(word) if word.isascii() and word.isalpha() else word


def normalize(text: str) -> str:
    """NFKC (full-width Latin and half-width Kana to their usual forms) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def _same_length_normal_form(value: str) -> str:
    """NFKC and lower case, one character for one, so offsets still point into ``value``."""
    if value.isascii():
        return value.lower()
    lowered = value.lower()
    if len(lowered) == len(value) and unicodedata.is_normalized("NFKC", value):
        return lowered
    # Per character, the slow way: NFKC can turn one character into several ("㍿").
    return "".join((unicodedata.normalize("NFKC", ch)[:1] or ch).lower()[:1] or ch for ch in value)


class MultilingualTokenizer(Tokenizer):
    """A Whoosh tokenizer that does normalisation, stop words and stemming itself.

    Doing it all in one pass (rather than a chain of filters) keeps indexing of
    10,000 chunks fast in pure Python, and keeps character offsets right for
    highlighting even though NFKC can change string length.
    """

    def __init__(self, stem: bool = True, stop: bool = True) -> None:
        self.stem = stem
        self.stop = stop

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultilingualTokenizer) and (self.stem, self.stop) == (other.stem, other.stop)

    @staticmethod
    def _fill(t: Token, text: str, original: str, stopped: bool, pos: int, start: int, end: int, keeporiginal: bool) -> Token:
        """Whoosh reuses one Token object: set every attribute a consumer may read."""
        t.text, t.stopped, t.boost = text, stopped, 1.0
        if keeporiginal:
            t.original = original
        if t.positions:
            t.pos = pos
        if t.chars:
            t.startchar, t.endchar = start, end
        return t

    def __call__(  # noqa: ANN204, PLR0913 (Whoosh's tokenizer protocol)
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs,
    ):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        for text, original, stopped, pos, start, end in _tokens(value, self.stem, self.stop, start_pos, start_char):
            if not stopped or not removestops:
                yield self._fill(t, text, original, stopped, pos, start, end, keeporiginal)


def _tokens(
    value: str, stem_words: bool = True, stop: bool = True, start_pos: int = 0, start_char: int = 0
) -> Iterator[tuple[str, str, bool, int, int, int]]:
    """(term, surface form, is a stop word, position, start, end) for every token of ``value``."""
    norm = _same_length_normal_form(value)
    pos = start_pos
    for m in _TOKEN.finditer(norm):
        run = m.group("cjk")
        if run:
            base = start_char + m.start()
            if len(run) == 1:
                yield run, run, False, pos, base, base + 1
                pos += 1
                continue
            for i in range(len(run) - 1):
                gram = run[i : i + 2]
                yield gram, gram, False, pos, base + i, base + i + 2
                pos += 1
            continue
        word = m.group("word")
        stopped = stop and word in STOP_WORDS
        text = word if stopped else (stem(word) if stem_words else word)
        yield text, word, stopped, pos, start_char + m.start(), start_char + m.end()
        pos += 1


def term_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """(index term, start, end) of every non-stop-word token: for highlighting,
    without the cost of Whoosh's Token objects."""
    for term, _, stopped, _, start, end in _tokens(text):
        if not stopped:
            yield term, start, end


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order: what a query looks up."""
    return [t.text for t in MultilingualTokenizer()(text)]
