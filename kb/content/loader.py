"""Read an articles dir into a Library: articles, departments, problems.

Nothing here raises on bad content. A file that cannot be read is reported
(file and line) and skipped; everything else loads.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path

from .articles import parse_article
from .deadline import TimeLimitError
from .departments import load_departments, parse_synonyms
from .files import ContentFiles, Limits
from .frontmatter import FrontMatterError, load_yaml_with_lines
from .gitmeta import git_metadata
from .library import Library
from .links import LinkResolver
from .models import Article, Department, Link, Problem
from .render import MarkdownRenderer
from .urls import article_path

SYNONYMS_FILE = "synonyms.yml"


def iter_article_files(root: Path) -> list[Path]:
    """Article files inside ``root`` (links leading outside are left out)."""
    return ContentFiles(root).walk()[0]


def _line_of(article: Article, href: str) -> int | None:
    for offset, line in enumerate(article.body.split("\n")):
        if href in line:
            return article.body_line + offset
    return None


def _body_key(article: Article) -> tuple[str, int, str]:
    return (article.path, article.body_line, hashlib.sha256(article.body.encode("utf-8")).hexdigest())


def _render_failure(article: Article, exc: Exception) -> Problem:
    if isinstance(exc, RecursionError):
        why = "lists, quotes or tags nested too deeply"
    elif isinstance(exc, TimeLimitError):
        why = (f"it took longer than {exc.seconds:g} s (KB_RENDER_SECONDS): look for very long lists "
               "or many unmatched '[' in one paragraph")
    else:
        why = f"{type(exc).__name__}: {exc}"
    return Problem(article.path, getattr(exc, "lineno", None) or article.body_line, "error", "render-error",
                   f"the Markdown could not be rendered ({why}); the article was skipped")


class ArticleRenderer:
    """Renders article bodies, rewriting links to other articles to site URLs.

    It keeps the renderings of the last load, keyed by everything a rendering
    depends on, so a reload re-renders only what changed (1.6 s -> 0.3 s on 18F).
    A body that failed to render is remembered too, so it is not retried until it changes.
    One renderer serves one loader at a time (the lock makes that so).
    """

    def __init__(self, seconds: float | None = None) -> None:
        #: the time one body may take to render (Python-Markdown is quadratic on some inputs)
        self.seconds = seconds
        self._markdown = MarkdownRenderer(seconds)
        self._last: dict[tuple[str, int, str, str], tuple] = {}
        self._failed: dict[tuple[str, int, str], Problem] = {}
        self._lock = threading.Lock()

    def known_failures(self, articles: Iterable[Article]) -> list[Problem]:
        """Problems of articles whose very body failed to render before (forgetting the rest)."""
        with self._lock:
            keys = [_body_key(a) for a in articles]
            self._failed = {k: self._failed[k] for k in keys if k in self._failed}
            return list(self._failed.values())

    def render_all(self, articles: Iterable[Article], resolver: LinkResolver) -> list[Problem]:
        """Render each article; return a problem for each that could not be rendered
        (its fields are left as they were)."""
        with self._lock:
            current: dict[tuple[str, int, str, str], tuple] = {}
            failed: list[Problem] = []
            for article in articles:
                key = (*_body_key(article), resolver.fingerprint)
                hit = self._last.get(key) or self._render_safely(article, resolver)
                if isinstance(hit, Problem):
                    self._failed[key[:3]] = hit
                    failed.append(hit)
                    continue
                current[key] = hit
                article.html, headings, sections, links = hit
                # Lists are copied: a cached rendering is shared by the libraries of successive loads.
                article.headings, article.sections, article.links = list(headings), list(sections), list(links)
            self._last = current
            return failed

    def _render_safely(self, article: Article, resolver: LinkResolver) -> tuple | Problem:
        # One article must never take the site down: any failure of the renderer or
        # the sanitizer (RecursionError on deep nesting, a bug) becomes that file's problem.
        try:
            return self._render(article, resolver)
        except Exception as exc:  # noqa: BLE001 (untrusted input reaches third-party code)
            self._markdown = MarkdownRenderer(self.seconds)  # its per-document state may be half-reset
            return _render_failure(article, exc)

    def _render(self, article: Article, resolver: LinkResolver) -> tuple:
        links: list[Link] = []

        def rewrite(href: str) -> str | None:
            target = resolver.resolve(href, article.path)
            if not target.internal or target.is_file:
                return None
            links.append(Link(target=href, line=_line_of(article, href), resolved=target.path,
                              anchor=target.anchor, explicit_md=target.explicit_md))
            return article_path(target.path, target.anchor) if target.path else None

        rendered = self._markdown.render(article.body, rewrite)
        return rendered.html, tuple(rendered.headings), tuple(rendered.sections), tuple(links)


def _render_articles(lib: Library, renderer: ArticleRenderer) -> None:
    """Render every article; one that cannot be rendered is reported and left out,
    and the others are rendered again without it so no link resolves to it."""
    failed = renderer.known_failures(lib.articles.values())
    while True:
        for problem in failed:
            lib.problems.append(problem)
            lib.articles.pop(problem.file, None)
        resolver = LinkResolver(set(lib.articles), _url_aliases(lib.articles.values()))
        failed = renderer.render_all(lib.articles.values(), resolver)
        if not failed:  # each round removes an article, so this ends
            return


def _parse_safely(files: ContentFiles, file: Path, problems: list[Problem]) -> Article | None:
    try:
        return parse_article(files, file, problems)
    except Exception as exc:  # noqa: BLE001 (e.g. RecursionError in YAML nested too deeply)
        problems.append(Problem(files.rel(file), None, "error", "parse-error",
                                f"could not be read ({type(exc).__name__}); the article was skipped"))
        return None


def _url_aliases(articles: Iterable[Article]) -> dict[str, str]:
    """URLs a page was published under by a static site generator."""
    aliases: dict[str, str] = {}
    for a in articles:
        for key in ("redirect_from", "permalink", "url"):
            values = a.extra.get(key)
            for v in values if isinstance(values, list) else [values]:
                if isinstance(v, str) and v.strip("/"):
                    aliases.setdefault(v, a.path)
    return aliases


def _load_synonyms(lib: Library, files: ContentFiles) -> None:
    path = lib.root / SYNONYMS_FILE
    if not path.is_symlink() and not path.exists():
        return
    text = files.read_text(path, lib.problems)
    if text is None:
        return
    try:
        data, _ = load_yaml_with_lines(text)
    except FrontMatterError as exc:
        lib.problems.append(Problem(SYNONYMS_FILE, exc.line, "error", "yaml-error", exc.message))
        return
    groups = parse_synonyms(data.get("synonyms") if isinstance(data, dict) else data)
    if groups is None:
        lib.problems.append(Problem(SYNONYMS_FILE, 1, "error", "synonyms", "expected 'synonyms:' with a list of lists of equivalent terms"))
    else:
        lib.synonyms = groups


def _complete(lib: Library, use_git: bool) -> None:
    """What an article takes from outside its file: git history, its department's
    review interval; folders without an entry in departments.yml still work as departments."""
    git = git_metadata(lib.root) if use_git else {}
    for article in lib.articles.values():
        dep = lib.departments.get(article.department)
        if article.review_every is None and dep is not None:
            article.review_every = dep.review_every
        info = git.get(article.path)
        if info is not None:
            article.git, article.modified = info, info.date
    for article in lib.articles.values():
        if article.department not in lib.departments:
            name = article.department.replace("-", " ").replace("_", " ").title()
            lib.departments[article.department] = Department(id=article.department, name=name, declared=False)


def load_library(root: Path, *, use_git: bool = True, renderer: ArticleRenderer | None = None,
                 limits: Limits | None = None) -> Library:
    """Load every article under ``root``; never raises on bad content.

    Pass the same ``renderer`` to successive loads to re-render only what changed.
    Nothing outside ``root`` is read, and no file beyond ``limits``.
    """
    lib = Library(root=Path(root))
    if not lib.root.is_dir():
        lib.problems.append(Problem(str(root), None, "error", "no-articles-dir", "articles directory not found"))
        return lib
    files = ContentFiles(lib.root, limits)
    lib.departments, dep_problems, lib.has_departments_file = load_departments(files)
    lib.problems.extend(dep_problems)
    _load_synonyms(lib, files)
    article_files, outside = files.walk()
    lib.problems.extend(outside)
    for file in article_files:
        article = _parse_safely(files, file, lib.problems)
        if article is not None:
            lib.articles[article.path] = article
    _render_articles(lib, renderer or ArticleRenderer(files.limits.render_seconds))
    _complete(lib, use_git)
    lib.index()
    return lib
