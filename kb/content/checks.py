"""The rules behind ``kb check``: everything a department owner must fix.

Parsing problems (bad YAML, missing titles, bad dates) are found while
loading; the rules here look across articles. Each rule yields Problems.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date

from .library import Library
from .models import Article, Problem
from .urls import article_path


def _departments_file(lib: Library) -> Iterator[Problem]:
    if not lib.has_departments_file and lib.articles:
        yield Problem("departments.yml", None, "warning", "no-departments-file",
                      "no departments.yml: departments are taken from folder names, with no owners, "
                      "contacts or response targets")


def _duplicate_slugs(lib: Library) -> Iterator[Problem]:
    by_slug: dict[str, list[str]] = defaultdict(list)
    for a in lib.articles.values():
        by_slug[a.slug.lower()].append(a.path)
    for paths in by_slug.values():
        for p in paths[1:]:
            yield Problem(p, None, "error", "duplicate-slug",
                          f"has the same URL ({article_path(lib.articles[p].slug)}) as {paths[0]}; rename one of them")


def _department(lib: Library, a: Article, today: date, review_days: int) -> Iterator[Problem]:
    dep = lib.departments.get(a.department)
    if lib.has_departments_file and (dep is None or not dep.declared):
        known = ", ".join(sorted(d.id for d in lib.departments.values() if d.declared))
        yield Problem(a.path, a.field_lines.get("department"), "error", "unknown-department",
                      f"department '{a.department}' is not in departments.yml (known: {known})")


def _translation(lib: Library, a: Article, today: date, review_days: int) -> Iterator[Problem]:
    if not a.translation_of:
        return
    line = a.field_lines.get("translation_of")
    original = lib.articles.get(a.translation_of)
    if original is None:
        yield Problem(a.path, line, "error", "translation-missing",
                      f"translation_of points to '{a.translation_of}', which is not an article "
                      "(give the path relative to the articles dir, e.g. benefits/parental-leave.md)")
    elif original.translation_of:
        yield Problem(a.path, line, "warning", "translation-chain",
                      f"'{a.translation_of}' is itself a translation; point to the original, '{original.translation_of}'")
    elif original.lang == a.lang:
        yield Problem(a.path, a.field_lines.get("lang"), "warning", "translation-same-lang",
                      f"is marked as a translation of '{a.translation_of}' but both are in '{a.lang}'; set lang:")


def _related(lib: Library, a: Article, today: date, review_days: int) -> Iterator[Problem]:
    for rel in a.related:
        if rel not in lib.articles:
            yield Problem(a.path, a.field_lines.get("related"), "error", "related-missing",
                          f"related article '{rel}' does not exist (paths are relative to the articles dir)")


def _links(lib: Library, a: Article, today: date, review_days: int) -> Iterator[Problem]:
    for link in a.links:
        if link.resolved is None and link.explicit_md:
            yield Problem(a.path, link.line, "error", "broken-link",
                          f"link to '{link.target}' points to no article; fix the path or remove the link")
        elif link.resolved is None:
            yield Problem(a.path, link.line, "warning", "unresolved-link",
                          f"link to '{link.target}' does not match an article here")
        elif link.anchor:
            anchors = {h.anchor for h in lib.articles[link.resolved].headings}
            if anchors and link.anchor not in anchors and not link.anchor.startswith("fn"):
                yield Problem(a.path, link.line, "warning", "broken-anchor",
                              f"'{link.target}': {link.resolved} has no heading with anchor #{link.anchor}")


def _review(lib: Library, a: Article, today: date, review_days: int) -> Iterator[Problem]:
    if a.review_overdue(today, review_days):
        due = a.review_due(review_days)
        yield Problem(a.path, a.field_lines.get("last_reviewed"), "warning", "review-overdue",
                      f"review overdue since {due.isoformat() if due else '?'} (last reviewed {a.last_reviewed}); "
                      "review the article and update last_reviewed")


def _comment_cuts(lib: Library, a: Article, today: date, review_days: int) -> Iterator[Problem]:
    for key, line in a.comment_cuts:
        yield Problem(a.path, line, "warning", "comment-in-value",
                      f"'{key}': YAML reads an unquoted ' #' as the start of a comment, so the rest of this line "
                      "is dropped from the value; put the value in quotes (\"...\") to keep it")


LIBRARY_RULES = (_departments_file, _duplicate_slugs)
ARTICLE_RULES = (_department, _translation, _related, _links, _review, _comment_cuts)


def check_library(lib: Library, today: date, default_review_days: int = 365) -> list[Problem]:
    """All problems in ``lib``: those found loading plus cross-article rules, sorted."""
    problems = list(lib.problems)
    for rule in LIBRARY_RULES:
        problems.extend(rule(lib))
    for a in sorted(lib.articles.values(), key=lambda a: a.path):
        for article_rule in ARTICLE_RULES:
            problems.extend(article_rule(lib, a, today, default_review_days))
    problems = list(dict.fromkeys(problems))  # the same link twice on a line is one fix
    problems.sort(key=lambda p: (p.file, p.line or 0, p.severity != "error"))
    return problems
