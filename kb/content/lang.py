"""Guess an article's language from its script when front matter does not say.

Counting scripts is enough for the languages kb serves and, unlike a
statistical detector, gives the same answer every time: Kana means Japanese,
Hangul means Korean, Han without either means Chinese, otherwise English.
"""

from __future__ import annotations


def script_counts(text: str) -> dict[str, int]:
    counts = {"kana": 0, "hangul": 0, "han": 0, "latin": 0}
    for ch in text:
        o = ord(ch)
        if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F:
            counts["kana"] += 1
        elif 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
            counts["hangul"] += 1
        elif 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
            counts["han"] += 1
        elif ch.isascii() and ch.isalpha():
            counts["latin"] += 1
    return counts


def detect_language(text: str, default: str = "en") -> str:
    c = script_counts(text)
    cjk = c["kana"] + c["hangul"] + c["han"]
    # A CJK character carries about as much as a 3-4 letter word; weigh it so
    # English product names inside Japanese text do not flip the answer.
    if cjk == 0 or cjk * 3 < c["latin"] * 0.5:
        return default
    if c["hangul"] >= c["kana"] and c["hangul"] > 0:
        return "ko"
    if c["kana"] > 0 and c["kana"] * 20 >= c["han"]:
        return "ja"
    return "zh" if c["han"] else default
