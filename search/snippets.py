"""Snippets: the part of a chunk that best matches the query, terms marked.

What a reader should see, in every language kb serves:

- The window starts and ends at a word (or, in text without spaces, a sentence
  or clause) boundary, and never inside a number: "…0%が支給" from "100%" reads
  as a different figure.
- Marks fall on content words. CJK terms are character bigrams, so a query's
  grammatical endings and particles (ます, です, は, を; 은, 를, 에서; 的, 吗) match
  everywhere: a mark that is only such characters is dropped, and one that
  runs into them ("育児休業は", "육아휴직은") stops before them.
- Table rows stay rows: the chunk text has one row per line with " | " between
  cells; rows are joined with " · " so one row's last cell does not run into the
  next row's first.
"""

from __future__ import annotations

import re
from html import escape

from .analysis import term_spans

WINDOW = 220  # characters
LOOK = 30  # how far a window edge may move to reach a boundary
ROW_SEPARATOR = " · "

_HIRAGANA = re.compile(r"[\u3040-\u309f]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
#: Korean particles and endings that close a word ("휴가를", "육아휴직은", "해요").
KO_ENDINGS = frozenset("은는이가을를에의도와과로요서만")
KO_GRAMMAR = frozenset(
    "해요 나요 까요 니다 습니 세요 어요 아요 에서 으로 하는 하고 하나 한가 있나 있어 되나 인가 입니 언제 어떻게".split()
)
#: Chinese function characters: particles, copula, question words.
ZH_FUNCTION = frozenset("的了吗呢吧啊是在有和与及么吗几多少怎什哪")
_BREAK_AFTER = "。．！？!?.;；:：、，,)）」』】"
_SENTENCE_END = "。！？!?"


def _is_grammar(ch: str, span_text: str) -> bool:
    """Whether ``ch`` (at an edge of a marked span) is grammar rather than content."""
    if _HIRAGANA.match(ch):
        # Okurigana in a span of Kanji is still grammar here: "取れます" is marked "取".
        return True
    if _HANGUL.match(ch):
        return ch in KO_ENDINGS
    if _HAN.match(ch) and not _HIRAGANA.search(span_text):
        return ch in ZH_FUNCTION
    return False


def _content(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without grammatical characters at its edges; None if nothing is left
    that says anything."""
    s, e = start, end
    # Trim only runs longer than a word: a two-syllable 휴가 ends in 가 and is content.
    while e - s > 2 and _is_grammar(text[e - 1], text[s:e]):
        e -= 1
    while e - s > 2 and _is_grammar(text[s], text[s:e]):
        s += 1
    piece = text[s:e]
    if not piece.strip():
        return None
    if all(_HIRAGANA.match(c) for c in piece):
        return None  # ます, です, すか: Japanese endings
    if piece in KO_GRAMMAR:
        return None
    if all(c in ZH_FUNCTION for c in piece):
        return None
    if len(piece) <= 2 and _is_grammar(piece[-1], piece) and _is_grammar(piece[0], piece) and not piece.isascii():
        return None
    return s, e


def _spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for term, start, end in term_spans(text):
        if term in terms:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
    return [c for s, e in merged if (c := _content(text, s, e)) is not None]


def _inside_word(text: str, i: int) -> bool:
    """Whether a cut before ``text[i]`` splits a word or a number."""
    if i <= 0 or i >= len(text):
        return False
    a, b = text[i - 1], text[i]
    if a.isdigit() or b.isdigit():
        # 100%, 150,000円, 3.5, 16週間: digits, their separators and a following % or unit letter.
        return (a.isdigit() and (b.isdigit() or b in ".,%")) or (b.isdigit() and a in ".,$¥€£-+") or (
            a.isdigit() and b.isalpha() and b.isascii()
        ) or (b.isdigit() and a.isalpha() and a.isascii())
    cjk = _HAN.match(a) or _HAN.match(b) or _HIRAGANA.match(a) or _HIRAGANA.match(b) or _HANGUL.match(a) and _HANGUL.match(b)
    if cjk:
        return False  # between CJK characters: allowed, though a clause break is preferred
    return a.isalnum() and b.isalnum()


def _boundary_before(text: str, i: int) -> int:
    """A start at or before ``i``: after a space or clause mark within LOOK, else the
    start of the word or number ``i`` is in."""
    low = max(0, i - LOOK)
    for j in range(i, low, -1):
        if (text[j - 1].isspace() or text[j - 1] in _BREAK_AFTER) and not _inside_word(text, j):
            return j  # "1,250": a comma inside a number is no clause break
    while i > 0 and _inside_word(text, i):
        i -= 1
    return i


def _boundary_after(text: str, i: int) -> int:
    """An end at or after ``i``: at a space or after a clause mark within LOOK, else the
    end of the word or number ``i`` is in."""
    high = min(len(text), i + LOOK)
    for j in range(i, high):
        if text[j].isspace():
            return j
        if text[j] in _SENTENCE_END:
            return j + 1
    while i < len(text) and _inside_word(text, i):
        i += 1
    return i


def flatten(text: str) -> str:
    """One line: table rows joined with ``ROW_SEPARATOR``, other line breaks as spaces."""
    parts: list[str] = []
    prev_row = False
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        row = " | " in line or line.endswith("|")
        if row:
            line = line.rstrip("| ")
        if parts:
            parts.append(ROW_SEPARATOR if row and prev_row else " ")
        parts.append(line)
        prev_row = row
    return "".join(parts)


def snippet(text: str, terms: set[str], window: int = WINDOW) -> str:
    """HTML: escaped text around the densest run of matches, matches in <mark>."""
    text = flatten(text)
    if not text:
        return ""
    spans = _spans(text, terms) if terms else []
    if not spans:
        end = _boundary_after(text, window) if len(text) > window else len(text)
        return escape(text[:end]) + ("…" if end < len(text) else "")
    # The window that covers the most matched spans.
    best_start, best_count = spans[0][0], 0
    j = 0
    for i, (start, _) in enumerate(spans):
        while j < len(spans) and spans[j][1] <= start + window:
            j += 1
        if j - i > best_count:
            best_start, best_count = start, j - i
    start = _boundary_before(text, max(0, best_start - window // 4))
    end = min(len(text), start + window)
    end = max(end, _boundary_after(text, end)) if end < len(text) else end
    while start < end and text[start] in " |·":  # not the middle of a row's separators
        start += 1
    out: list[str] = ["…" if start > 0 else ""]
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(escape(text[pos:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(escape(text[pos:end].rstrip()))
    out.append("…" if end < len(text) else "")
    return "".join(out)
