"""The Library: every article and department of one load, and the questions the
site, the checker and the indexer ask of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .models import Article, Department, Problem


@dataclass
class Library:
    root: Path
    articles: dict[str, Article] = field(default_factory=dict)  # by path
    departments: dict[str, Department] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    synonyms: list[list[str]] = field(default_factory=list)
    has_departments_file: bool = False

    def __post_init__(self) -> None:
        self._by_slug: dict[str, Article] = {}
        self._families: dict[str, list[Article]] = {}

    def index(self) -> None:
        """Build the look-ups; called once the articles are all in."""
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
        article and its translations (search and lists show a family once)."""
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

    def families_in(self, dep_id: str, lang: str) -> list[tuple[Article, list[Article]]]:
        """A department's articles, one entry per family in ``lang`` where there is
        one, with all its versions; sorted by the shown title."""
        seen: dict[str, tuple[Article, list[Article]]] = {}
        for a in self.in_department(dep_id):
            key = self.family_of(a)
            if key not in seen:
                seen[key] = (self.preferred_version(a, lang), self.family(a))
        return sorted(seen.values(), key=lambda entry: entry[0].title.lower())

    def recently_updated(self, limit: int = 8) -> list[Article]:
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(self.articles.values(), key=lambda a: a.modified or epoch, reverse=True)[:limit]

    def department_synonyms(self) -> list[list[str]]:
        groups = list(self.synonyms)
        for d in self.departments.values():
            groups.extend(d.synonyms)
        return groups
