"""What crosses into the search library: plain documents in, hits out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DocSection:
    anchor: str  # id of the heading on the rendered page; "" before the first heading
    path: tuple[str, ...]  # headings above and including this one
    text: str


@dataclass(frozen=True)
class Document:
    """One article as search sees it. ``id`` is its path relative to the articles dir.

    ``family`` is the id of the original that this document translates ("" or
    its own id for an original): search shows a family once.
    """

    id: str
    title: str
    lang: str = "en"
    department: str = ""
    summary: str = ""
    tags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    sections: tuple[DocSection, ...] = ()
    content_hash: str = ""
    family: str = ""


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit: one section (or part of a long one), or an article's title card."""

    id: str  # f"{doc_id}#{n}"
    doc_id: str
    anchor: str
    heading: str  # heading path joined with " › "
    title: str
    lang: str
    department: str
    kind: str  # "title" | "section" | "faq"
    text: str  # the body text of this chunk (what snippets come from)
    aliases: str = ""  # aliases, tags and matching synonyms

    def embedding_text(self) -> str:
        """Title and heading path first: they say what the passage is about."""
        head = self.title if not self.heading else f"{self.title} › {self.heading}"
        if self.kind == "title":
            return "\n".join(t for t in (head, self.aliases, self.text) if t)
        return f"{head}\n{self.text}"


@dataclass
class Hit:
    """One article in the results, pointing at the section that answers best."""

    article: str
    anchor: str
    title: str
    heading: str
    snippet: str  # HTML: escaped text with <mark> around matched terms
    score: float
    department: str
    lang: str
    sources: dict[str, int] = field(default_factory=dict)  # retriever -> rank of its best chunk
    family: str = ""  # id of the family's original (the article's own id for an original)
    also_in: list[Hit] = field(default_factory=list)  # the family's other versions found (SearchService)


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    did_you_mean: str | None = None
    corrected: bool = False  # results are for ``did_you_mean``, the query found too little
    took_ms: float = 0.0
    language: str = "en"
    total: int = 0  # articles found
    ranked: list[str] = field(default_factory=list)  # every article found, best first
    answered: bool = False  # the handbook answers this (search/answer.py)
    reason: str | None = None  # when not answered: "nothing_matched" or "weak_matches"
