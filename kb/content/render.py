"""Markdown to safe HTML, with the headings, sections and links found on the way.

One pass of Python-Markdown produces everything the rest of kb needs about an
article's body: the sanitized HTML, the table of contents, the sections that
search indexes (with the very anchors the page shows) and the links to check.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree  # noqa: N813 (the name Python-Markdown uses)
from collections.abc import Callable
from dataclasses import dataclass, field

import markdown
import nh3
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from .deadline import time_limit
from .models import Heading, Section
from .scan import replace_delimited
from .slugs import slugify

#: Given an href as written, return the site URL to use instead, or None to keep it.
LinkRewriter = Callable[[str], "str | None"]

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {"p", "li", "tr", "pre", "blockquote", "div", "dt", "dd", "table", "ul", "ol", "br", "hr"}
_CONTAINERS = {"table", "thead", "tbody", "tfoot", "tr", "ul", "ol", "dl"}
_WS = re.compile(r"[ \t\r\f\v]+")
# Runs of whitespace holding a newline become one newline. Not ``\s*\n\s*``: that
# rescans a run without newline (20,000 ideographic spaces: 3 s) from each of its characters.
_SPACE_RUN = re.compile(r"\s+")


def _one_newline(m: re.Match[str]) -> str:
    return "\n" if "\n" in m.group(0) else m.group(0)

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div",
    "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
    "li", "mark", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "*": {"id", "class", "lang", "dir", "title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


def element_text(el: etree.Element) -> str:
    """Readable text of an element: block elements and table cells kept apart."""
    parts: list[str] = []

    def walk(e: etree.Element) -> None:
        if e.tag in _BLOCKS:
            parts.append("\n")
        if e.text:
            parts.append(e.text)
        for child in e:
            walk(child)
            if child.tag in ("td", "th"):
                parts.append(" | ")
            if child.tail and (child.tail.strip() or e.tag not in _CONTAINERS):
                parts.append(child.tail)
        if e.tag in _BLOCKS:
            parts.append("\n")

    walk(el)
    # Placeholders Python-Markdown leaves for raw HTML and footnote back-links: \x02...\x03.
    text = replace_delimited("".join(parts), "\x02", "\x03", " ")
    text = _WS.sub(" ", text)
    return _SPACE_RUN.sub(_one_newline, text).strip()


@dataclass
class Rendered:
    html: str
    headings: list[Heading] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    hrefs: list[str] = field(default_factory=list)


class _Collect(Treeprocessor):
    """Runs after the toc extension gave headings their ids."""

    def run(self, root: etree.Element) -> None:
        md = self.md
        rewrite: LinkRewriter | None = getattr(md, "kb_rewrite", None)
        hrefs: list[str] = []
        for a in root.iter("a"):
            href = a.get("href")
            if not href or href.startswith("#") or a.get("class") in ("footnote-ref", "footnote-backref"):
                continue
            hrefs.append(href)
            if rewrite is not None:
                new = rewrite(href)
                if new is not None:
                    a.set("href", new)
        headings: list[Heading] = []
        sections: list[Section] = []
        stack: list[tuple[int, str]] = []
        anchor, level, buf = "", 0, []

        def flush() -> None:
            text = "\n".join(t for t in buf if t)
            if text or anchor:
                sections.append(Section(anchor=anchor, path=tuple(h for _, h in stack), text=text, level=level))

        for el in root:
            lvl = _HEADINGS.get(el.tag)
            if lvl is None:
                buf.append(element_text(el))
                continue
            flush()
            title = element_text(el)
            while stack and stack[-1][0] >= lvl:
                stack.pop()
            stack.append((lvl, title))
            anchor, level, buf = el.get("id", ""), lvl, []
            headings.append(Heading(level=lvl, text=title, anchor=anchor))
        flush()
        md.kb_headings, md.kb_sections, md.kb_hrefs = headings, sections, hrefs  # type: ignore[attr-defined]


class _CollectExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (Markdown's API)
        # Priority below toc (5) so heading ids exist; above nothing else that matters.
        md.treeprocessors.register(_Collect(md), "kb_collect", 1)


def _make_markdown() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=[
            "tables",
            "fenced_code",
            "footnotes",
            "admonition",
            "sane_lists",
            "def_list",
            "abbr",
            "md_in_html",
            "attr_list",
            _CollectExtension(),
            "toc",
        ],
        extension_configs={"toc": {"slugify": slugify, "toc_depth": "2-4"}},
        output_format="html",
    )


class MarkdownRenderer:
    """One Python-Markdown instance, reset between documents.

    An instance is not safe to share between threads (Markdown keeps per-document
    state), so each loader owns its own; building one costs a few milliseconds.
    """

    def __init__(self, seconds: float | None = None) -> None:
        self._md = _make_markdown()
        self.seconds = seconds

    def render(self, body: str, rewrite: LinkRewriter | None = None) -> Rendered:
        """Render ``body`` to sanitized HTML; collect headings, sections and hrefs.

        Raises ``TimeLimitError`` when it takes longer than ``seconds``.
        """
        md = self._md
        md.reset()
        md.kb_rewrite = rewrite  # type: ignore[attr-defined]
        with time_limit(self.seconds):
            html = md.convert(body)
        return Rendered(
            html=sanitize(html),
            headings=list(getattr(md, "kb_headings", [])),
            sections=list(getattr(md, "kb_sections", [])),
            hrefs=list(getattr(md, "kb_hrefs", [])),
        )


def render_markdown(body: str, rewrite: LinkRewriter | None = None) -> Rendered:
    """Render one document with a renderer of its own (for one-off use and tests)."""
    return MarkdownRenderer().render(body, rewrite)


def sanitize(html: str) -> str:
    """Keep document markup; drop scripts, event handlers and dangerous URLs."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )
