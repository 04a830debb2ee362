"""Split documents into chunks: one per section, long sections with overlap.

Lengths are counted in "units" that treat a CJK character as about half a
word, since Japanese, Chinese and Korean have no spaces and a character
carries less than an English word does.
"""

from __future__ import annotations

import re

from .analysis import CJK_CHAR, normalize
from .documents import Chunk, Document

MAX_UNITS = 220  # MiniLM reads 256 word pieces; leave room for title and headings
OVERLAP_UNITS = 40
_WORD = re.compile(r"\S+")
_QUESTION = re.compile(r"[?？]\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")


def units(text: str) -> float:
    cjk = len(CJK_CHAR.findall(text))
    latin = len(_WORD.findall(CJK_CHAR.sub(" ", text)))
    return latin + cjk / 2


def _join(sentences: list[str]) -> str:
    """Sentences back into text; a table row (it ends with its cell separator "|")
    keeps its line break, so snippets can tell rows apart."""
    out = ""
    for sent in sentences:
        out += ("\n" if out.endswith("|") else " ") + sent if out else sent
    return out


def split_long(text: str, max_units: int = MAX_UNITS, overlap: int = OVERLAP_UNITS) -> list[str]:
    """Split at sentence (or line) boundaries into pieces of at most ``max_units``,
    each starting with the last ``overlap`` units of the previous one."""
    if units(text) <= max_units:
        return [text]
    sentences = [s for s in _SENTENCE_END.split(text) if s and s.strip()]
    pieces: list[str] = []
    current: list[str] = []
    size = 0.0
    for sent in sentences:
        u = units(sent)
        if u > max_units:  # one huge "sentence" (a table, a list without stops)
            words = sent.split(" ") if " " in sent else list(sent)
            step = max(1, int(len(words) * max_units / max(u, 1)))
            for i in range(0, len(words), max(1, step - int(step * overlap / max_units))):
                joiner = " " if " " in sent else ""
                sub = joiner.join(words[i : i + step])
                if current:
                    pieces.append(_join(current))
                    current, size = [], 0.0
                pieces.append(sub)
            continue
        if size + u > max_units and current:
            pieces.append(_join(current))
            tail: list[str] = []
            tail_size = 0.0
            for prev in reversed(current):
                if tail_size + units(prev) > overlap:
                    break
                tail.insert(0, prev)
                tail_size += units(prev)
            current, size = tail, tail_size
        current.append(sent)
        size += u
    if current:
        pieces.append(_join(current))
    return pieces


def _occurs(term: str, norm: str) -> bool:
    """Whether a normalised synonym ``term`` occurs in ``norm`` (a Latin term as whole words)."""
    if CJK_CHAR.search(term):
        return term in norm
    return re.search(rf"(?<!\w){re.escape(term)}(?!\w)", norm) is not None


def _cut(term: str, norm: str) -> str:
    if CJK_CHAR.search(term):
        return norm.replace(term, " ")
    return re.sub(rf"(?<!\w){re.escape(term)}(?!\w)", " ", norm)


def synonym_cover(text: str, groups: list[list[str]]) -> tuple[list[str], str]:
    """The other terms of every synonym group with a term in ``text``, and what
    of ``text`` no group covered (the matched terms cut out).

    The rest is what the bridge still has to translate: a handbook's own list
    ("年假 = annual leave = PTO") is a better translation than the nearest words
    in the embedding space, which for "年假有几天" were all about "days".
    """
    if not groups:
        return [], normalize(text)
    norm = normalize(text)
    rest = norm
    found: list[str] = []
    for group in groups:
        lowered = [normalize(t) for t in group]
        hits = [term for term in lowered if term and _occurs(term, norm)]
        if hits:
            found.extend(t for t, low in zip(group, lowered, strict=True) if low not in norm)
            # Every term of the group the query used, the longest first ("annual leave"
            # before "leave"): each is covered, none is left for the bridge.
            for hit in sorted(hits, key=len, reverse=True):
                rest = _cut(hit, rest)
    return found, " ".join(rest.split())


def synonym_terms(text: str, groups: list[list[str]]) -> list[str]:
    """Other terms of every synonym group that has a term occurring in ``text``."""
    return synonym_cover(text, groups)[0]


def chunk_document(doc: Document, synonyms: list[list[str]] | None = None) -> list[Chunk]:
    """The chunks of one document, title card first."""
    chunks: list[Chunk] = []

    def add(anchor: str, heading: str, kind: str, text: str, aliases: str = "") -> None:
        chunks.append(
            Chunk(
                id=f"{doc.id}#{len(chunks)}",
                doc_id=doc.id,
                anchor=anchor,
                heading=heading,
                title=doc.title,
                lang=doc.lang,
                department=doc.department,
                kind=kind,
                text=text,
                aliases=aliases,
            )
        )

    alias_terms = list(dict.fromkeys([*doc.aliases, *doc.tags]))
    head_text = " ".join([doc.title, doc.summary, *alias_terms])
    alias_terms += [t for t in synonym_terms(head_text, synonyms or []) if t not in alias_terms]
    lead = doc.summary
    if not lead and doc.sections and not doc.sections[0].anchor:
        lead = doc.sections[0].text[:600]
    add("", "", "title", lead, "; ".join(alias_terms))

    for section in doc.sections:
        text = section.text.strip()
        if not text:
            continue  # a heading with nothing under it lives on in its children's paths
        heading = " › ".join(section.path)
        kind = "faq" if section.path and _QUESTION.search(section.path[-1]) else "section"
        for piece in split_long(text):
            add(section.anchor, heading, kind, piece)
    return chunks
