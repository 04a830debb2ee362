"""Linear-time replacements for regexes that backtracked on hostile content.

Patterns such as ``\\{%.*?%\\}`` or ``\\[[^\\]]*\\]\\(...\\)`` are quadratic when a
file holds thousands of openers that never close: each opener scans to the
end of the text before failing (5,000 unclosed ``{% comment %}`` took 5 s).
The functions here find the same matches as those regexes (the tests compare
them on random input) but remember what a failed scan learnt: once no closer
follows a position, none follows any later position either.
"""

from __future__ import annotations

import re


class _Finder:
    """``str.find`` for closers, remembering the last answer for each closer.

    Starts only move forward, so an occurrence found at ``q`` (or none, -1) for
    a start ``s`` is still the first one for any later start up to ``q``.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._last: dict[str, tuple[int, int]] = {}

    def find(self, closer: str, start: int) -> int:
        last = self._last.get(closer)
        if last is not None and last[0] <= start and (last[1] < 0 or last[1] >= start):
            return last[1]
        found = self.text.find(closer, start)
        self._last[closer] = (start, found)
        return found


def _newlines(text: str, start: int, end: int) -> str:
    # Removed markup keeps its line breaks so problems found later point at the right line.
    return "\n" * text.count("\n", start, end)


def blank_tags(text: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """Replace each ``opener .*? closer`` (the first pair that matches, as a regex
    alternation would, ``re.S``) by its newlines. Every opener starts with "{"."""
    finder = _Finder(text)
    out: list[str] = []
    done, p = 0, text.find("{")
    while p >= 0:
        end = -1
        for opener, closer in pairs:
            if text.startswith(opener, p):
                q = finder.find(closer, p + len(opener))
                if q >= 0:
                    end = q + len(closer)
                    break
        if end < 0:
            p = text.find("{", p + 1)
            continue
        out += [text[done:p], _newlines(text, p, end)]
        done, p = end, text.find("{", end)
    out.append(text[done:])
    return "".join(out)


def blank_blocks(text: str, start: re.Pattern[str], end: re.Pattern[str]) -> str:
    """Replace each ``start .*? end`` (``re.S``) by its newlines: block comments.

    Without an ``end`` after the first unmatched ``start`` there is none after a
    later one either, so the scan stops there instead of retrying each opener.
    """
    out: list[str] = []
    done = 0
    while (m := start.search(text, done)) is not None:
        e = end.search(text, m.end())
        if e is None:
            break
        out += [text[done:m.start()], _newlines(text, m.start(), e.end())]
        done = e.end()
    out.append(text[done:])
    return "".join(out)


def strip_md_links(text: str) -> str:
    r"""``re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)`` in one pass.

    Every "[" before the same "]" fails or succeeds alike, so a failed opener
    moves the scan past that "]"; with no ")" left, no later link can close.
    """
    out: list[str] = []
    done = 0
    while (start := text.find("[", done)) >= 0:
        close = text.find("]", start + 1)
        if close < 0:
            break
        if not text.startswith("(", close + 1):
            out.append(text[done:close + 1])
            done = close + 1
            continue
        end = text.find(")", close + 2)
        if end < 0:
            break
        out += [text[done:start], text[start + 1:close]]
        done = end + 1
    out.append(text[done:])
    return "".join(out)


def replace_delimited(text: str, opener: str, closer: str, repl: str) -> str:
    """``re.sub(opener + "[^" + closer + "]*" + closer, repl, text)`` for single
    characters, without rescanning from every opener when no closer follows."""
    out: list[str] = []
    done = 0
    while (start := text.find(opener, done)) >= 0:
        end = text.find(closer, start + 1)
        if end < 0:
            break
        out += [text[done:start], repl]
        done = end + 1
    out.append(text[done:])
    return "".join(out)
