"""One article file: bytes -> front matter, title, language, body (not yet rendered).

Nothing here raises on bad content: problems are reported with file and line,
and the article loads with defaults where it can.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from search.query import primary_language

from .fields import ARTICLE_FIELDS, KNOWN_KEYS, read_fields
from .files import ContentFiles
from .frontmatter import FrontMatterError, Parsed, split_front_matter
from .lang import detect_language
from .links import article_slug
from .models import Article, Problem
from .scan import strip_md_links
from .templating import strip_template_tags

GENERAL = "general"  # the department of files at the top of the articles dir
_PARAGRAPHS = re.compile(r"\n\s*\n")
_EMPHASIS = re.compile(r"[*_`]")


def _first_paragraph(body: str, limit: int = 220) -> str:
    for block in _PARAGRAPHS.split(body):
        text = block.strip()
        if not text or text[0] in "#|!<>`-*~[" or text.startswith("    "):
            continue
        text = _EMPHASIS.sub("", " ".join(strip_md_links(text).split()))
        return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return ""


def h1_text(line: str) -> str | None:
    r"""The text of a "# Heading" line, stripped, as ``^\s*#\s+(.+?)\s*#*\s*$`` found it.

    That regex took 30 s on "# a" + 2,000 spaces + "x" (cubic backtracking); this
    is the same answer in one pass: the heading is what lies between the "#" and
    its whitespace and a closing run of whitespace, "#"s and whitespace.
    """
    rest = line.lstrip()
    if not rest.startswith("#") or len(rest) < 2 or not rest[1].isspace():
        return None
    rest = rest[1:]
    core = rest.rstrip().rstrip("#").rstrip().lstrip()
    if core:
        return core
    # Only whitespace and "#"s: the regex's one-character heading is a "#" if any, else a space.
    if "#" in rest:
        return "#"
    return "" if len(rest) >= 2 else None


def _take_title(title: str, body: str) -> tuple[str, str]:
    """A leading "# Heading" repeats the title (or is it): the page shows the title
    itself, so the heading leaves the body."""
    lines = body.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        heading = h1_text(line)
        if heading is not None and (not title or heading == title):
            title = title or heading
            lines[i] = ""
            return title, "\n".join(lines)
        break
    return title, body


def _one_line(title: str) -> str:
    """Control characters (line breaks, tabs, escapes) replaced by spaces: a title
    ends up in email headers, HTML attributes and logs, where a newline breaks them."""
    return "".join(" " if unicodedata.category(c) == "Cc" or c in "\u2028\u2029" else c for c in title).strip()


def _language(declared: str, title: str, body: str) -> str:
    lang = primary_language(declared)
    if lang:
        return lang
    # The title says most about the language: bodies of translated handbooks
    # are often full of English names, links and code.
    lang = detect_language(title)
    if lang in ("ja", "ko"):
        return lang
    return detect_language(title + "\n" + body[:4000])  # Han alone is ambiguous between ja and zh


def _decode(files: ContentFiles, rel: str, raw: bytes, problems: list[Problem]) -> Parsed | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(rel, None, "error", "encoding", f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8"))
        return None
    if files.long_line(rel, text, problems):
        return None
    try:
        return split_front_matter(text)
    except FrontMatterError as exc:
        problems.append(Problem(rel, exc.line, "error", "yaml-error", f"{exc.message}; the article was skipped"))
        return None


def parse_article(files: ContentFiles, file: Path, problems: list[Problem]) -> Article | None:
    """Parse one file's front matter and body (not rendered yet); None if unreadable."""
    rel = files.rel(file)
    raw = files.read_bytes(file, problems)
    if raw is None:
        return None
    parsed = _decode(files, rel, raw, problems)
    if parsed is None:
        return None
    lines = parsed.key_lines

    def report(key: str, severity: str, code: str, message: str) -> None:
        problems.append(Problem(rel, lines.get(key), severity, code, message))  # type: ignore[arg-type]

    v: dict[str, Any] = read_fields(parsed.meta, ARTICLE_FIELDS, report)
    title, body = _take_title(v["title"], strip_template_tags(parsed.body))
    if _one_line(title) != title.strip():
        report("title", "warning", "control-characters",
               "the title contains control characters (a line break, a tab...); they were replaced by spaces")
        title = _one_line(title)
    if not title:
        problems.append(Problem(rel, 1, "error", "missing-title", "no title: add 'title:' to the front matter or start with '# Title'"))
        title = file.stem.replace("-", " ").replace("_", " ").strip().capitalize() or rel
    parts = Path(rel).parts
    return Article(
        path=rel,
        slug=article_slug(rel),
        title=title,
        department=v["department"] or (parts[0] if len(parts) > 1 else GENERAL),
        lang=_language(v["lang"], title, body),
        body=body,
        summary=v["summary"] or _first_paragraph(body),
        owners=v["owners"],
        tags=v["tags"],
        aliases=v["aliases"] + [k for k in v["keywords"] if k not in v["aliases"]],
        translation_of=v["translation_of"] or None,
        last_reviewed=v["last_reviewed"],
        review_every=v["review_every"],
        related=[r.lstrip("/") for r in v["related"]],
        extra={k: val for k, val in parsed.meta.items() if k not in KNOWN_KEYS},
        content_hash=hashlib.sha256(raw).hexdigest(),
        modified=datetime.fromtimestamp(file.stat().st_mtime, UTC),
        field_lines=lines,
        body_line=parsed.body_line,
        comment_cuts=tuple(parsed.comment_cuts),
    )
