"""Plain data for the content layer: articles, departments, sections, problems.

These are what cross into the rest of kb (and into ``search/`` as Documents):
no Markdown parsing, no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """Something wrong in the content, located precisely enough to fix."""

    file: str  # path relative to the articles dir
    line: int | None
    severity: Severity
    code: str  # stable machine name, e.g. "yaml-error"
    message: str

    def format(self, prefix: str = "") -> str:
        where = f"{prefix}{self.file}"
        if self.line:
            where += f":{self.line}"
        return f"{where}: {self.severity}: {self.message} [{self.code}]"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True)
class Contact:
    email: str | None = None
    chat: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ResponseTarget:
    """A promise such as "3 business days", parsed so due dates can be computed."""

    text: str
    amount: int
    unit: Literal["business_days", "days", "hours"]


@dataclass
class Department:
    id: str
    name: str
    description: str = ""
    owners: list[str] = field(default_factory=list)
    contact: Contact = field(default_factory=Contact)
    response_target: ResponseTarget | None = None
    review_every: int | None = None
    notify: dict[str, Any] = field(default_factory=dict)
    synonyms: list[list[str]] = field(default_factory=list)
    holidays: str | None = None  # a country calendar of the ``holidays`` package ("JP"); None: weekdays only
    closed: list[date] = field(default_factory=list)  # company closure days, not working days either
    extra: dict[str, Any] = field(default_factory=dict)
    declared: bool = True  # False when inferred from a folder with no departments.yml entry
    line: int | None = None  # where its entry starts in departments.yml


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str


@dataclass(frozen=True)
class Section:
    """A stretch of an article under one heading: what search indexes and links to.

    ``anchor`` is the id of the heading on the rendered page ("" for the text
    before the first heading); ``path`` is the chain of headings above it.
    """

    anchor: str
    path: tuple[str, ...]
    text: str
    level: int = 0


@dataclass(frozen=True)
class Link:
    """A link from an article to something that looks like another article."""

    target: str  # as written
    line: int | None
    resolved: str | None  # article path it points to, if found
    anchor: str | None
    explicit_md: bool  # written as a path to a .md file (so a miss is surely broken)


@dataclass(frozen=True)
class GitInfo:
    commit: str
    date: datetime
    author: str
    email: str


@dataclass
class Article:
    path: str  # relative to the articles dir, posix, e.g. "benefits/parental-leave.md"
    slug: str  # URL path, e.g. "benefits/parental-leave"
    title: str
    department: str
    lang: str
    body: str  # Markdown with template tags removed
    html: str = ""
    summary: str = ""
    owners: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    translation_of: str | None = None
    last_reviewed: date | None = None
    review_every: int | None = None
    related: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headings: list[Heading] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    content_hash: str = ""
    modified: datetime | None = None  # file time, or the git commit time when known
    git: GitInfo | None = None
    field_lines: dict[str, int] = field(default_factory=dict)
    body_line: int = 1  # file line where the body starts
    #: (key, file line) where an unquoted " #" cut a front-matter value (YAML read the rest as a comment).
    comment_cuts: tuple[tuple[str, int], ...] = ()

    def review_due(self, default_days: int) -> date | None:
        if self.last_reviewed is None:
            return None
        from datetime import timedelta

        return self.last_reviewed + timedelta(days=self.review_every or default_days)

    def review_overdue(self, today: date, default_days: int) -> bool:
        due = self.review_due(default_days)
        return due is not None and due < today
