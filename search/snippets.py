"""Snippets: the part of a chunk that best matches the query, terms marked."""

from __future__ import annotations

from html import escape

from .analysis import term_spans

WINDOW = 220  # characters


def _spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for term, start, end in term_spans(text):
        if term in terms:
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], end))
            else:
                spans.append((start, end))
    return spans


def snippet(text: str, terms: set[str], window: int = WINDOW) -> str:
    """HTML: escaped text around the densest run of matches, matches in <mark>."""
    text = " ".join(text.split())
    if not text:
        return ""
    spans = _spans(text, terms) if terms else []
    if not spans:
        cut = text[:window]
        return escape(cut) + ("…" if len(text) > window else "")
    # The window that covers the most matched spans.
    best_start, best_count = spans[0][0], 0
    j = 0
    for i, (start, _) in enumerate(spans):
        while j < len(spans) and spans[j][1] <= start + window:
            j += 1
        if j - i > best_count:
            best_start, best_count = start, j - i
    start = max(0, best_start - window // 4)
    if start > 0:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 20 else start
    end = min(len(text), start + window)
    if end < len(text):
        space = text.find(" ", end)
        end = space if 0 <= space - end < 20 else end
    out: list[str] = ["…" if start > 0 else ""]
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(escape(text[pos:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(escape(text[pos:end]))
    out.append("…" if end < len(text) else "")
    return "".join(out)
