"""Read an articles dir into a Library: articles, departments, problems.

Nothing here raises on bad content. A file that cannot be read is reported
(file and line) and skipped; everything else loads.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from .departments import load_departments, parse_synonyms
from .frontmatter import FrontMatterError, load_yaml_with_lines, split_front_matter
from .gitmeta import git_metadata
from .lang import detect_language
from .links import LinkResolver, article_slug
from .models import Article, Department, Link, Problem
from .render import render_markdown
from .templating import strip_template_tags

#: Files at the top of an articles dir that describe the repository, not policy.
ROOT_IGNORED = {"readme.md", "source.md", "contributing.md", "license.md", "changelog.md", "code_of_conduct.md"}
SYNONYMS_FILE = "synonyms.yml"
GENERAL = "general"
KNOWN_KEYS = {
    "title", "summary", "description", "department", "owners", "tags", "aliases", "lang",
    "translation_of", "last_reviewed", "review_every", "related", "keywords",
}
_H1 = re.compile(r"^\s*#\s+(.+?)\s*#*\s*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Library:
    """Everything the site, the checker and the indexer know about the content."""

    root: Path
    articles: dict[str, Article] = field(default_factory=dict)  # by path
    departments: dict[str, Department] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    synonyms: list[list[str]] = field(default_factory=list)
    has_departments_file: bool = False
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self._by_slug: dict[str, Article] = {}
        self._families: dict[str, list[Article]] = {}

    def index(self) -> None:
        self._by_slug, self._families = {}, {}
        for a in self.articles.values():
            self._by_slug.setdefault(a.slug, a)
            self._families.setdefault(self.family_of(a), []).append(a)
        for key, group in self._families.items():
            group.sort(key=lambda a, key=key: (a.path != key, a.lang))

    def by_slug(self, slug: str) -> Article | None:
        return self._by_slug.get(slug)

    def in_department(self, dep_id: str) -> list[Article]:
        return sorted((a for a in self.articles.values() if a.department == dep_id), key=lambda a: a.title.lower())

    def family_of(self, article: Article) -> str:
        """The path of the original an article translates, or its own: one key per
        article and its translations (search shows a family once)."""
        return article.translation_of if article.translation_of in self.articles else article.path

    def family(self, article: Article) -> list[Article]:
        """Every language version of ``article``, itself included, original first."""
        return list(self._families.get(self.family_of(article), [article]))

    def translations(self, article: Article) -> list[Article]:
        """The other language versions of ``article`` (original first)."""
        return [a for a in self.family(article) if a.path != article.path]

    def preferred_version(self, article: Article, lang: str) -> Article:
        """The version of ``article``'s family in ``lang``, else the original."""
        versions = self.family(article)
        return next((v for v in versions if v.lang == lang), versions[0])

    def recently_updated(self, limit: int = 8) -> list[Article]:
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(self.articles.values(), key=lambda a: a.modified or epoch, reverse=True)[:limit]

    def department_synonyms(self) -> list[list[str]]:
        groups = list(self.synonyms)
        for d in self.departments.values():
            groups.extend(d.synonyms)
        return groups


def _as_str_list(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    return None


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def iter_article_files(root: Path) -> list[Path]:
    files = []
    for p in root.rglob("*.md"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if len(rel.parts) == 1 and rel.name.lower() in ROOT_IGNORED:
            continue
        if p.is_file():
            files.append(p)
    return sorted(files)


def _first_paragraph(body: str, limit: int = 220) -> str:
    for block in re.split(r"\n\s*\n", body):
        text = block.strip()
        if not text or text[0] in "#|!<>`-*~[" or text.startswith("    "):
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
        text = re.sub(r"[*_`]", "", " ".join(text.split()))
        return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return ""


def parse_article(root: Path, file: Path, problems: list[Problem]) -> Article | None:
    """Parse one file's front matter and body (not rendered yet); None if unreadable."""
    rel = file.relative_to(root).as_posix()

    def report(severity: str, code: str, message: str, line: int | None) -> None:
        problems.append(Problem(rel, line, severity, code, message))  # type: ignore[arg-type]

    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        report("error", "encoding", f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8", None)
        return None
    try:
        parsed = split_front_matter(text)
    except FrontMatterError as exc:
        report("error", "yaml-error", f"{exc.message}; the article was skipped", exc.line)
        return None
    meta, lines = parsed.meta, parsed.key_lines
    body = strip_template_tags(parsed.body)

    title = meta.get("title")
    if title is not None and not isinstance(title, (str, int, float)):
        report("error", "bad-title", "title must be text", lines.get("title"))
        title = None
    title = str(title).strip() if title is not None else ""
    # A leading "# Heading" repeats the title (or is it): the page shows the title itself.
    body_lines = body.split("\n")
    for i, line in enumerate(body_lines):
        if not line.strip():
            continue
        m = _H1.match(line)
        if m and (not title or m.group(1).strip() == title):
            title = title or m.group(1).strip()
            body_lines[i] = ""
            body = "\n".join(body_lines)
        break
    if not title:
        report("error", "missing-title", "no title: add 'title:' to the front matter or start with '# Title'", 1)
        title = file.stem.replace("-", " ").replace("_", " ").strip().capitalize() or rel

    def str_list(key: str) -> list[str]:
        value = _as_str_list(meta.get(key))
        if value is None:
            report("error", f"bad-{key}", f"{key} must be a list of text values", lines.get(key))
            return []
        return value

    summary = meta.get("summary") or meta.get("description") or ""
    if not isinstance(summary, str):
        report("warning", "bad-summary", "summary should be one line of text", lines.get("summary"))
        summary = str(summary)
    department = meta.get("department")
    if department is not None and not isinstance(department, str):
        report("error", "bad-department", "department must be a department id", lines.get("department"))
        department = None
    if not department:
        parts = Path(rel).parts
        department = parts[0] if len(parts) > 1 else GENERAL

    last_reviewed = None
    if meta.get("last_reviewed") not in (None, ""):
        last_reviewed = _as_date(meta["last_reviewed"])
        if last_reviewed is None:
            report(
                "error",
                "bad-date",
                f"last_reviewed {meta['last_reviewed']!r} is not a date; write it as YYYY-MM-DD",
                lines.get("last_reviewed"),
            )
    review_every = meta.get("review_every")
    if review_every is not None and (isinstance(review_every, bool) or not isinstance(review_every, int) or review_every <= 0):
        report("error", "bad-review-every", f"review_every must be a number of days, not {review_every!r}", lines.get("review_every"))
        review_every = None

    lang = meta.get("lang")
    if lang is not None and not isinstance(lang, str):
        report("error", "bad-lang", "lang must be a language code such as en, ja, ko or zh", lines.get("lang"))
        lang = None
    # The title says most about the language: bodies of translated handbooks
    # are often full of English names, links and code.
    lang = (lang or "").strip().lower().replace("_", "-")
    if not lang:
        lang = detect_language(title)
        if lang not in ("ja", "ko"):  # Han alone is ambiguous between Japanese and Chinese
            lang = detect_language(title + "\n" + body[:4000])

    translation_of = meta.get("translation_of")
    if translation_of is not None and not isinstance(translation_of, str):
        report("error", "bad-translation-of", "translation_of must be the path of the original article", lines.get("translation_of"))
        translation_of = None

    aliases = str_list("aliases")
    tags = str_list("tags")
    keywords = _as_str_list(meta.get("keywords")) or []
    extra = {k: v for k, v in meta.items() if k not in KNOWN_KEYS}

    return Article(
        path=rel,
        slug=article_slug(rel),
        title=title,
        department=department.strip(),
        lang=lang,
        body=body,
        summary=summary.strip() or _first_paragraph(body),
        owners=str_list("owners"),
        tags=tags,
        aliases=aliases + [k for k in keywords if k not in aliases],
        translation_of=translation_of.strip().lstrip("/") if translation_of else None,
        last_reviewed=last_reviewed,
        review_every=review_every,
        related=[r.lstrip("/") for r in str_list("related")],
        extra=extra,
        content_hash=hashlib.sha256(raw).hexdigest(),
        modified=datetime.fromtimestamp(file.stat().st_mtime, UTC),
        field_lines=lines,
        body_line=parsed.body_line,
    )


def _url_aliases(articles: Any) -> dict[str, str]:
    """URLs a page was published under by a static site generator."""
    aliases: dict[str, str] = {}
    for a in articles:
        for key in ("redirect_from", "permalink", "url"):
            values = a.extra.get(key)
            for v in values if isinstance(values, list) else [values]:
                if isinstance(v, str) and v.strip("/"):
                    aliases.setdefault(v, a.path)
    return aliases


def _line_of(article: Article, href: str) -> int | None:
    for offset, line in enumerate(article.body.split("\n")):
        if href in line:
            return article.body_line + offset
    return None


#: Rendered bodies of the last load, by what the rendering depends on: an edit
#: re-renders one article, not the whole handbook (1.6 s -> 0.3 s on 18F).
_rendered: dict[tuple[str, int, str, str], tuple] = {}


def render_article(article: Article, resolver: LinkResolver, cache: dict | None = None) -> None:
    """Render the body; rewrite links to other articles to their site URLs."""
    key = (article.path, article.body_line, hashlib.sha256(article.body.encode("utf-8")).hexdigest(), resolver.fingerprint)
    hit = _rendered.get(key)
    if hit is None:
        hit = _render(article, resolver)
    if cache is not None:
        cache[key] = hit
    article.html, headings, sections, links = hit
    # Lists are copied: a cached rendering is shared by the libraries of successive loads.
    article.headings, article.sections, article.links = list(headings), list(sections), list(links)


def _render(article: Article, resolver: LinkResolver) -> tuple:
    links: list[Link] = []

    def rewrite(href: str) -> str | None:
        target = resolver.resolve(href, article.path)
        if not target.internal or target.is_file:
            return None
        links.append(
            Link(
                target=href,
                line=_line_of(article, href),
                resolved=target.path,
                anchor=target.anchor,
                explicit_md=target.explicit_md,
            )
        )
        if target.path is None:
            return None
        slug = article_slug(target.path)
        return "/a/" + slug + (f"#{target.anchor}" if target.anchor else "")

    rendered = render_markdown(article.body, rewrite)
    return rendered.html, tuple(rendered.headings), tuple(rendered.sections), tuple(links)


def load_library(root: Path, *, use_git: bool = True) -> Library:
    """Load every article under ``root``; never raises on bad content."""
    root = Path(root)
    lib = Library(root=root)
    if not root.is_dir():
        lib.problems.append(Problem(str(root), None, "error", "no-articles-dir", "articles directory not found"))
        return lib
    lib.departments, dep_problems, lib.has_departments_file = load_departments(root)
    lib.problems.extend(dep_problems)
    syn_path = root / SYNONYMS_FILE
    if syn_path.exists():
        try:
            data, _ = load_yaml_with_lines(syn_path.read_text(encoding="utf-8"))
            groups = parse_synonyms(data.get("synonyms") if isinstance(data, dict) else data)
            if groups is None:
                lib.problems.append(Problem(SYNONYMS_FILE, 1, "error", "synonyms", "expected 'synonyms:' with a list of lists of equivalent terms"))
            else:
                lib.synonyms = groups
        except FrontMatterError as exc:
            lib.problems.append(Problem(SYNONYMS_FILE, exc.line, "error", "yaml-error", exc.message))

    for file in iter_article_files(root):
        article = parse_article(root, file, lib.problems)
        if article is not None:
            lib.articles[article.path] = article

    resolver = LinkResolver(set(lib.articles), _url_aliases(lib.articles.values()))
    git = git_metadata(root) if use_git else {}
    global _rendered
    rendered: dict = {}
    for article in lib.articles.values():
        render_article(article, resolver, rendered)
        dep = lib.departments.get(article.department)
        if article.review_every is None and dep is not None:
            article.review_every = dep.review_every
        info = git.get(article.path)
        if info is not None:
            article.git = info
            article.modified = info.date
    # Folders without an entry in departments.yml still work as departments.
    for article in lib.articles.values():
        if article.department not in lib.departments:
            lib.departments[article.department] = Department(
                id=article.department,
                name=article.department.replace("-", " ").replace("_", " ").title(),
                declared=False,
            )
    _rendered = rendered
    lib.index()
    return lib
