"""Front-matter values: what each key may hold, and how a bad one is reported.

``ARTICLE_FIELDS`` is the table behind ``parse_article``: a new front-matter
field is one line here (and one attribute on ``Article``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadValueError(ValueError):
    """A front-matter value of the wrong kind."""


def str_list(value: Any) -> list[str]:
    """A list of text values; a string is split at commas ("a, b"); None is empty."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    raise BadValueError


def text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadValueError
    return str(value).strip()


def iso_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise BadValueError


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise BadValueError
    return value.strip()


def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadValueError
    return value


def article_path(value: Any) -> str:
    if not isinstance(value, str):
        raise BadValueError
    return value.strip().lstrip("/")


@dataclass(frozen=True)
class FieldSpec:
    """One front-matter key: how to read it, and what to say when it is wrong.

    ``message`` may use ``{value!r}``. A bad value is reported and the field
    takes ``default``; ``also`` lists keys read when this one is absent.
    """

    key: str
    parse: Callable[[Any], Any]
    code: str
    message: str
    default: Any = None
    severity: str = "error"
    also: tuple[str, ...] = ()
    quiet: bool = False  # a bad value is dropped without a problem (keys from other generators)


ARTICLE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("title", text, "bad-title", "title must be text", ""),
    FieldSpec("summary", text, "bad-summary", "summary should be one line of text", "", "warning", ("description",)),
    FieldSpec("department", string, "bad-department", "department must be a department id", ""),
    FieldSpec("owners", str_list, "bad-owners", "owners must be a list of text values", []),
    FieldSpec("tags", str_list, "bad-tags", "tags must be a list of text values", []),
    FieldSpec("aliases", str_list, "bad-aliases", "aliases must be a list of text values", []),
    FieldSpec("keywords", str_list, "bad-keywords", "", [], quiet=True),
    FieldSpec("lang", string, "bad-lang", "lang must be a language code such as en, ja, ko or zh", ""),
    FieldSpec("translation_of", article_path, "bad-translation-of",
              "translation_of must be the path of the original article", ""),
    FieldSpec("last_reviewed", iso_date, "bad-date",
              "last_reviewed {value!r} is not a date; write it as YYYY-MM-DD"),
    FieldSpec("review_every", positive_int, "bad-review-every", "review_every must be a number of days, not {value!r}"),
    FieldSpec("related", str_list, "bad-related", "related must be a list of text values", []),
)
KNOWN_KEYS = {k for f in ARTICLE_FIELDS for k in (f.key, *f.also)}

#: (key, severity, code, message, line)
Report = Callable[[str, str, str, str], None]


def mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadValueError
    return value


def read_fields(meta: dict[str, Any], specs: tuple[FieldSpec, ...], report: Report, **context: Any) -> dict[str, Any]:
    """Each spec's value from ``meta``; bad values reported through ``report`` and defaulted.

    ``context`` fills the messages' other placeholders (a department's ``{id}``).
    """
    out: dict[str, Any] = {}
    for spec in specs:
        key = next((k for k in (spec.key, *spec.also) if meta.get(k) not in (None, "")), spec.key)
        value = meta.get(key)
        if value in (None, ""):
            out[spec.key] = spec.default
            continue
        try:
            out[spec.key] = spec.parse(value)
        except BadValueError:
            if not spec.quiet:
                report(key, spec.severity, spec.code, spec.message.format(value=value, **context))
            out[spec.key] = spec.default
    return out
