"""The rules behind ``kb check``: everything a department owner must fix.

Parsing problems (bad YAML, missing titles, bad dates) are found while
loading; the rules here look across articles.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from .loader import Library
from .models import Problem


def check_library(lib: Library, today: date, default_review_days: int = 365) -> list[Problem]:
    """All problems in ``lib``: those found loading plus cross-article rules, sorted."""
    problems = list(lib.problems)

    def add(path: str, line: int | None, severity: str, code: str, message: str) -> None:
        problems.append(Problem(path, line, severity, code, message))  # type: ignore[arg-type]

    if not lib.has_departments_file and lib.articles:
        add("departments.yml", None, "warning", "no-departments-file",
            "no departments.yml: departments are taken from folder names, with no owners, "
            "contacts or response targets")

    by_slug: dict[str, list[str]] = defaultdict(list)
    for a in lib.articles.values():
        by_slug[a.slug.lower()].append(a.path)
    for paths in by_slug.values():
        if len(paths) > 1:
            for p in paths[1:]:
                add(p, None, "error", "duplicate-slug",
                    f"has the same URL (/a/{lib.articles[p].slug}) as {paths[0]}; rename one of them")

    for a in sorted(lib.articles.values(), key=lambda a: a.path):
        lines = a.field_lines
        dep = lib.departments.get(a.department)
        if lib.has_departments_file and (dep is None or not dep.declared):
            known = ", ".join(sorted(d.id for d in lib.departments.values() if d.declared))
            add(a.path, lines.get("department"), "error", "unknown-department",
                f"department '{a.department}' is not in departments.yml (known: {known})")
        if a.translation_of:
            original = lib.articles.get(a.translation_of)
            if original is None:
                add(a.path, lines.get("translation_of"), "error", "translation-missing",
                    f"translation_of points to '{a.translation_of}', which is not an article "
                    "(give the path relative to the articles dir, e.g. benefits/parental-leave.md)")
            elif original.translation_of:
                add(a.path, lines.get("translation_of"), "warning", "translation-chain",
                    f"'{a.translation_of}' is itself a translation; point to the original, "
                    f"'{original.translation_of}'")
            elif original.lang == a.lang:
                add(a.path, lines.get("lang"), "warning", "translation-same-lang",
                    f"is marked as a translation of '{a.translation_of}' but both are in '{a.lang}'; set lang:")
        for rel in a.related:
            if rel not in lib.articles:
                add(a.path, lines.get("related"), "error", "related-missing",
                    f"related article '{rel}' does not exist (paths are relative to the articles dir)")
        for link in a.links:
            if link.resolved is None:
                if link.explicit_md:
                    add(a.path, link.line, "error", "broken-link",
                        f"link to '{link.target}' points to no article; fix the path or remove the link")
                else:
                    add(a.path, link.line, "warning", "unresolved-link",
                        f"link to '{link.target}' does not match an article here")
            elif link.anchor:
                target = lib.articles[link.resolved]
                anchors = {h.anchor for h in target.headings}
                if anchors and link.anchor not in anchors and not link.anchor.startswith("fn"):
                    add(a.path, link.line, "warning", "broken-anchor",
                        f"'{link.target}': {link.resolved} has no heading with anchor #{link.anchor}")
        if a.review_overdue(today, default_review_days):
            due = a.review_due(default_review_days)
            add(a.path, lines.get("last_reviewed"), "warning", "review-overdue",
                f"review overdue since {due.isoformat() if due else '?'} (last reviewed {a.last_reviewed}); "
                "review the article and update last_reviewed")
    problems = list(dict.fromkeys(problems))  # the same link twice on a line is one fix
    problems.sort(key=lambda p: (p.file, p.line or 0, p.severity != "error"))
    return problems
