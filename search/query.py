"""What kind of question is this? Language, length, keyword lookup or question."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .analysis import CJK_CHAR, normalize

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
_QUESTION_WORDS = frozenset(
    "how what when where why who which can could should do does did is are am will would may i my we our".split()
)
MAX_QUERY_CHARS = 500  # beyond this a "query" is a pasted document; the start says enough


@dataclass(frozen=True)
class QueryInfo:
    text: str  # normalised and trimmed
    lang: str  # en, ja, ko or zh (by script)
    words: int  # Latin words plus CJK characters / 2
    keywordish: bool  # a few words with no question form: a lookup of a term
    question: bool

    @property
    def has_words(self) -> bool:
        """Whether there is anything to search for: a letter or a digit, in any script."""
        return _LETTER_OR_DIGIT.search(self.text) is not None


def clean_query(raw: str) -> tuple[str, bool]:
    """The query as searched (whitespace collapsed, cut to ``MAX_QUERY_CHARS``),
    and whether the raw query was longer."""
    return " ".join(raw[:MAX_QUERY_CHARS].split()), len(raw) > MAX_QUERY_CHARS


def primary_language(tag: str | None) -> str | None:
    """A language tag as kb compares them: its primary subtag ("ja-JP", "ja_jp" -> "ja"); None for none.

    Articles, readers and queries match on the language alone: a regional tag kept whole made a
    Japanese page foreign to Japanese readers and an English one unreadable to the English-only model."""
    return (tag or "").strip().lower().replace("_", "-").split("-")[0] or None


def query_language(text: str) -> str:
    if _HANGUL.search(text):
        return "ko"
    if _KANA.search(text):
        return "ja"
    if CJK_CHAR.search(text):
        # Han without Kana: Chinese, or a Japanese query of pure Kanji ("経費精算").
        # Both are served by the same bigrams and the multilingual model.
        return "zh"
    return "en"


def analyze_query(raw: str) -> QueryInfo:
    text = " ".join(normalize(raw).split())[:MAX_QUERY_CHARS]
    lang = query_language(text)
    latin = _LATIN_WORD.findall(text)
    cjk = len(CJK_CHAR.findall(text))
    words = len(latin) + cjk / 2
    question = text.endswith(("?", "？")) or (bool(latin) and latin[0] in _QUESTION_WORDS) or any(
        q in text for q in ("どう", "ですか", "ますか", "なに", "何", "怎么", "如何", "吗", "什么", "어떻게", "나요", "까요", "무엇")
    )
    keywordish = not question and words <= 3
    return QueryInfo(text=text, lang=lang, words=int(round(words)), keywordish=keywordish, question=question)
